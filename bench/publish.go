package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// PublishConfig is workload 1: durable publish throughput.
type PublishConfig struct {
	Publishers int           // concurrent publishers, one connection each (default 4)
	Window     int           // unconfirmed publishes per publisher (default 256)
	Size       int           // payload bytes (default 1024)
	Duration   time.Duration // measured time (default 10s)
	Stream     string        // stream/queue name (default "bench-publish")
	Progress   io.Writer     // a progress line about once a second (nil: none)
}

// PublishResult is what workload 1 measured: confirmed messages over the
// measured time (from the first send to the last confirmation).
type PublishResult struct {
	Target     string        `json:"target"`
	Publishers int           `json:"publishers"`
	Window     int           `json:"window"`
	Size       int           `json:"size"`
	Confirmed  int64         `json:"confirmed"`
	Elapsed    time.Duration `json:"-"`
	ElapsedSec float64       `json:"elapsedSeconds"`
	MsgsPerSec float64       `json:"msgsPerSec"`
	MBPerSec   float64       `json:"mbPerSec"`
	// GroupCommit is set for Carrier: commands per Raft entry and per fsync
	// over the run, from the nodes' /metrics.
	GroupCommit *GroupCommitStats `json:"groupCommit,omitempty"`
}

func (cfg PublishConfig) withDefaults() PublishConfig {
	cfg.Publishers = orInt(cfg.Publishers, 4)
	cfg.Window = orInt(cfg.Window, 256)
	cfg.Size = orInt(cfg.Size, 1024)
	cfg.Duration = orInt(cfg.Duration, 10*time.Second)
	cfg.Stream = cmp.Or(cfg.Stream, "bench-publish")
	return cfg
}

// RunPublish runs workload 1 against t: cfg.Publishers goroutines, each with
// its own connection, keep cfg.Window publishes in flight for cfg.Duration,
// then wait for the ones still pending. Every publish must be confirmed; the
// first error ends the run and is returned.
func RunPublish(ctx context.Context, t Target, cfg PublishConfig) (PublishResult, error) {
	cfg = cfg.withDefaults()
	if err := t.Prepare(ctx, cfg.Stream); err != nil {
		return PublishResult{}, err
	}
	pubs, err := openPublishers(ctx, t, cfg)
	if err != nil {
		return PublishResult{}, err
	}
	defer closeAll(pubs)
	gc := startGroupCommit(ctx, t)
	var confirmed atomic.Int64
	start := time.Now()
	stopProgress := startProgress(cfg.Progress, func() string {
		return rateLine("publish "+t.Name(), confirmed.Load(), "confirmed", start)
	})
	stop := start.Add(cfg.Duration)
	errs := make([]error, len(pubs))
	var wg sync.WaitGroup
	for i, p := range pubs {
		wg.Go(func() { errs[i] = publishLoop(ctx, p, cfg, stop, &confirmed) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	if err := errors.Join(errs...); err != nil {
		return PublishResult{}, fmt.Errorf("%s: %w", t.Name(), err)
	}
	n := confirmed.Load()
	res := PublishResult{Target: t.Name(), Publishers: cfg.Publishers, Window: cfg.Window, Size: cfg.Size,
		Confirmed: n, Elapsed: elapsed, ElapsedSec: elapsed.Seconds(), MsgsPerSec: float64(n) / elapsed.Seconds(),
		MBPerSec: float64(n) * float64(cfg.Size) / elapsed.Seconds() / 1e6}
	res.GroupCommit, err = gc(ctx, n)
	return res, err
}

// groupCommitReader is a Carrier target (CarrierTarget, or a type that
// embeds it): its nodes count their log appends in GET /metrics.
type groupCommitReader interface {
	ReadGroupCommit(ctx context.Context) (GroupCommit, error)
	NodeURLs() []string
}

// startGroupCommit reads a Carrier target's group-commit counters and
// returns a function that reads them again and returns the stats of the
// interval, in which it is told messages were confirmed; for other targets
// that function returns nil.
func startGroupCommit(ctx context.Context, t Target) func(context.Context, int64) (*GroupCommitStats, error) {
	ct, ok := t.(groupCommitReader)
	if !ok {
		return func(context.Context, int64) (*GroupCommitStats, error) { return nil, nil }
	}
	before, err := ct.ReadGroupCommit(ctx)
	return func(ctx context.Context, messages int64) (*GroupCommitStats, error) {
		if err != nil {
			return nil, err
		}
		after, err := ct.ReadGroupCommit(ctx)
		if err != nil {
			return nil, err
		}
		s := after.since(before, messages, len(ct.NodeURLs()))
		return &s, nil
	}
}

func openPublishers(ctx context.Context, t Target, cfg PublishConfig) ([]Publisher, error) {
	var pubs []Publisher
	for i := range cfg.Publishers {
		p, err := t.NewPublisher(ctx, i, cfg.Stream, cfg.Window)
		if err != nil {
			closeAll(pubs)
			return nil, err
		}
		pubs = append(pubs, p)
	}
	return pubs, nil
}

func closeAll(pubs []Publisher) {
	for _, p := range pubs {
		_ = p.Close()
	}
}

// publishLoop keeps up to cfg.Window publishes in flight until stop, then
// drains; confirmed counts the confirmations.
func publishLoop(ctx context.Context, p Publisher, cfg PublishConfig, stop time.Time, confirmed *atomic.Int64) error {
	ctx, cancel := context.WithDeadline(ctx, stop.Add(time.Minute))
	defer cancel()
	more := func() bool { return time.Now().Before(stop) }
	return publishWindowed(ctx, p, makePayload(cfg.Size), cfg.Window, more, func() { confirmed.Add(1) })
}

// publishWindowed publishes payload while more() holds, keeping at most
// window unconfirmed (a FIFO of pendings: when full, it waits for the
// oldest), then waits for the rest. done is called once per confirmation.
// Workloads 1 (publish) and 4 (the consume preload) share it.
func publishWindowed(ctx context.Context, p Publisher, payload []byte, window int, more func() bool, done func()) error {
	inflight := make([]Pending, 0, window)
	for more() {
		if len(inflight) == window {
			if err := inflight[0].Wait(ctx); err != nil {
				return err
			}
			done()
			inflight = inflight[1:]
		}
		pd, err := p.Publish(payload)
		if err != nil {
			return err
		}
		inflight = append(inflight, pd)
	}
	for _, pd := range inflight {
		if err := pd.Wait(ctx); err != nil {
			return err
		}
		done()
	}
	return nil
}
