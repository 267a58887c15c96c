package bench

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// E2EConfig is workload 3: end-to-end latency, publish → delivery to a
// tail, at fixed open-loop rates.
type E2EConfig struct {
	Peak       float64       // msgs/s the loads are fractions of (required)
	Loads      []int         // percent of Peak (default 25, 50, 75)
	Publishers int           // senders sharing the rate, one connection each (default 4)
	Window     int           // unconfirmed publishes per sender (default 256)
	Size       int           // payload bytes, at least 8 (default 1024)
	Duration   time.Duration // per load (default 10s)
	Stream     string        // prefix; one stream per load (default "bench-e2e")
	Progress   io.Writer     // a progress line about once a second (nil: none)
}

// E2EResult has one run per load.
type E2EResult struct {
	Target string   `json:"target"`
	Peak   float64  `json:"peak"`
	Size   int      `json:"size"`
	Runs   []E2ERun `json:"runs"`
}

// E2ERun is one load: latency from each message's intended send time to its
// delivery to the tail.
type E2ERun struct {
	LoadPct  int     `json:"loadPct"`
	Rate     float64 `json:"rate"` // msgs/s intended
	Sent     int64   `json:"sent"`
	Received int64   `json:"received"`
	Latency
}

func (cfg E2EConfig) withDefaults() E2EConfig {
	if len(cfg.Loads) == 0 {
		cfg.Loads = []int{25, 50, 75}
	}
	cfg.Publishers = orInt(cfg.Publishers, 4)
	cfg.Window = orInt(cfg.Window, 256)
	cfg.Size = max(orInt(cfg.Size, 1024), 8)
	cfg.Duration = orInt(cfg.Duration, 10*time.Second)
	cfg.Stream = cmp.Or(cfg.Stream, "bench-e2e")
	return cfg
}

// RunE2E runs workload 3 against t, one load after the other. Each load has
// its own stream and a tail on node 1 opened before the first send. Send
// times are fixed in advance (message k at start + k/rate, k over all
// senders), and latency is measured from that intended time, so a sender
// held up by a slow system does not hide the wait (coordinated omission).
// Every message sent must be delivered; otherwise the run fails.
func RunE2E(ctx context.Context, t Target, cfg E2EConfig) (E2EResult, error) {
	cfg = cfg.withDefaults()
	if cfg.Peak <= 0 {
		return E2EResult{}, errors.New("e2e: peak throughput must be positive")
	}
	res := E2EResult{Target: t.Name(), Peak: cfg.Peak, Size: cfg.Size}
	for _, pct := range cfg.Loads {
		run, err := runE2ELoad(ctx, t, cfg, pct)
		if err != nil {
			return res, fmt.Errorf("%s e2e at %d%%: %w", t.Name(), pct, err)
		}
		res.Runs = append(res.Runs, run)
	}
	return res, nil
}

// e2eLoad is the shared state of one load's senders and tail.
type e2eLoad struct {
	cfg      E2EConfig
	rate     float64
	start    time.Time
	end      time.Time
	sent     atomic.Int64
	received atomic.Int64
	hist     *histogram // only the tail goroutine records
}

func runE2ELoad(ctx context.Context, t Target, cfg E2EConfig, pct int) (E2ERun, error) {
	stream := fmt.Sprintf("%s-%d", cfg.Stream, pct)
	if err := t.Prepare(ctx, stream); err != nil {
		return E2ERun{}, err
	}
	tail, err := t.NewTail(ctx, 1, stream)
	if err != nil {
		return E2ERun{}, err
	}
	defer tail.Close()
	pubs, err := openPublishers(ctx, t, PublishConfig{Publishers: cfg.Publishers, Window: cfg.Window, Stream: stream})
	if err != nil {
		return E2ERun{}, err
	}
	defer closeAll(pubs)
	l := &e2eLoad{cfg: cfg, rate: cfg.Peak * float64(pct) / 100, hist: newHistogram()}
	l.start = time.Now().Add(50 * time.Millisecond)
	l.end = l.start.Add(cfg.Duration)
	stop := startProgress(cfg.Progress, func() string {
		return fmt.Sprintf("e2e %s %d%% (%.0f/s): %d sent, %d delivered", t.Name(), pct, l.rate, l.sent.Load(), l.received.Load())
	})
	defer stop()
	err = l.run(ctx, pubs, tail)
	return E2ERun{LoadPct: pct, Rate: l.rate, Sent: l.sent.Load(), Received: l.received.Load(), Latency: l.hist.summary()}, err
}

// run starts the tail reader and the senders, waits for the senders, then
// for every sent message to be delivered (up to a minute).
func (l *e2eLoad) run(ctx context.Context, pubs []Publisher, tail Tail) error {
	tctx, cancelTail := context.WithCancel(ctx)
	tailDone := make(chan struct{})
	go func() {
		defer close(tailDone)
		l.readTail(tctx, tail)
	}()
	defer func() {
		cancelTail()
		<-tailDone
	}()
	errs := make([]error, len(pubs))
	var wg sync.WaitGroup
	for i, p := range pubs {
		wg.Go(func() { errs[i] = l.send(ctx, p, i, len(pubs)) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return poll(wctx, 5*time.Millisecond, func() error {
		if r, s := l.received.Load(), l.sent.Load(); r < s {
			return fmt.Errorf("%d of %d messages delivered", r, s)
		}
		return nil
	})
}

// readTail records the latency of every benchmark message until ctx ends.
// Shorter payloads (Carrier's prepare message) are not the benchmark's.
func (l *e2eLoad) readTail(ctx context.Context, tail Tail) {
	for {
		b, err := tail.Next(ctx)
		if err != nil {
			return
		}
		if len(b) != l.cfg.Size {
			continue
		}
		intended := time.Unix(0, int64(binary.BigEndian.Uint64(b)))
		l.hist.record(time.Since(intended))
		l.received.Add(1)
	}
}

// send is sender i of n: it sends messages k = i, i+n, i+2n, … at their
// intended times until the end, with at most Window unconfirmed (a token
// taken before each publish, returned once it is confirmed); a waiter
// goroutine collects the confirmations.
func (l *e2eLoad) send(ctx context.Context, p Publisher, i, n int) error {
	tokens := make(chan struct{}, l.cfg.Window)
	pending := make(chan Pending, l.cfg.Window)
	waitErr := make(chan error, 1)
	go func() { waitErr <- waitAll(ctx, pending, tokens) }()
	err := l.sendLoop(ctx, p, i, n, tokens, pending)
	close(pending)
	return errors.Join(err, <-waitErr)
}

func (l *e2eLoad) sendLoop(ctx context.Context, p Publisher, i, n int, tokens chan struct{}, pending chan<- Pending) error {
	interval := time.Duration(float64(time.Second) / l.rate)
	for k := i; ; k += n {
		at := l.start.Add(time.Duration(k) * interval)
		if !at.Before(l.end) {
			return nil
		}
		if d := time.Until(at); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		tokens <- struct{}{} // blocks while Window publishes are unconfirmed
		payload := makePayload(l.cfg.Size)
		binary.BigEndian.PutUint64(payload, uint64(at.UnixNano()))
		pd, err := p.Publish(payload)
		if err != nil {
			return err
		}
		l.sent.Add(1)
		pending <- pd
	}
}

// waitAll waits for every pending publish until the channel closes,
// returning a token for each.
func waitAll(ctx context.Context, pending <-chan Pending, tokens <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var first error
	for pd := range pending {
		if err := pd.Wait(ctx); err != nil && first == nil {
			first = err
		}
		<-tokens
	}
	return first
}
