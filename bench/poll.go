package bench

import (
	"context"
	"fmt"
	"time"
)

// poll calls fn every interval until it returns nil or ctx ends; it then
// returns fn's last error, wrapped with ctx's.
func poll(ctx context.Context, interval time.Duration, fn func() error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}
