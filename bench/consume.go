package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ConsumeConfig is workload 4: a group drains a backlog with explicit acks.
type ConsumeConfig struct {
	Messages  int       // backlog M (default 20000)
	Consumers int       // group members C, one connection each (default 4)
	Size      int       // payload bytes (default 1024)
	Stream    string    // default "bench-consume"; Carrier gets a fresh queue per run
	Group     string    // default "bench"
	Progress  io.Writer // a progress line about once a second (nil: none)
}

// ConsumeResult is acked messages over the time from opening the members to
// the last ack.
type ConsumeResult struct {
	Target     string  `json:"target"`
	Messages   int     `json:"messages"`
	Consumers  int     `json:"consumers"`
	Size       int     `json:"size"`
	Acked      int64   `json:"acked"`
	ElapsedSec float64 `json:"elapsedSeconds"`
	MsgsPerSec float64 `json:"msgsPerSec"`
}

func (cfg ConsumeConfig) withDefaults() ConsumeConfig {
	cfg.Messages = orInt(cfg.Messages, 20000)
	cfg.Consumers = orInt(cfg.Consumers, 4)
	cfg.Size = orInt(cfg.Size, 1024)
	cfg.Stream = cmp.Or(cfg.Stream, "bench-consume")
	cfg.Group = cmp.Or(cfg.Group, "bench")
	return cfg
}

// consumeRuns and consumeProcess make stream names unique per run: a
// Carrier queue cannot be emptied and recreated like a JetStream stream,
// and a running cluster keeps the queues of earlier "carrier bench" runs.
var (
	consumeRuns    atomic.Int64
	consumeProcess = fmt.Sprintf("%08x", rand.Uint32())
)

// RunConsume runs workload 4 against t: PreloadConsume, then DrainConsume.
func RunConsume(ctx context.Context, t Target, cfg ConsumeConfig) (ConsumeResult, error) {
	cfg, err := PreloadConsume(ctx, t, cfg)
	if err != nil {
		return ConsumeResult{}, err
	}
	return DrainConsume(ctx, t, cfg)
}

// PreloadConsume fills a new stream with cfg.Messages messages (4
// publishers, window 256) and returns cfg naming that stream.
func PreloadConsume(ctx context.Context, t Target, cfg ConsumeConfig) (ConsumeConfig, error) {
	cfg = cfg.withDefaults()
	cfg.Stream = fmt.Sprintf("%s-%s-%d", cfg.Stream, consumeProcess, consumeRuns.Add(1))
	if err := t.Prepare(ctx, cfg.Stream); err != nil {
		return cfg, err
	}
	pcfg := PublishConfig{Publishers: 4, Window: 256, Size: cfg.Size, Stream: cfg.Stream}
	pubs, err := openPublishers(ctx, t, pcfg)
	if err != nil {
		return cfg, err
	}
	defer closeAll(pubs)
	errs := make([]error, len(pubs))
	var wg sync.WaitGroup
	for i, p := range pubs {
		n := cfg.Messages / len(pubs)
		if i < cfg.Messages%len(pubs) {
			n++
		}
		wg.Go(func() { errs[i] = publishN(ctx, p, makePayload(cfg.Size), n, pcfg.Window) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("%s preload: %w", t.Name(), err)
	}
	return cfg, nil
}

// publishN publishes payload n times with at most window unconfirmed.
func publishN(ctx context.Context, p Publisher, payload []byte, n, window int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	sent := 0
	more := func() bool { sent++; return sent <= n }
	return publishWindowed(ctx, p, payload, window, more, func() {})
}

// DrainConsume opens cfg.Consumers members of cfg.Group on the preloaded
// stream, then starts the clock; each member receives and acks (waiting for
// the server) until cfg.Messages benchmark messages are acked in all. The
// time is from the start to the M-th ack: opening the members (connections,
// joining or creating the group) is not timed, nor are the members' exits.
func DrainConsume(ctx context.Context, t Target, cfg ConsumeConfig) (ConsumeResult, error) {
	members, err := openConsumers(ctx, t, cfg)
	if err != nil {
		return ConsumeResult{}, fmt.Errorf("%s consume: %w", t.Name(), err)
	}
	defer func() {
		for _, c := range members {
			_ = c.Close()
		}
	}()
	d := &drain{want: int64(cfg.Messages), size: cfg.Size, start: time.Now()}
	stop := startProgress(cfg.Progress, func() string { return rateLine("consume "+t.Name(), d.acked.Load(), "acked", d.start) })
	defer stop()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, c := range members {
		wg.Go(func() { errs[i] = d.member(dctx, cancel, c) })
	}
	wg.Wait()
	n := d.acked.Load()
	if err := errors.Join(errs...); err != nil || n < d.want {
		return ConsumeResult{}, fmt.Errorf("%s consume: %d of %d acked: %w", t.Name(), n, cfg.Messages, err)
	}
	elapsed := time.Duration(d.last.Load())
	return ConsumeResult{Target: t.Name(), Messages: cfg.Messages, Consumers: cfg.Consumers, Size: cfg.Size,
		Acked: n, ElapsedSec: elapsed.Seconds(), MsgsPerSec: float64(n) / elapsed.Seconds()}, nil
}

// openConsumers opens the members, member i on node i mod 3; on error none
// is left open.
func openConsumers(ctx context.Context, t Target, cfg ConsumeConfig) ([]Consumer, error) {
	var members []Consumer
	for i := range cfg.Consumers {
		c, err := t.NewConsumer(ctx, i, cfg.Stream, cfg.Group)
		if err != nil {
			for _, m := range members {
				_ = m.Close()
			}
			return nil, err
		}
		members = append(members, c)
	}
	return members, nil
}

// drain is the shared state of a group's members draining a backlog.
type drain struct {
	want  int64
	size  int
	start time.Time
	acked atomic.Int64
	last  atomic.Int64 // time.Duration from start to the want-th ack
}

// member acks until the group is done, then cancels ctx for the others
// (blocked in Next). Only errors before that count; an error also stops
// the others.
func (d *drain) member(ctx context.Context, done context.CancelFunc, c Consumer) error {
	defer done() // the group is done, or this member failed: stop the others
	for d.acked.Load() < d.want {
		payload, ack, err := c.Next(ctx)
		if err == nil {
			err = ack(ctx)
		}
		if err != nil {
			if d.acked.Load() >= d.want {
				return nil
			}
			return err
		}
		if len(payload) == d.size && d.acked.Add(1) == d.want {
			d.last.Store(int64(time.Since(d.start)))
			done()
		}
	}
	return nil
}
