// Package benchcmd defines the workload commands (publish, latency, e2e,
// consume, fanout) once, for the two binaries that run them: "carrier
// bench", against a Carrier cluster that is already running, and
// "carrier-bench", against clusters it starts itself (Carrier or NATS
// JetStream). Env says where a command's target comes from.
package benchcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/carriermq/carrier/bench"
)

// Env is what the workload commands need from the binary that runs them.
type Env struct {
	// Prog prefixes the commands in examples: "carrier bench" or "carrier-bench".
	Prog string
	// Stdout gets the result (a line per run, or JSON); Stderr progress.
	Stdout, Stderr io.Writer
	// TargetFlags registers the flags that choose the target (--server or
	// --target) on each command.
	TargetFlags func(fs *pflag.FlagSet)
	// TargetHelp ends each command's long help: what it runs against.
	TargetHelp string
	// ExampleTargets are the target flags of each command's two examples
	// ("" for none).
	ExampleTargets [2]string
	// Open returns the target the flags chose; the command closes it.
	Open func(ctx context.Context) (bench.Target, error)
	// Usage marks err as a mistake in how cmd was called (exit status 2).
	Usage func(cmd *cobra.Command, err error) error
	// IdleConns, when not nil, gives fanout its --idle-conns flag: it
	// measures the resident memory of k idle connections to one node of t
	// before the run, or returns nil where it cannot (a peer's target).
	IdleConns func(ctx context.Context, t bench.Target, k int) (*bench.ConnMemory, error)
}

// Commands returns publish, latency, e2e, consume and fanout.
func Commands(env Env) []*cobra.Command {
	return []*cobra.Command{env.publishCmd(), env.latencyCmd(), env.e2eCmd(), env.consumeCmd(), env.fanoutCmd()}
}

// workload is the common shape of the commands: check the flags, open the
// target, run, print JSON or text, close the target.
type workload struct {
	use, short, long string
	examples         [2]string // the flags of each example, after the target's
	// check returns what is wrong with the flags ("" when nothing).
	check func() string
	// run measures; text prints the result for people.
	run func(ctx context.Context, t bench.Target) (result any, text func(), err error)
}

func (env Env) command(w workload) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     w.use,
		Short:   w.short,
		Long:    w.long + "\n\n" + env.TargetHelp,
		Example: env.example(w),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 {
				return env.Usage(cmd, fmt.Errorf("%s takes no arguments (got %d)", cmd.CommandPath(), len(args)))
			}
			if w.check != nil {
				if msg := w.check(); msg != "" {
					return env.Usage(cmd, fmt.Errorf("%s", msg))
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := env.Open(cmd.Context())
			if err != nil {
				return fmt.Errorf("bench %s: %w", w.use, err)
			}
			defer t.Close()
			res, text, err := w.run(cmd.Context(), t)
			if err != nil {
				return fmt.Errorf("bench %s: %w", w.use, err)
			}
			if asJSON {
				return writeJSON(env.Stdout, res)
			}
			text()
			return nil
		},
	}
	env.TargetFlags(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON (progress goes to stderr)")
	return cmd
}

func (env Env) example(w workload) string {
	var lines []string
	for i, flags := range w.examples {
		parts := []string{env.Prog, w.use}
		for _, p := range []string{env.ExampleTargets[i], flags} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		lines = append(lines, "  "+strings.Join(parts, " "))
	}
	return strings.Join(lines, "\n")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (env Env) publishCmd() *cobra.Command {
	cfg := bench.PublishConfig{}
	cmd := env.command(workload{
		use:   "publish",
		short: "Measure durable publish throughput",
		long: `P publishers, each on its own connection with W unconfirmed publishes of S
bytes, for the duration; prints confirmed messages per second and, on
Carrier, messages per log append (fsync) from the nodes' /metrics.`,
		examples: [2]string{"--publishers 4 --window 256 --size 1024 --duration 10s", "--json"},
		check: func() string {
			if cfg.Publishers < 1 || cfg.Window < 1 || cfg.Size < 1 || cfg.Duration <= 0 {
				return "--publishers, --window, --size and --duration must be positive"
			}
			return ""
		},
		run: func(ctx context.Context, t bench.Target) (any, func(), error) {
			cfg.Progress = env.Stderr
			r, err := bench.RunPublish(ctx, t, cfg)
			return r, func() { writePublish(env.Stdout, r) }, err
		},
	})
	fl := cmd.Flags()
	fl.IntVar(&cfg.Publishers, "publishers", 4, "concurrent publishers, one connection each")
	fl.IntVar(&cfg.Window, "window", 256, "unconfirmed publishes per publisher")
	fl.IntVar(&cfg.Size, "size", 1024, "payload bytes")
	fl.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time")
	return cmd
}

func writePublish(w io.Writer, r bench.PublishResult) {
	fmt.Fprintf(w, "%s: %d publishers, window %d, %d B: %.0f msgs/s (%.1f MB/s, %d confirmed in %v)\n",
		r.Target, r.Publishers, r.Window, r.Size, r.MsgsPerSec, r.MBPerSec, r.Confirmed, r.Elapsed.Round(time.Millisecond))
	if g := r.GroupCommit; g != nil {
		fmt.Fprintf(w, "group commit: %.1f messages per log append (fsync); %.2f commands per Raft entry, %.2f per fsync\n",
			g.MessagesPerAppend, g.CommandsPerEntry, g.CommandsPerAppend)
	}
}

func (env Env) latencyCmd() *cobra.Command {
	cfg := bench.LatencyConfig{}
	cmd := env.command(workload{
		use:   "latency",
		short: "Measure publish latency with one publish in flight",
		long: `One publisher, one publish in flight: each of N publishes is timed from the
call to its confirmation (HDR histogram); prints p50, p99, p99.9 and max. The
publisher connects to the node that leads the stream (--via leader) or to a
follower, which forwards the write (--via follower).`,
		examples: [2]string{"--count 5000", "--via follower --json"},
		check: func() string {
			if cfg.Via != bench.ViaLeader && cfg.Via != bench.ViaFollower {
				return "--via must be leader or follower"
			}
			return ""
		},
		run: func(ctx context.Context, t bench.Target) (any, func(), error) {
			cfg.Progress = env.Stderr
			r, err := bench.RunLatency(ctx, t, cfg)
			return r, func() {
				fmt.Fprintf(env.Stdout, "%s: %d publishes of %d B, 1 in flight via the %s (node %d): %s\n",
					r.Target, r.Count, r.Size, r.Via, r.Node, latencyText(r.Latency))
			}, err
		},
	})
	cmd.Flags().IntVar(&cfg.Count, "count", 5000, "measured publishes")
	cmd.Flags().StringVar(&cfg.Via, "via", bench.ViaLeader, "leader or follower: the node the publisher connects to")
	cmd.Flags().IntVar(&cfg.Size, "size", 1024, "payload bytes")
	return cmd
}

func latencyText(l bench.Latency) string {
	return fmt.Sprintf("p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms", l.P50Ms, l.P99Ms, l.P999Ms, l.MaxMs)
}

func (env Env) e2eCmd() *cobra.Command {
	cfg := bench.E2EConfig{}
	cmd := env.command(workload{
		use:   "e2e",
		short: "Measure end-to-end latency, publish to delivery, at fixed open-loop rates",
		long: `Open-loop publishing at 25/50/75 % of a peak throughput (--peak, or measured
first with a 5 s publish run), delivered to a tail subscriber; latency from each
message's intended send time (no coordinated omission), HDR histogram.`,
		examples: [2]string{"--peak 20000", "--loads 50 --duration 30s"},
		run: func(ctx context.Context, t bench.Target) (any, func(), error) {
			if cfg.Peak <= 0 {
				p, err := bench.RunPublish(ctx, t, bench.PublishConfig{Duration: 5 * time.Second, Size: cfg.Size, Progress: env.Stderr})
				if err != nil {
					return nil, nil, err
				}
				cfg.Peak = p.MsgsPerSec
			}
			cfg.Progress = env.Stderr
			r, err := bench.RunE2E(ctx, t, cfg)
			return r, func() {
				for _, run := range r.Runs {
					fmt.Fprintf(env.Stdout, "%s: %d%% of %.0f = %.0f msgs/s, %d sent, %d delivered: %s\n",
						r.Target, run.LoadPct, r.Peak, run.Rate, run.Sent, run.Received, latencyText(run.Latency))
				}
			}, err
		},
	})
	fl := cmd.Flags()
	fl.Float64Var(&cfg.Peak, "peak", 0, "msgs/s the loads are fractions of (default: measured)")
	fl.IntSliceVar(&cfg.Loads, "loads", []int{25, 50, 75}, "percent of the peak")
	fl.IntVar(&cfg.Size, "size", 1024, "payload bytes")
	fl.DurationVar(&cfg.Duration, "duration", 10*time.Second, "per load")
	return cmd
}

func (env Env) consumeCmd() *cobra.Command {
	cfg := bench.ConsumeConfig{}
	cmd := env.command(workload{
		use:   "consume",
		short: "Measure consume-and-ack throughput of a group draining a backlog",
		long: `Preload M messages, then C members of one group (JetStream: one durable
pull consumer, explicit acks) receive and ack each one, waiting for the
server's confirmation of the ack; prints acked messages per second.`,
		examples: [2]string{"--messages 20000 --consumers 4", "--json"},
		run: func(ctx context.Context, t bench.Target) (any, func(), error) {
			cfg.Progress = env.Stderr
			r, err := bench.RunConsume(ctx, t, cfg)
			return r, func() {
				fmt.Fprintf(env.Stdout, "%s: %d members drained %d messages of %d B: %.0f msgs/s (%.2f s)\n",
					r.Target, r.Consumers, r.Acked, r.Size, r.MsgsPerSec, r.ElapsedSec)
			}, err
		},
	})
	fl := cmd.Flags()
	fl.IntVar(&cfg.Messages, "messages", 20000, "backlog to drain")
	fl.IntVar(&cfg.Consumers, "consumers", 4, "group members, one connection each")
	fl.IntVar(&cfg.Size, "size", 1024, "payload bytes")
	return cmd
}

func (env Env) fanoutCmd() *cobra.Command {
	cfg := bench.FanoutConfig{}
	var idle int
	long := `One publisher (window 256) for the duration, K tail subscribers (Carrier:
WebSocket tails; JetStream: ordered consumers) spread over the nodes; prints
deliveries per second.`
	if env.IdleConns != nil {
		long += ` On Carrier it first opens --idle-conns idle WebSocket
connections to one fresh node and prints its resident memory per connection
((VmRSS after - VmRSS before) / K) and the idle node's VmRSS.`
	}
	cmd := env.command(workload{
		use:      "fanout",
		short:    "Measure fan-out to K tail subscribers",
		long:     long,
		examples: [2]string{"--subscribers 16", "--subscribers 64 --json"},
		run: func(ctx context.Context, t bench.Target) (any, func(), error) {
			out := struct {
				bench.FanoutResult
				Memory *bench.ConnMemory `json:"idleConnections,omitempty"`
			}{}
			if env.IdleConns != nil && idle > 0 {
				m, err := env.IdleConns(ctx, t, idle)
				if err != nil {
					return nil, nil, err
				}
				out.Memory = m
			}
			cfg.Progress = env.Stderr
			r, err := bench.RunFanout(ctx, t, cfg)
			out.FanoutResult = r
			return out, func() {
				fmt.Fprintf(env.Stdout, "%s: 1 publisher, %d tails: %d published, %d deliveries, %.0f deliveries/s\n",
					r.Target, r.Subscribers, r.Published, r.Deliveries, r.DeliveriesPerSec)
				if m := out.Memory; m != nil {
					fmt.Fprintf(env.Stdout, "idle node VmRSS %.1f MiB; %d idle WebSocket connections: %.1f KiB each\n",
						m.NodeRSSBefore, m.Conns, m.KiBPerConn)
				}
			}, err
		},
	})
	fl := cmd.Flags()
	fl.IntVar(&cfg.Subscribers, "subscribers", 16, "tail subscribers K, one connection each")
	fl.IntVar(&cfg.Size, "size", 1024, "payload bytes")
	fl.DurationVar(&cfg.Duration, "duration", 10*time.Second, "publishing time")
	if env.IdleConns != nil {
		fl.IntVar(&idle, "idle-conns", 1000, "idle connections for the memory reading (Carrier only; 0: skip)")
	}
	return cmd
}
