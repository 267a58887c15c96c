package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/bench"
)

type publishFlags struct {
	target string
	cfg    bench.PublishConfig
	json   bool
}

func (a *app) benchPublishCmd() *cobra.Command {
	f := &publishFlags{}
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Measure durable publish throughput against a local 3-node Carrier or NATS JetStream cluster",
		Long: `Start a 3-node cluster on loopback — Carrier (this binary) or nats-server
JetStream (installed with "go install" into the user cache dir on first use;
nats-always fsyncs before every ack, nats-default keeps its periodic fsync) —
then run P publishers, each on its own connection with W unconfirmed publishes
of S bytes, for the duration, and print confirmed messages per second.`,
		Example: `  carrier bench publish --target carrier --publishers 4 --window 256 --size 1024 --duration 10s
  carrier bench publish --target nats-always --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.benchPublish(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.target, "target", "carrier", "carrier, nats-always or nats-default")
	fl.IntVar(&f.cfg.Publishers, "publishers", 4, "concurrent publishers, one connection each")
	fl.IntVar(&f.cfg.Window, "window", 256, "unconfirmed publishes per publisher")
	fl.IntVar(&f.cfg.Size, "size", 1024, "payload bytes")
	fl.DurationVar(&f.cfg.Duration, "duration", 10*time.Second, "measured time")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON")
	return cmd
}

func (a *app) benchPublish(cmd *cobra.Command, f *publishFlags) error {
	if f.cfg.Publishers < 1 || f.cfg.Window < 1 || f.cfg.Size < 1 || f.cfg.Duration <= 0 {
		return flagError(cmd, "--publishers, --window, --size and --duration must be positive")
	}
	t, err := startTarget(cmd.Context(), f.target)
	if err != nil {
		return fmt.Errorf("bench publish: %w", err)
	}
	defer t.Close()
	f.cfg.Progress = a.stderr
	res, err := bench.RunPublish(cmd.Context(), t, f.cfg)
	if err != nil {
		return fmt.Errorf("bench publish: %w", err)
	}
	if f.json {
		return writeJSON(a.stdout, res)
	}
	fmt.Fprintf(a.stdout, "%s: %d publishers, window %d, %d B: %.0f msgs/s (%.1f MB/s, %d confirmed in %v)\n",
		res.Target, res.Publishers, res.Window, res.Size, res.MsgsPerSec, res.MBPerSec, res.Confirmed, msRound(res.Elapsed))
	if g := res.GroupCommit; g != nil {
		fmt.Fprintf(a.stdout, "group commit: %.1f messages per log append (fsync); %.2f commands per Raft entry, %.2f per fsync\n",
			g.MessagesPerAppend, g.CommandsPerEntry, g.CommandsPerAppend)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// startTarget starts the named target's 3-node cluster.
func startTarget(ctx context.Context, name string) (bench.Target, error) {
	switch name {
	case "carrier":
		bin, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the carrier binary: %w", err)
		}
		return bench.StartCarrier(ctx, bin, "")
	case "nats-always", "nats-default":
		return bench.StartNATSTarget(ctx, "", name == "nats-always")
	}
	return nil, fmt.Errorf("unknown --target %q (carrier, nats-always, nats-default)", name)
}
