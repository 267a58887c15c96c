package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/carriermq/carrier/bench"
)

// Systems compared, in display order.
const (
	SysCarrier     = "carrier"
	SysNATSAlways  = "nats-always"
	SysNATSDefault = "nats-default"
)

// CompareConfig sets up "carrier-bench compare". Zero workload fields take
// the workloads' defaults (the goals' settings), or the quick ones.
type CompareConfig struct {
	Bin       string // the carrier binary for the Carrier nodes
	Rounds    int    // rounds, systems alternating (default 3; quick: 1)
	Quick     bool   // a seconds-long smoke: tiny workloads
	IdleConns int    // idle WebSocket connections for the memory reading (default 1000; quick: 20)
	Publish   bench.PublishConfig
	Latency   bench.LatencyConfig
	E2E       bench.E2EConfig // Peak 0: the lowest median publish throughput of round 1
	Consume   bench.ConsumeConfig
	Fanout    bench.FanoutConfig
	Progress  io.Writer // progress lines (nil: none)
}

func (cfg CompareConfig) withDefaults() CompareConfig {
	if cfg.Quick {
		cfg.Rounds = orInt(cfg.Rounds, 1)
		cfg.IdleConns = orInt(cfg.IdleConns, 20)
		cfg.Publish.Duration = orInt(cfg.Publish.Duration, time.Second)
		cfg.Latency.Count, cfg.Latency.Warmup = orInt(cfg.Latency.Count, 100), orInt(cfg.Latency.Warmup, 5)
		cfg.E2E.Duration = orInt(cfg.E2E.Duration, time.Second)
		cfg.Consume.Messages = orInt(cfg.Consume.Messages, 500)
		cfg.Fanout.Duration = orInt(cfg.Fanout.Duration, time.Second)
		cfg.Fanout.Subscribers = orInt(cfg.Fanout.Subscribers, 4)
	}
	cfg.Rounds = orInt(cfg.Rounds, 3)
	cfg.IdleConns = orInt(cfg.IdleConns, 1000)
	for _, p := range []*io.Writer{&cfg.Publish.Progress, &cfg.Latency.Progress, &cfg.E2E.Progress,
		&cfg.Consume.Progress, &cfg.Fanout.Progress} {
		*p = cfg.Progress
	}
	return cfg
}

// Sample is one workload's figures for one system in one round.
type Sample struct {
	Round    int                `json:"round"`
	System   string             `json:"system"`
	Workload string             `json:"workload"`
	Values   map[string]float64 `json:"values"`
	Result   any                `json:"result"` // the workload's own result (bench.PublishResult, …)
}

// comparison is a running compare: the targets and what was measured.
type comparison struct {
	cfg     CompareConfig
	targets []bench.Target
	samples []Sample
	single  map[string]map[string]float64 // per system: values measured once
}

// Compare starts a 3-node Carrier cluster and two 3-node JetStream clusters
// (nats-always, nats-default), keeps them for all rounds, runs every
// workload against each system with the order of the systems rotating
// from round to round, and returns medians, ratios and the goals of issue
// 5. Every process it started is stopped before it returns.
func Compare(ctx context.Context, cfg CompareConfig) (CompareResult, error) {
	cfg = cfg.withDefaults()
	c := &comparison{cfg: cfg, single: map[string]map[string]float64{}}
	defer c.close()
	if err := c.start(ctx); err != nil {
		return CompareResult{}, err
	}
	for r := range cfg.Rounds {
		if err := c.round(ctx, r); err != nil {
			return CompareResult{}, fmt.Errorf("round %d: %w", r+1, err)
		}
	}
	if err := c.finish(); err != nil {
		return CompareResult{}, err
	}
	return summarize(cfg.Rounds, c.samples, c.single), nil
}

// start starts the three systems, reads each one's idle node RSS and the
// memory of idle connections to a fresh Carrier node.
func (c *comparison) start(ctx context.Context) error {
	c.logf("starting a 3-node Carrier cluster and two 3-node JetStream clusters")
	ct, err := StartCarrier(ctx, c.cfg.Bin, "")
	if err != nil {
		return err
	}
	c.targets = append(c.targets, ct)
	for _, always := range []bool{true, false} {
		nt, err := StartNATSTarget(ctx, "", always)
		if err != nil {
			return err
		}
		c.targets = append(c.targets, nt)
	}
	for _, t := range c.targets {
		rss, _, err := maxMemory(t.PIDs())
		if err != nil {
			return err
		}
		c.single[t.Name()] = map[string]float64{"idle_node_rss_mib": float64(rss) / (1 << 20)}
	}
	// Idle connections go to a fresh node: on a node that has run the
	// workloads, the Go heap already holds free pages that new connections
	// reuse, and the RSS delta would understate their cost.
	c.logf("idle connections: %d to one Carrier node", c.cfg.IdleConns)
	m, err := IdleConnMemory(ctx, ct, c.cfg.IdleConns)
	if err != nil {
		return err
	}
	c.single[SysCarrier]["idle_conn_kib"] = m.KiBPerConn
	return nil
}

func (c *comparison) close() {
	for _, t := range c.targets {
		_ = t.Close()
	}
}

func (c *comparison) logf(format string, args ...any) {
	if c.cfg.Progress != nil {
		fmt.Fprintf(c.cfg.Progress, format+"\n", args...)
	}
}

// workload runs one workload on t and returns its figures and the number
// of messages it moved (for CPU per million); prepare runs before the CPU
// reading starts.
type workload struct {
	name    string
	prepare func(context.Context, bench.Target) (any, error)
	run     func(context.Context, bench.Target, any) (workloadOutput, error)
}

// workloadOutput is one workload run's figures, the number of messages it
// moved (for CPU per million) and its own result.
type workloadOutput struct {
	values map[string]float64
	msgs   int64
	result any
}

// round runs every workload once per system, the systems in an order
// rotated by r.
func (c *comparison) round(ctx context.Context, r int) error {
	order := slices.Clone(c.targets)
	for range r % len(order) {
		order = append(order[1:], order[0])
	}
	for _, w := range c.workloads() {
		if w.name == "e2e" && c.cfg.E2E.Peak <= 0 {
			c.cfg.E2E.Peak = c.lowestPublish()
			c.logf("e2e loads are fractions of %.0f msgs/s (the lowest publish throughput)", c.cfg.E2E.Peak)
		}
		for _, t := range order {
			if err := c.measure(ctx, r, w, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// measure runs w on t between two CPU readings of t's servers.
func (c *comparison) measure(ctx context.Context, r int, w workload, t bench.Target) error {
	c.logf("round %d/%d: %s on %s", r+1, c.cfg.Rounds, w.name, t.Name())
	var arg any
	if w.prepare != nil {
		var err error
		if arg, err = w.prepare(ctx, t); err != nil {
			return err
		}
	}
	cpu0, err := totalCPU(t.PIDs())
	if err != nil {
		return err
	}
	out, err := w.run(ctx, t, arg)
	if err != nil {
		return err
	}
	cpu1, err := totalCPU(t.PIDs())
	if err != nil {
		return err
	}
	if out.msgs > 0 {
		out.values[w.name+"_cpu_s_per_M"] = (cpu1 - cpu0) / float64(out.msgs) * 1e6
	}
	c.samples = append(c.samples, Sample{Round: r + 1, System: t.Name(), Workload: w.name, Values: out.values, Result: out.result})
	return nil
}

// lowestPublish is the lowest median publish throughput over the systems
// measured so far, so that every system gets the same open-loop rates.
func (c *comparison) lowestPublish() float64 {
	med := medians(c.samples)
	low := 0.0
	for _, m := range med {
		if v, ok := m["publish_msgs_per_sec"]; ok && (low == 0 || v < low) {
			low = v
		}
	}
	return low
}

// finish reads every system's peak RSS.
func (c *comparison) finish() error {
	for _, t := range c.targets {
		_, peak, err := maxMemory(t.PIDs())
		if err != nil {
			return err
		}
		c.single[t.Name()]["peak_rss_mib"] = float64(peak) / (1 << 20)
	}
	if len(c.samples) == 0 {
		return errors.New("compare: nothing measured")
	}
	return nil
}

// orInt is v when it is positive, else def (as in package bench: zero
// settings take the default).
func orInt[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
