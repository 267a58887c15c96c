package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/bench"
)

func (a *app) benchFanoutCmd() *cobra.Command {
	var asJSON bool
	var target string
	var idle int
	cfg := bench.FanoutConfig{}
	cmd := a.workloadCmd("fanout", "Measure fan-out to K tail subscribers, and memory per idle connection",
		`One publisher (window 256) for the duration, K tail subscribers (Carrier:
WebSocket tails; JetStream: ordered consumers) spread over the nodes; prints
deliveries per second. On Carrier it first opens --idle-conns idle WebSocket
connections to one fresh node and prints its resident memory per connection
((VmRSS after - VmRSS before) / K) and the idle node's VmRSS.`, &asJSON, &target,
		func(ctx context.Context, t bench.Target) (any, func(), error) {
			out := struct {
				bench.FanoutResult
				Memory *bench.ConnMemory `json:"idleConnections,omitempty"`
			}{}
			if ct, ok := t.(*bench.CarrierTarget); ok && idle > 0 {
				m, err := bench.IdleConnMemory(ctx, ct, idle)
				if err != nil {
					return nil, nil, err
				}
				out.Memory = &m
			}
			cfg.Progress = a.stderr
			r, err := bench.RunFanout(ctx, t, cfg)
			out.FanoutResult = r
			return out, func() {
				fmt.Fprintf(a.stdout, "%s: 1 publisher, %d tails: %d published, %d deliveries, %.0f deliveries/s\n",
					r.Target, r.Subscribers, r.Published, r.Deliveries, r.DeliveriesPerSec)
				if m := out.Memory; m != nil {
					fmt.Fprintf(a.stdout, "idle node VmRSS %.1f MiB; %d idle WebSocket connections: %.1f KiB each\n",
						m.NodeRSSBefore, m.Conns, m.KiBPerConn)
				}
			}, err
		})
	fl := cmd.Flags()
	cmd.Example = `  carrier bench fanout --target carrier --subscribers 16 --idle-conns 1000
  carrier bench fanout --target nats-always --subscribers 64`
	fl.IntVar(&cfg.Subscribers, "subscribers", 16, "tail subscribers K, one connection each")
	fl.IntVar(&cfg.Size, "size", 1024, "payload bytes")
	fl.DurationVar(&cfg.Duration, "duration", 10*time.Second, "publishing time")
	fl.IntVar(&idle, "idle-conns", 1000, "idle connections for the memory reading (Carrier only; 0: skip)")
	return cmd
}

type compareFlags struct {
	cfg  bench.CompareConfig
	json bool
}

func (a *app) benchCompareCmd() *cobra.Command {
	f := &compareFlags{}
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Run every workload against Carrier and NATS JetStream side by side",
		Long: `Start a 3-node Carrier cluster (this binary) and two 3-node nats-server
JetStream clusters on loopback (nats-always: sync_interval always, fsync before
ack like Carrier; nats-default: the server's periodic fsync; nats-server is
installed with "go install" into the user cache dir on first use). Then run
workloads 1-5 (publish, latency, e2e, consume, fanout) against each, the
systems' order rotating every round, and print per metric the median over the
rounds per system, the ratios Carrier/peer, CPU-seconds of the servers per
million messages, peak RSS, and the goals of issue 5 met or not.
Progress lines go to stderr.`,
		Example: `  carrier bench compare
  carrier bench compare --quick
  carrier bench compare --rounds 5 --json > compare.json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.benchCompare(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.IntVar(&f.cfg.Rounds, "rounds", 0, "rounds, systems alternating, medians over them (default 3; quick 1)")
	fl.BoolVar(&f.cfg.Quick, "quick", false, "a seconds-long smoke run with tiny workloads")
	fl.Float64Var(&f.cfg.E2E.Peak, "peak", 0, "msgs/s the e2e loads are fractions of (default: the lowest measured publish throughput)")
	fl.DurationVar(&f.cfg.Publish.Duration, "duration", 0, "publish, e2e (per load) and fanout duration (default 10s; quick 1s)")
	fl.IntVar(&f.cfg.Consume.Messages, "consume-messages", 0, "backlog the consume workload drains (default 20000; quick 500)")
	fl.IntVar(&f.cfg.IdleConns, "idle-conns", 0, "idle WebSocket connections for the memory reading (default 1000; quick 20)")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON")
	return cmd
}

func (a *app) benchCompare(ctx context.Context, f *compareFlags) error {
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the carrier binary: %w", err)
	}
	cfg := f.cfg
	cfg.Bin, cfg.Progress = bin, a.stderr
	cfg.E2E.Duration, cfg.Fanout.Duration = cfg.Publish.Duration, cfg.Publish.Duration
	res, err := bench.Compare(ctx, cfg)
	if err != nil {
		return fmt.Errorf("bench compare: %w", err)
	}
	if f.json {
		return writeJSON(a.stdout, res)
	}
	return res.WriteTable(a.stdout)
}
