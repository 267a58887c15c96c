package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/bench"
)

// workloadCmd is the common shape of the workload commands: start the
// --target cluster, run, print JSON or a table, stop the cluster.
func (a *app) workloadCmd(use, short, long string, asJSON *bool, target *string,
	run func(ctx context.Context, t bench.Target) (any, func(), error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := startTarget(cmd.Context(), *target)
			if err != nil {
				return fmt.Errorf("bench %s: %w", use, err)
			}
			defer t.Close()
			res, table, err := run(cmd.Context(), t)
			if err != nil {
				return fmt.Errorf("bench %s: %w", use, err)
			}
			if *asJSON {
				return writeJSON(a.stdout, res)
			}
			table()
			return nil
		},
	}
	cmd.Flags().StringVar(target, "target", "carrier", "carrier, nats-always or nats-default")
	cmd.Flags().BoolVar(asJSON, "json", false, "print the result as JSON (progress goes to stderr)")
	return cmd
}

func (a *app) benchLatencyCmd() *cobra.Command {
	var asJSON bool
	var target string
	cfg := bench.LatencyConfig{}
	cmd := a.workloadCmd("latency", "Measure publish latency with one publish in flight",
		`One publisher, one publish in flight: each of N publishes is timed from the
call to its confirmation (HDR histogram); prints p50, p99, p99.9 and max.`, &asJSON, &target,
		func(ctx context.Context, t bench.Target) (any, func(), error) {
			cfg.Progress = a.stderr
			r, err := bench.RunLatency(ctx, t, cfg)
			return r, func() {
				fmt.Fprintf(a.stdout, "%s: %d publishes of %d B, 1 in flight: %s\n", r.Target, r.Count, r.Size, latencyText(r.Latency))
			}, err
		})
	cmd.Example = `  carrier bench latency --target carrier --count 5000
  carrier bench latency --target nats-always --json`
	cmd.Flags().IntVar(&cfg.Count, "count", 5000, "measured publishes")
	cmd.Flags().IntVar(&cfg.Size, "size", 1024, "payload bytes")
	return cmd
}

func latencyText(l bench.Latency) string {
	return fmt.Sprintf("p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms", l.P50Ms, l.P99Ms, l.P999Ms, l.MaxMs)
}

func (a *app) benchE2ECmd() *cobra.Command {
	var asJSON bool
	var target string
	cfg := bench.E2EConfig{}
	cmd := a.workloadCmd("e2e", "Measure end-to-end latency, publish to delivery, at fixed open-loop rates",
		`Open-loop publishing at 25/50/75 % of a peak throughput (--peak, or measured
first with a 5 s publish run), delivered to a tail subscriber; latency from each
message's intended send time (no coordinated omission), HDR histogram.`, &asJSON, &target,
		func(ctx context.Context, t bench.Target) (any, func(), error) {
			if cfg.Peak <= 0 {
				p, err := bench.RunPublish(ctx, t, bench.PublishConfig{Duration: 5 * time.Second, Size: cfg.Size, Progress: a.stderr})
				if err != nil {
					return nil, nil, err
				}
				cfg.Peak = p.MsgsPerSec
			}
			cfg.Progress = a.stderr
			r, err := bench.RunE2E(ctx, t, cfg)
			return r, func() {
				for _, run := range r.Runs {
					fmt.Fprintf(a.stdout, "%s: %d%% of %.0f = %.0f msgs/s, %d sent, %d delivered: %s\n",
						r.Target, run.LoadPct, r.Peak, run.Rate, run.Sent, run.Received, latencyText(run.Latency))
				}
			}, err
		})
	fl := cmd.Flags()
	cmd.Example = `  carrier bench e2e --target carrier --peak 20000
  carrier bench e2e --target nats-always --loads 50 --duration 30s`
	fl.Float64Var(&cfg.Peak, "peak", 0, "msgs/s the loads are fractions of (default: measured)")
	fl.IntSliceVar(&cfg.Loads, "loads", []int{25, 50, 75}, "percent of the peak")
	fl.IntVar(&cfg.Size, "size", 1024, "payload bytes")
	fl.DurationVar(&cfg.Duration, "duration", 10*time.Second, "per load")
	return cmd
}

func (a *app) benchConsumeCmd() *cobra.Command {
	var asJSON bool
	var target string
	cfg := bench.ConsumeConfig{}
	cmd := a.workloadCmd("consume", "Measure consume-and-ack throughput of a group draining a backlog",
		`Preload M messages, then C members of one group (JetStream: one durable
pull consumer, explicit acks) receive and ack each one, waiting for the
server's confirmation of the ack; prints acked messages per second.`, &asJSON, &target,
		func(ctx context.Context, t bench.Target) (any, func(), error) {
			cfg.Progress = a.stderr
			r, err := bench.RunConsume(ctx, t, cfg)
			return r, func() {
				fmt.Fprintf(a.stdout, "%s: %d members drained %d messages of %d B: %.0f msgs/s (%.2f s)\n",
					r.Target, r.Consumers, r.Acked, r.Size, r.MsgsPerSec, r.ElapsedSec)
			}, err
		})
	fl := cmd.Flags()
	cmd.Example = `  carrier bench consume --target carrier --messages 20000 --consumers 4
  carrier bench consume --target nats-always --json`
	fl.IntVar(&cfg.Messages, "messages", 20000, "backlog to drain")
	fl.IntVar(&cfg.Consumers, "consumers", 4, "group members, one connection each")
	fl.IntVar(&cfg.Size, "size", 1024, "payload bytes")
	return cmd
}
