package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"syscall"
	"time"

	"github.com/carriermq/carrier/bench"
)

// Systems compared, in display order. A peer's "-best" column is the same
// cluster driven the way its own documentation recommends for throughput
// (NATSBest); the plain column is driven like Carrier (matched).
const (
	SysCarrier         = "carrier"
	SysNATSAlways      = "nats-always"
	SysNATSAlwaysBest  = "nats-always-best"
	SysNATSDefault     = "nats-default"
	SysNATSDefaultBest = "nats-default-best"
)

// systemOrder is the display order of the columns.
var systemOrder = []string{SysCarrier, SysNATSAlways, SysNATSAlwaysBest, SysNATSDefault, SysNATSDefaultBest}

// CompareConfig sets up "carrier-bench compare". Zero workload fields take
// the workloads' defaults (the goals' settings), or the quick ones.
type CompareConfig struct {
	Bin       string        // the carrier binary for the Carrier nodes
	Rounds    int           // rounds, systems alternating (default 3; quick: 1)
	Quick     bool          // a seconds-long smoke: tiny workloads
	IdleConns int           // idle WebSocket connections for the memory reading (default 1000; quick: 20)
	Systems   []string      // clusters to run (default: carrier, nats-always, nats-default)
	Warmup    time.Duration // untimed publishing on each fresh cluster before it is measured (default 3s; quick: 200ms)
	Publish   bench.PublishConfig
	Latency   bench.LatencyConfig // Via is set by compare: both leader and follower
	E2E       bench.E2EConfig     // Peak 0: the lowest publish throughput of a calibration pass
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
		cfg.Warmup = orInt(cfg.Warmup, 200*time.Millisecond)
	}
	cfg.Rounds = orInt(cfg.Rounds, 3)
	cfg.Warmup = orInt(cfg.Warmup, 3*time.Second)
	cfg.IdleConns = orInt(cfg.IdleConns, 1000)
	if len(cfg.Systems) == 0 {
		cfg.Systems = []string{SysCarrier, SysNATSAlways, SysNATSDefault}
	}
	for _, p := range []*io.Writer{&cfg.Publish.Progress, &cfg.Latency.Progress, &cfg.E2E.Progress,
		&cfg.Consume.Progress, &cfg.Fanout.Progress} {
		*p = cfg.Progress
	}
	return cfg
}

// CheckSystems returns an error for a name that is not a cluster compare
// can start (CompareConfig.Systems).
func CheckSystems(names []string) error {
	for _, n := range names {
		if n != SysCarrier && n != SysNATSAlways && n != SysNATSDefault {
			return fmt.Errorf("unknown system %q (carrier, nats-always, nats-default)", n)
		}
	}
	return nil
}

// Sample is one workload's figures for one system in one round.
type Sample struct {
	Round    int                `json:"round"`
	System   string             `json:"system"`
	Workload string             `json:"workload"`
	Values   map[string]float64 `json:"values"`
	Result   any                `json:"result"` // the workload's own result (bench.PublishResult, …)
}

// comparison is a running compare: the configuration and what was measured.
type comparison struct {
	cfg     CompareConfig
	samples []Sample
}

// Compare measures Carrier and JetStream (sync_interval always and its
// default) one system at a time: per round, each system in turn (the order
// rotating from round to round) gets a fresh 3-node cluster, runs every
// workload, and is stopped before the next one starts, so that no system
// runs beside another's idle cluster, heap or unwritten pages. A peer also
// runs the workloads whose drive differs at its best (NATSBest). Unless
// cfg.E2E.Peak is set, a calibration pass first measures every system's
// publish throughput on its own fresh cluster: the e2e loads are fractions
// of the lowest. It returns medians, ratios and the goals. Every process it
// started is stopped before it returns.
func Compare(ctx context.Context, cfg CompareConfig) (CompareResult, error) {
	cfg = cfg.withDefaults()
	if err := CheckSystems(cfg.Systems); err != nil {
		return CompareResult{}, err
	}
	c := &comparison{cfg: cfg}
	if c.cfg.E2E.Peak <= 0 {
		if err := c.calibrate(ctx); err != nil {
			return CompareResult{}, fmt.Errorf("calibration: %w", err)
		}
	}
	for r := range cfg.Rounds {
		if err := c.round(ctx, r); err != nil {
			return CompareResult{}, fmt.Errorf("round %d: %w", r+1, err)
		}
	}
	if len(c.samples) == 0 {
		return CompareResult{}, errors.New("compare: nothing measured")
	}
	return summarize(cfg.Rounds, c.cfg.E2E.Peak, c.samples), nil
}

// startSystem starts a fresh 3-node cluster of the named system.
func (c *comparison) startSystem(ctx context.Context, name string) (bench.Target, error) {
	c.logf("starting a fresh 3-node %s cluster", name)
	if name == SysCarrier {
		return StartCarrier(ctx, c.cfg.Bin, "")
	}
	return StartNATSTarget(ctx, "", name == SysNATSAlways, NATSMatched)
}

// calibrate measures each system's publish throughput on a cluster of its
// own and sets the e2e peak to the lowest, so that every system gets the
// same absolute e2e rates and none is driven past its peak.
func (c *comparison) calibrate(ctx context.Context) error {
	low := 0.0
	for _, name := range c.cfg.Systems {
		settle()
		t, err := c.startSystem(ctx, name)
		if err != nil {
			return err
		}
		r, err := c.calibrateOn(ctx, t)
		_ = t.Close()
		if err != nil {
			return err
		}
		if low == 0 || r.MsgsPerSec < low {
			low = r.MsgsPerSec
		}
	}
	c.cfg.E2E.Peak = low
	c.logf("e2e loads are fractions of %.0f msgs/s (the lowest calibration throughput)", low)
	return nil
}

func (c *comparison) calibrateOn(ctx context.Context, t bench.Target) (bench.PublishResult, error) {
	if err := c.warmup(ctx, t); err != nil {
		return bench.PublishResult{}, err
	}
	c.logf("calibration: publish on %s", t.Name())
	return bench.RunPublish(ctx, t, c.cfg.Publish)
}

// warmup publishes for cfg.Warmup (4 publishers, window 256) to a stream of
// its own, untimed and not recorded: the first publishes on a fresh cluster
// were slower in the audit (heaps growing, first files), and every system
// is measured warm.
func (c *comparison) warmup(ctx context.Context, t bench.Target) error {
	c.logf("warm-up: %v of publishing on %s, not measured", c.cfg.Warmup, t.Name())
	_, err := bench.RunPublish(ctx, t, bench.PublishConfig{Duration: c.cfg.Warmup, Stream: "bench-warmup"})
	return err
}

// settle flushes the page cache's dirty data to disk (sync(2)) so that the
// next system does not pay for the writeback of the one before.
func settle() { syscall.Sync() }

func (c *comparison) logf(format string, args ...any) {
	if c.cfg.Progress != nil {
		fmt.Fprintf(c.cfg.Progress, format+"\n", args...)
	}
}

// workload runs one workload on t and returns its figures and the number
// of messages it moved (for CPU per million); prepare runs before the CPU
// reading starts. best says whether a peer also runs it driven at its best.
type workload struct {
	name    string
	best    bool
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

// round runs one session per system, the systems in an order rotated by r.
func (c *comparison) round(ctx context.Context, r int) error {
	order := slices.Clone(c.cfg.Systems)
	for range r % len(order) {
		order = append(order[1:], order[0])
	}
	for _, name := range order {
		if err := c.session(ctx, r, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// session starts a fresh cluster of the named system, reads its idle
// memory, warms it up, runs every workload (a peer's best drive beside the
// matched one), reads its peak memory and stops it.
func (c *comparison) session(ctx context.Context, r int, name string) error {
	settle()
	t, err := c.startSystem(ctx, name)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := c.idleMemory(ctx, r, t); err != nil {
		return err
	}
	if err := c.warmup(ctx, t); err != nil {
		return err
	}
	for _, w := range c.workloads() {
		if err := c.measureDrives(ctx, r, w, t, name); err != nil {
			return err
		}
	}
	_, peak, err := maxMemory(t.PIDs())
	if err != nil {
		return err
	}
	c.add(r, name, "memory", map[string]float64{"peak_rss_mib": float64(peak) / (1 << 20)}, nil)
	return nil
}

// measureDrives runs w on t; on a JetStream cluster, for a workload marked
// best, also driven at its best, the two in an order that alternates from
// round to round (neither always runs on the colder cluster).
func (c *comparison) measureDrives(ctx context.Context, r int, w workload, t bench.Target, name string) error {
	nt, ok := t.(*NATSTarget)
	if !ok || !w.best {
		return c.measure(ctx, r, w, t, name)
	}
	runs := []func() error{
		func() error { return c.measure(ctx, r, w, t, name) },
		func() error { return c.measure(ctx, r, w, nt.WithDrive(NATSBest), name+"-best") },
	}
	if r%2 == 1 {
		runs[0], runs[1] = runs[1], runs[0]
	}
	for _, run := range runs {
		if err := run(); err != nil {
			return err
		}
	}
	return nil
}

// idleMemory records the largest node's VmRSS of the fresh cluster and, on
// Carrier, the memory of idle connections to one of its nodes (a fresh
// node: on a node that has run the workloads the Go heap already holds free
// pages that new connections reuse, and the RSS delta would understate
// their cost).
func (c *comparison) idleMemory(ctx context.Context, r int, t bench.Target) error {
	rss, _, err := maxMemory(t.PIDs())
	if err != nil {
		return err
	}
	v := map[string]float64{"idle_node_rss_mib": float64(rss) / (1 << 20)}
	var res any
	if ct, ok := t.(*Carrier); ok {
		c.logf("idle connections: %d to one Carrier node", c.cfg.IdleConns)
		m, err := IdleConnMemory(ctx, ct, c.cfg.IdleConns)
		if err != nil {
			return err
		}
		v["idle_conn_kib"], res = m.KiBPerConn, m
	}
	c.add(r, t.Name(), "idle", v, res)
	return nil
}

func (c *comparison) add(r int, system, workload string, v map[string]float64, res any) {
	c.samples = append(c.samples, Sample{Round: r + 1, System: system, Workload: workload, Values: v, Result: res})
}

// measure runs w on t between two CPU readings of t's servers; the sample
// is recorded under system.
func (c *comparison) measure(ctx context.Context, r int, w workload, t bench.Target, system string) error {
	c.logf("round %d/%d: %s on %s", r+1, c.cfg.Rounds, w.name, system)
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
	c.add(r, system, w.name, out.values, out.result)
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
