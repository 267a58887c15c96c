package bench

import (
	"fmt"
	"io"
	"time"
)

// startProgress writes line() and a newline to w about once a second until
// the returned stop is called (stop waits for the printer to end). A nil w
// prints nothing. line runs on the printer's goroutine: it must read only
// what is safe to read concurrently (atomics).
func startProgress(w io.Writer, line func() string) (stop func()) {
	if w == nil {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				fmt.Fprintln(w, line())
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// rateLine is "<what>: n <unit> (r/s)" for a counter started at start.
func rateLine(what string, n int64, unit string, start time.Time) string {
	return fmt.Sprintf("%s: %d %s (%.0f/s)", what, n, unit, float64(n)/time.Since(start).Seconds())
}
