package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/bench/local"
)

func (a *app) compareCmd() *cobra.Command {
	var cfg local.CompareConfig
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Run every workload against Carrier and NATS JetStream side by side",
		Long: `Start a 3-node Carrier cluster (--carrier) and two 3-node nats-server
JetStream clusters on loopback (nats-always: sync_interval always, fsync before
ack like Carrier; nats-default: the server's periodic fsync; nats-server is
installed with "go install" into the user cache dir on first use). Then run
workloads 1-5 (publish, latency, e2e, consume, fanout) against each, the
systems' order rotating every round, and print per metric the median over the
rounds per system, the ratios Carrier/peer, CPU-seconds of the servers per
million messages, peak RSS, and the goals of issue 5 met or not.
Progress lines go to stderr.`,
		Example: `  carrier-bench compare
  carrier-bench compare --quick
  carrier-bench compare --rounds 5 --json > compare.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.compare(cmd.Context(), cfg, asJSON) },
	}
	fl := cmd.Flags()
	fl.IntVar(&cfg.Rounds, "rounds", 0, "rounds, systems alternating, medians over them (default 3; quick 1)")
	fl.BoolVar(&cfg.Quick, "quick", false, "a seconds-long smoke run with tiny workloads")
	fl.Float64Var(&cfg.E2E.Peak, "peak", 0, "msgs/s the e2e loads are fractions of (default: the lowest measured publish throughput)")
	fl.DurationVar(&cfg.Publish.Duration, "duration", 0, "publish, e2e (per load) and fanout duration (default 10s; quick 1s)")
	fl.IntVar(&cfg.Consume.Messages, "consume-messages", 0, "backlog the consume workload drains (default 20000; quick 500)")
	fl.IntVar(&cfg.IdleConns, "idle-conns", 0, "idle WebSocket connections for the memory reading (default 1000; quick 20)")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func (a *app) compare(ctx context.Context, cfg local.CompareConfig, asJSON bool) error {
	bin, err := a.carrierBin(ctx)
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	cfg.Bin, cfg.Progress = bin, a.stderr
	cfg.E2E.Duration, cfg.Fanout.Duration = cfg.Publish.Duration, cfg.Publish.Duration
	res, err := local.Compare(ctx, cfg)
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	if asJSON {
		return writeJSON(a.stdout, res)
	}
	return res.WriteTable(a.stdout)
}
