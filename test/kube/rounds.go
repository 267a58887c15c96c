package kubetest

import (
	"context"
	"testing"
	"time"
)

// RunRounds calls round every interval, in a goroutine of its own, until t
// ends (the context round gets ends then too, and t's cleanup waits for the
// goroutine). A round's error is logged with what and the next round comes
// anyway: the stand-ins this package and the tests run (a provisioner, a
// kubelet) keep going as the parts they stand in for do.
func RunRounds(t testing.TB, what string, interval time.Duration, round func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if err := round(ctx); err != nil && ctx.Err() == nil {
				t.Logf("%s: %v", what, err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}
