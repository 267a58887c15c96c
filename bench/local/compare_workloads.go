package local

import (
	"context"
	"fmt"

	"github.com/carriermq/carrier/bench"
)

// workloads are workloads 1–5 as a compare session runs them, in order;
// latency runs twice, through the leader and through a follower. best marks
// those a peer also runs at its best: NATSBest changes only the publishes'
// drive (no message id), and only publish's figure depends on it.
func (c *comparison) workloads() []workload {
	return []workload{
		{name: "publish", best: true, run: c.runPublish},
		{name: "latency_leader", run: c.runLatency(bench.ViaLeader)},
		{name: "latency_follower", run: c.runLatency(bench.ViaFollower)},
		{name: "e2e", run: c.runE2E},
		{name: "consume", prepare: c.prepareConsume, run: c.runConsume},
		{name: "fanout", run: c.runFanout},
	}
}

func (c *comparison) runPublish(ctx context.Context, t bench.Target, _ any) (workloadOutput, error) {
	r, err := bench.RunPublish(ctx, t, c.cfg.Publish)
	if err != nil {
		return workloadOutput{}, err
	}
	v := map[string]float64{"publish_msgs_per_sec": r.MsgsPerSec}
	if g := r.GroupCommit; g != nil {
		v["publish_cmds_per_entry"], v["publish_cmds_per_fsync"] = g.CommandsPerEntry, g.CommandsPerAppend
		v["publish_msgs_per_fsync"] = g.MessagesPerAppend
	}
	return workloadOutput{v, r.Confirmed, r}, nil
}

func (c *comparison) runLatency(via string) func(context.Context, bench.Target, any) (workloadOutput, error) {
	return func(ctx context.Context, t bench.Target, _ any) (workloadOutput, error) {
		cfg := c.cfg.Latency
		cfg.Via = via
		r, err := bench.RunLatency(ctx, t, cfg)
		if err != nil {
			return workloadOutput{}, err
		}
		return workloadOutput{latencyValues("latency_"+via, r.Latency), r.Count, r}, nil
	}
}

func latencyValues(prefix string, l bench.Latency) map[string]float64 {
	return map[string]float64{prefix + "_p50_ms": l.P50Ms, prefix + "_p99_ms": l.P99Ms,
		prefix + "_p999_ms": l.P999Ms, prefix + "_max_ms": l.MaxMs}
}

func (c *comparison) runE2E(ctx context.Context, t bench.Target, _ any) (workloadOutput, error) {
	r, err := bench.RunE2E(ctx, t, c.cfg.E2E)
	if err != nil {
		return workloadOutput{}, err
	}
	v := map[string]float64{}
	var sent int64
	for _, run := range r.Runs {
		for k, x := range latencyValues(fmt.Sprintf("e2e_%d", run.LoadPct), run.Latency) {
			v[k] = x
		}
		sent += run.Sent
	}
	return workloadOutput{v, sent, r}, nil
}

func (c *comparison) prepareConsume(ctx context.Context, t bench.Target) (any, error) {
	return bench.PreloadConsume(ctx, t, c.cfg.Consume)
}

func (c *comparison) runConsume(ctx context.Context, t bench.Target, arg any) (workloadOutput, error) {
	r, err := bench.DrainConsume(ctx, t, arg.(bench.ConsumeConfig))
	if err != nil {
		return workloadOutput{}, err
	}
	return workloadOutput{map[string]float64{"consume_msgs_per_sec": r.MsgsPerSec}, r.Acked, r}, nil
}

func (c *comparison) runFanout(ctx context.Context, t bench.Target, _ any) (workloadOutput, error) {
	r, err := bench.RunFanout(ctx, t, c.cfg.Fanout)
	if err != nil {
		return workloadOutput{}, err
	}
	return workloadOutput{map[string]float64{"fanout_deliveries_per_sec": r.DeliveriesPerSec}, r.Deliveries, r}, nil
}
