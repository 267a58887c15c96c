package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// LatencyConfig is workload 2: publish latency with one publish in flight.
type LatencyConfig struct {
	Count    int       // measured publishes (default 5000)
	Warmup   int       // publishes before measuring, not recorded (default 50)
	Size     int       // payload bytes (default 1024)
	Via      string    // ViaLeader (default) or ViaFollower: the node the publisher connects to
	Stream   string    // default "bench-latency"
	Progress io.Writer // a progress line about once a second (nil: none)
}

// LatencyResult is the distribution of publish → confirmation times.
type LatencyResult struct {
	Target     string  `json:"target"`
	Size       int     `json:"size"`
	Via        string  `json:"via"`  // leader or follower
	Node       int     `json:"node"` // the node the publisher was connected to
	ElapsedSec float64 `json:"elapsedSeconds"`
	Latency
}

func (cfg LatencyConfig) withDefaults() LatencyConfig {
	cfg.Count = orInt(cfg.Count, 5000)
	cfg.Warmup = orInt(cfg.Warmup, 50)
	cfg.Size = orInt(cfg.Size, 1024)
	cfg.Via = cmp.Or(cfg.Via, ViaLeader)
	cfg.Stream = cmp.Or(cfg.Stream, "bench-latency")
	return cfg
}

// orInt is v when it is positive, else def: the defaults of the workloads'
// settings, where zero (or less) means "use the default".
func orInt[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// RunLatency runs workload 2 against t: one publisher connected to the
// stream's leader or to a follower (cfg.Via), one publish in flight,
// cfg.Count measured publishes each timed from the call to its
// confirmation, in an HDR histogram.
func RunLatency(ctx context.Context, t Target, cfg LatencyConfig) (LatencyResult, error) {
	cfg = cfg.withDefaults()
	if err := t.Prepare(ctx, cfg.Stream); err != nil {
		return LatencyResult{}, err
	}
	node, err := nodeVia(ctx, t, cfg.Stream, cfg.Via)
	if err != nil {
		return LatencyResult{}, err
	}
	p, err := t.NewPublisher(ctx, node, cfg.Stream, 1)
	if err != nil {
		return LatencyResult{}, err
	}
	defer p.Close()
	payload := makePayload(cfg.Size)
	for range cfg.Warmup {
		if _, err := publishOne(ctx, p, payload); err != nil {
			return LatencyResult{}, fmt.Errorf("%s warm-up: %w", t.Name(), err)
		}
	}
	h := newHistogram()
	var done atomic.Int64
	start := time.Now()
	stop := startProgress(cfg.Progress, func() string { return rateLine("latency "+t.Name(), done.Load(), "publishes", start) })
	defer stop()
	for range cfg.Count {
		d, err := publishOne(ctx, p, payload)
		if err != nil {
			return LatencyResult{}, fmt.Errorf("%s: %w", t.Name(), err)
		}
		h.record(d)
		done.Add(1)
	}
	// A leader that moved meanwhile would mix both paths in one histogram.
	if again, err := nodeVia(ctx, t, cfg.Stream, cfg.Via); err != nil || again != node {
		return LatencyResult{}, fmt.Errorf("%s: the %s moved during the run (node %d, then %d): %w", t.Name(), cfg.Via, node, again, err)
	}
	return LatencyResult{Target: t.Name(), Size: cfg.Size, Via: cfg.Via, Node: node,
		ElapsedSec: time.Since(start).Seconds(), Latency: h.summary()}, nil
}

// publishOne publishes payload and waits for its confirmation.
func publishOne(ctx context.Context, p Publisher, payload []byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	t0 := time.Now()
	pd, err := p.Publish(payload)
	if err != nil {
		return 0, err
	}
	if err := pd.Wait(ctx); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// makePayload returns size bytes of letters.
func makePayload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}
