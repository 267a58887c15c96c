package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carriermq/carrier/bench"
	"github.com/carriermq/carrier/protocol"
	clustertest "github.com/carriermq/carrier/test/cluster"
)

// FillConfig is the fill benchmark: one node, one queue filled with
// Messages messages of Size bytes, then read back from the first.
type FillConfig struct {
	Bin        string    // the carrier binary
	Dir        string    // data and logs ("" = a temporary dir, removed on success)
	Messages   int64     // messages to store (default 10,000,000)
	Size       int       // payload bytes (default 1024)
	Publishers int       // concurrent publishers (default 4)
	Window     int       // unconfirmed publishes per publisher (default 256)
	Progress   io.Writer // a line per phase and about every 10 % (nil: none)
}

// FillResult is what the fill measured.
type FillResult struct {
	Messages        int64   `json:"messages"`
	Size            int     `json:"size"`
	PublishSec      float64 `json:"publishSeconds"`
	PublishPerSec   float64 `json:"publishMsgsPerSec"`
	ReadSec         float64 `json:"readSeconds"`
	ReadPerSec      float64 `json:"readMsgsPerSec"`
	RSSEmpty        int64   `json:"rssEmptyBytes"`  // the node with the queue created, before the fill
	RSSFilled       int64   `json:"rssFilledBytes"` // after the fill and the read
	PeakRSS         int64   `json:"peakRssBytes"`
	RSSPerMessage   float64 `json:"rssBytesPerMessage"` // (filled - empty) / messages: what each stored message costs in memory, heap included
	StoreBytes      int64   `json:"storeBytes"`         // the message store's files on disk
	RestartSec      float64 `json:"restartSeconds"`     // SIGTERM, start, until /readyz says ready
	RSSAfterRestart int64   `json:"rssAfterRestartBytes"`
}

const fillQueue = "bench-fill"

func (cfg FillConfig) withDefaults() FillConfig {
	cfg.Messages = cmpOr(cfg.Messages, 10_000_000)
	cfg.Size = cmpOr(cfg.Size, 1024)
	cfg.Publishers = cmpOr(cfg.Publishers, 4)
	cfg.Window = cmpOr(cfg.Window, 256)
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	return cfg
}

func cmpOr[T int | int64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Fill starts one node of cfg.Bin with the disk store and a store budget
// that fits the fill, creates the queue, publishes every message, reads
// them all back in pages from seq 1, and restarts the node. Every process
// it starts is stopped before it returns.
func Fill(ctx context.Context, cfg FillConfig) (FillResult, error) {
	cfg = cfg.withDefaults()
	dir, cleanup, err := workDir(cfg.Dir)
	if err != nil {
		return FillResult{}, err
	}
	budget := cfg.Messages*int64(cfg.Size+64) + 1<<30
	c, err := clustertest.New(clustertest.Options{Bin: cfg.Bin, Dir: dir, Size: 1, LogLevel: "warn",
		ExtraArgs: []string{"--store", "disk", "--max-store-bytes", strconv.FormatInt(budget, 10)}})
	if err != nil {
		cleanup()
		return FillResult{}, err
	}
	res, err := fill(ctx, c, cfg)
	c.Close()
	if err == nil {
		cleanup()
	}
	return res, err
}

func fill(ctx context.Context, c *clustertest.Cluster, cfg FillConfig) (FillResult, error) {
	res := FillResult{Messages: cfg.Messages, Size: cfg.Size}
	n := c.Nodes()[0]
	if err := n.WaitReady(ctx); err != nil {
		return res, fmt.Errorf("fill: %w", err)
	}
	qcfg := protocol.QueueConfig{MaxMessages: cfg.Messages + 1, MaxBytes: cfg.Messages*int64(cfg.Size+16) + 1<<20,
		MaxMessageSize: int64(cfg.Size + 1024)}
	if _, err := n.Admin().CreateQueue(ctx, fillQueue, qcfg); err != nil {
		return res, fmt.Errorf("fill: create queue: %w", err)
	}
	var err error
	if res.RSSEmpty, _, err = nodeMemory(n); err != nil {
		return res, err
	}
	steps := []func(context.Context, *clustertest.Node, FillConfig, *FillResult) error{publishFill, readFill, measureFilled, restartFill}
	for _, step := range steps {
		if err := step(ctx, n, cfg, &res); err != nil {
			return res, fmt.Errorf("fill: %w", err)
		}
	}
	return res, nil
}

func nodeMemory(n *clustertest.Node) (rss, peak int64, err error) {
	pid, ok := pidWithArg(n.DataDir)
	if !ok {
		return 0, 0, fmt.Errorf("fill: no process for %s", n.ID)
	}
	return memory(pid)
}

// publishFill publishes cfg.Messages payloads with cfg.Publishers windows.
func publishFill(ctx context.Context, n *clustertest.Node, cfg FillConfig, res *FillResult) error {
	t := bench.NewCarrierTarget([]string{n.URL()}, nil, nil)
	var sent, confirmed atomic.Int64
	payload := make([]byte, cfg.Size)
	start := time.Now()
	stopProgress := progressEvery(cfg, "published", &confirmed)
	var wg sync.WaitGroup
	errs := make([]error, cfg.Publishers)
	for i := range cfg.Publishers {
		p, err := t.NewPublisher(ctx, i, fillQueue, cfg.Window)
		if err != nil {
			return err
		}
		wg.Go(func() {
			defer p.Close()
			errs[i] = publishSome(ctx, p, payload, cfg.Window, &sent, &confirmed, cfg.Messages)
		})
	}
	wg.Wait()
	stopProgress()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	res.PublishSec = time.Since(start).Seconds()
	res.PublishPerSec = float64(cfg.Messages) / res.PublishSec
	return nil
}

// publishSome publishes while the shared count is below total, keeping at
// most window unconfirmed.
func publishSome(ctx context.Context, p bench.Publisher, payload []byte, window int, sent, confirmed *atomic.Int64, total int64) error {
	var inflight []bench.Pending
	wait := func() error {
		if err := inflight[0].Wait(ctx); err != nil {
			return err
		}
		inflight = inflight[1:]
		confirmed.Add(1)
		return nil
	}
	for sent.Add(1) <= total {
		if len(inflight) == window {
			if err := wait(); err != nil {
				return err
			}
		}
		pd, err := p.Publish(payload)
		if err != nil {
			return err
		}
		inflight = append(inflight, pd)
	}
	for len(inflight) > 0 {
		if err := wait(); err != nil {
			return err
		}
	}
	return nil
}

// progressEvery prints count about every tenth of the fill; the returned
// function stops it.
func progressEvery(cfg FillConfig, what string, count *atomic.Int64) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		next := cfg.Messages / 10
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if v := count.Load(); next > 0 && v >= next {
					fmt.Fprintf(cfg.Progress, "fill: %s %d of %d\n", what, v, cfg.Messages)
					next = (v/(cfg.Messages/10) + 1) * (cfg.Messages / 10)
				}
			}
		}
	}()
	return func() { close(stop); <-done }
}

// readFill reads every message back over HTTP, 1,000 per page, from seq 1.
func readFill(ctx context.Context, n *clustertest.Node, cfg FillConfig, res *FillResult) error {
	var got atomic.Int64
	stopProgress := progressEvery(cfg, "read", &got)
	defer stopProgress()
	start := time.Now()
	for from := uint64(1); got.Load() < cfg.Messages; {
		page, err := n.Admin().Read(ctx, fillQueue, from, 1000)
		if err != nil {
			return fmt.Errorf("read from %d: %w", from, err)
		}
		if len(page.Messages) == 0 {
			return fmt.Errorf("read from %d: no messages after %d of %d", from, got.Load(), cfg.Messages)
		}
		got.Add(int64(len(page.Messages)))
		from = page.Next
	}
	res.ReadSec = time.Since(start).Seconds()
	res.ReadPerSec = float64(cfg.Messages) / res.ReadSec
	return nil
}

// measureFilled reads the node's memory and the store's size on disk.
func measureFilled(_ context.Context, n *clustertest.Node, cfg FillConfig, res *FillResult) error {
	var err error
	if res.RSSFilled, res.PeakRSS, err = nodeMemory(n); err != nil {
		return err
	}
	res.RSSPerMessage = float64(res.RSSFilled-res.RSSEmpty) / float64(cfg.Messages)
	res.StoreBytes, err = dirBytes(filepath.Join(n.DataDir, "raft", "store"))
	return err
}

func dirBytes(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			total += info.Size()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dir, err)
	}
	return total, nil
}

// restartFill stops the node (SIGTERM), starts it on its data and times
// it until ready.
func restartFill(ctx context.Context, n *clustertest.Node, cfg FillConfig, res *FillResult) error {
	fmt.Fprintf(cfg.Progress, "fill: restarting the node\n")
	if err := n.Stop(ctx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	start := time.Now()
	if err := n.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if err := n.WaitReady(ctx); err != nil {
		return fmt.Errorf("ready after restart: %w", err)
	}
	res.RestartSec = time.Since(start).Seconds()
	var err error
	res.RSSAfterRestart, _, err = nodeMemory(n)
	return err
}
