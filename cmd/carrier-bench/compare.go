package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/bench/local"
)

func (a *app) compareCmd() *cobra.Command {
	var cfg local.CompareConfig
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Run every workload against Carrier and NATS JetStream, one system at a time",
		Long: `Measure Carrier (--carrier) and nats-server JetStream (nats-always:
sync_interval always, fsync before ack like Carrier; nats-default: the server's
periodic fsync; nats-server is installed with "go install" into the user cache
dir on first use), each a 3-node cluster on loopback, one system at a time:
per round, each system in turn (the order rotating every round) gets a fresh
cluster, runs workloads 1-5 (publish; latency through the leader and through a
follower; e2e; consume; fanout) and is stopped before the next starts. A
JetStream cluster runs publish twice: driven like Carrier (matched: a message
id on every publish, as Carrier's client sends) and as nats.go's documentation
recommends for throughput with the same durability (the -best columns).
Unless --peak is given, a calibration pass first measures each system's
publish throughput on a cluster of its own; the e2e loads are fractions of
the lowest.

It prints per metric the median over the rounds per system, the ratios
Carrier/peer, CPU-seconds of the servers per million messages, idle and peak
RSS, and the goals met or not, each against the fair peer (the -best column
where there is one). Progress lines go to stderr.`,
		Example: `  carrier-bench compare
  carrier-bench compare --quick
  carrier-bench compare --systems nats-always --rounds 1
  carrier-bench compare --rounds 5 --json > compare.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := local.CheckSystems(cfg.Systems); err != nil {
				return usage(cmd, err)
			}
			return a.compare(cmd.Context(), cfg, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&cfg.Systems, "systems", nil, "clusters to run, comma-separated (default carrier,nats-always,nats-default)")
	fl.IntVar(&cfg.Rounds, "rounds", 0, "rounds, systems alternating, medians over them (default 3; quick 1)")
	fl.BoolVar(&cfg.Quick, "quick", false, "a seconds-long smoke run with tiny workloads")
	fl.Float64Var(&cfg.E2E.Peak, "peak", 0, "msgs/s the e2e loads are fractions of (default: the lowest publish throughput of a calibration pass)")
	fl.DurationVar(&cfg.Publish.Duration, "duration", 0, "publish, e2e (per load) and fanout duration (default 10s; quick 1s)")
	fl.IntVar(&cfg.Consume.Messages, "consume-messages", 0, "backlog the consume workload drains (default 20000; quick 500)")
	fl.IntVar(&cfg.IdleConns, "idle-conns", 0, "idle WebSocket connections for the memory reading (default 1000; quick 20)")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func (a *app) compare(ctx context.Context, cfg local.CompareConfig, asJSON bool) error {
	if len(cfg.Systems) == 0 || slices.Contains(cfg.Systems, local.SysCarrier) {
		bin, err := a.carrierBin(ctx)
		if err != nil {
			return fmt.Errorf("compare: %w", err)
		}
		cfg.Bin = bin
	}
	cfg.Progress = a.stderr
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
