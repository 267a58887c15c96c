package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// FanoutConfig is workload 5: one publisher, K tails.
type FanoutConfig struct {
	Subscribers int           // K tails, one connection each, spread over the nodes (default 16)
	Window      int           // the publisher's unconfirmed publishes (default 256)
	Size        int           // payload bytes (default 1024)
	Duration    time.Duration // publishing time (default 10s)
	Stream      string        // default "bench-fanout"
	Progress    io.Writer     // a progress line about once a second (nil: none)
}

// FanoutResult is deliveries (messages × tails) per second, from the first
// publish to the last delivery.
type FanoutResult struct {
	Target           string  `json:"target"`
	Subscribers      int     `json:"subscribers"`
	Size             int     `json:"size"`
	Published        int64   `json:"published"`
	Deliveries       int64   `json:"deliveries"`
	ElapsedSec       float64 `json:"elapsedSeconds"`
	DeliveriesPerSec float64 `json:"deliveriesPerSec"`
}

func (cfg FanoutConfig) withDefaults() FanoutConfig {
	cfg.Subscribers = orInt(cfg.Subscribers, 16)
	cfg.Window = orInt(cfg.Window, 256)
	cfg.Size = orInt(cfg.Size, 1024)
	cfg.Duration = orInt(cfg.Duration, 10*time.Second)
	cfg.Stream = cmp.Or(cfg.Stream, "bench-fanout")
	return cfg
}

// RunFanout runs workload 5's throughput against t: K tails (tail i on node
// i mod 3), then one publisher (node 0) with a window for the duration; it
// waits until every tail has every benchmark message (up to a minute after
// the last confirmation), else the run fails.
func RunFanout(ctx context.Context, t Target, cfg FanoutConfig) (FanoutResult, error) {
	cfg = cfg.withDefaults()
	if err := t.Prepare(ctx, cfg.Stream); err != nil {
		return FanoutResult{}, err
	}
	tails, err := openTails(ctx, t, cfg)
	if err != nil {
		return FanoutResult{}, err
	}
	defer closeTails(tails)
	p, err := t.NewPublisher(ctx, 0, cfg.Stream, cfg.Window)
	if err != nil {
		return FanoutResult{}, err
	}
	defer p.Close()
	var confirmed, delivered atomic.Int64
	tctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, tl := range tails {
		wg.Go(func() { countTail(tctx, tl, cfg.Size, &delivered) })
	}
	defer func() {
		cancel()
		wg.Wait()
	}()
	start := time.Now()
	stop := startProgress(cfg.Progress, func() string {
		return fmt.Sprintf("fanout %s ×%d: %d published; %s", t.Name(), cfg.Subscribers, confirmed.Load(),
			rateLine("delivered", delivered.Load(), "deliveries", start))
	})
	defer stop()
	pcfg := PublishConfig{Window: cfg.Window, Size: cfg.Size}
	if err := publishLoop(ctx, p, pcfg, start.Add(cfg.Duration), &confirmed); err != nil {
		return FanoutResult{}, fmt.Errorf("%s fanout: %w", t.Name(), err)
	}
	want := confirmed.Load() * int64(cfg.Subscribers)
	if err := waitCount(ctx, &delivered, want); err != nil {
		return FanoutResult{}, fmt.Errorf("%s fanout: %w", t.Name(), err)
	}
	elapsed := time.Since(start)
	return FanoutResult{Target: t.Name(), Subscribers: cfg.Subscribers, Size: cfg.Size, Published: confirmed.Load(),
		Deliveries: delivered.Load(), ElapsedSec: elapsed.Seconds(), DeliveriesPerSec: float64(delivered.Load()) / elapsed.Seconds()}, nil
}

func openTails(ctx context.Context, t Target, cfg FanoutConfig) ([]Tail, error) {
	var tails []Tail
	for i := range cfg.Subscribers {
		tl, err := t.NewTail(ctx, i, cfg.Stream)
		if err != nil {
			closeTails(tails)
			return nil, err
		}
		tails = append(tails, tl)
	}
	return tails, nil
}

func closeTails(tails []Tail) {
	for _, tl := range tails {
		_ = tl.Close()
	}
}

// countTail counts the tail's benchmark messages (payloads of size bytes)
// until ctx ends.
func countTail(ctx context.Context, tl Tail, size int, n *atomic.Int64) {
	for {
		b, err := tl.Next(ctx)
		if err != nil {
			return
		}
		if len(b) == size {
			n.Add(1)
		}
	}
}

// waitCount polls until n reaches want, for up to a minute.
func waitCount(ctx context.Context, n *atomic.Int64, want int64) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return poll(ctx, 2*time.Millisecond, func() error {
		if got := n.Load(); got < want {
			return fmt.Errorf("%d of %d deliveries", got, want)
		}
		return nil
	})
}

// ConnMemory is the resident memory idle WebSocket connections cost a
// Carrier node: (RSS after − RSS before) / Conns.
type ConnMemory struct {
	Conns         int     `json:"conns"`
	RSSBefore     int64   `json:"rssBeforeBytes"`
	RSSAfter      int64   `json:"rssAfterBytes"`
	BytesPerConn  float64 `json:"bytesPerConn"`
	KiBPerConn    float64 `json:"kibPerConn"`
	NodeRSSBefore float64 `json:"nodeRssBeforeMiB"`
}
