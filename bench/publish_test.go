package bench

import (
	"context"
	"testing"
	"time"
)

// TestPublishSmoke runs workload 1 for about a second against a 3-node
// Carrier cluster and against nats-server with both sync settings, so the
// drivers keep working; it checks the shape of the result, never its speed.
// The first run installs nats-server into the user cache dir (Go module
// proxy); later runs reuse it.
func TestPublishSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds carrier, installs nats-server and runs 3-node clusters")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := carrierBin
	starts := []struct {
		name  string
		start func() (Target, error)
	}{
		{"carrier", func() (Target, error) { return StartCarrier(ctx, bin, t.TempDir()) }},
		{"nats-always", func() (Target, error) { return StartNATSTarget(ctx, t.TempDir(), true) }},
		{"nats-default", func() (Target, error) { return StartNATSTarget(ctx, t.TempDir(), false) }},
	}
	for _, s := range starts {
		t.Run(s.name, func(t *testing.T) {
			tg, err := s.start()
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			cfg := PublishConfig{Publishers: 2, Window: 16, Size: 128, Duration: time.Second}
			res, err := RunPublish(ctx, tg, cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkPublishResult(t, res, s.name, cfg)
			checkConsume(ctx, t, tg, cfg)
		})
	}
}

func checkPublishResult(t *testing.T, res PublishResult, name string, cfg PublishConfig) {
	t.Helper()
	if res.Target != name || res.Publishers != cfg.Publishers || res.Window != cfg.Window || res.Size != cfg.Size {
		t.Errorf("result %+v does not echo target %s and config %+v", res, name, cfg)
	}
	if res.Confirmed < 1 || res.MsgsPerSec <= 0 || res.Elapsed < cfg.Duration {
		t.Errorf("result %+v: want confirmed messages over at least %v", res, cfg.Duration)
	}
}

// checkConsume reads one published message back through a group member and
// acks it, so the Consumer side of the target works too.
func checkConsume(ctx context.Context, t *testing.T, tg Target, cfg PublishConfig) {
	t.Helper()
	c, err := tg.NewConsumer(ctx, 1, "bench-publish", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for range 2 { // Carrier's queue starts with Prepare's 1-byte message
		payload, ack, err := c.Next(nctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ack(nctx); err != nil {
			t.Fatalf("ack: %v", err)
		}
		if len(payload) == cfg.Size {
			return
		}
	}
	t.Errorf("no %d-byte payload in the first 2 deliveries", cfg.Size)
}
