package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/bench/local"
)

func (a *app) socketIOCmd() *cobra.Command {
	var cfg local.SocketIOCompareConfig
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "socketio",
		Short: "Measure Carrier over socket.io beside the reference socket.io server",
		Long: `Measure Carrier's socket.io endpoint (a 3-node cluster on loopback, --carrier)
and the reference socket.io server from npm (one Node process, in memory:
node refserver.mjs in --socketio-dir, Node.js 20+), one system at a time: per
round, each in turn (the order swapping every round) gets a fresh server and
is measured for the memory of idle sockets (--idle-conns, on one process),
fan-out (one publisher, --subscribers sockets receiving every event) and
publish with an ack per event (4 publishers × window 256), driven by the same
Go socket.io client over WebSocket. Carrier stores and replicates every event
(fsync on a majority before the ack); the reference server keeps nothing.

It prints per system the medians over the rounds: fan-out deliveries/s,
publish msgs/s, KiB per idle socket and idle sockets per GiB, the servers'
CPU-seconds and the largest process's peak RSS. Progress lines go to stderr.`,
		Example: `  carrier-bench socketio
  carrier-bench socketio --quick
  carrier-bench socketio --rounds 5 --subscribers 64 --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := a.carrierBin(cmd.Context())
			if err != nil {
				return fmt.Errorf("socketio: %w", err)
			}
			cfg.Bin, cfg.Progress = bin, a.stderr
			cfg.Fanout.Duration = cfg.Publish.Duration
			return a.compareSocketIO(cmd.Context(), cfg, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&cfg.Rounds, "rounds", 0, "rounds, the systems alternating, medians over them (default 3; quick 1)")
	fl.BoolVar(&cfg.Quick, "quick", false, "a seconds-long smoke run")
	fl.IntVar(&cfg.Fanout.Subscribers, "subscribers", 0, "fan-out sockets (default 16; quick 4)")
	fl.DurationVar(&cfg.Publish.Duration, "duration", 0, "publish and fan-out duration (default 10s; quick 500ms)")
	fl.IntVar(&cfg.IdleConns, "idle-conns", 0, "idle sockets for the memory reading (default 1000; quick 20)")
	fl.StringVar(&cfg.Dir, "socketio-dir", local.DefaultSocketIODir, "where refserver.mjs and its package.json are")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func (a *app) compareSocketIO(ctx context.Context, cfg local.SocketIOCompareConfig, asJSON bool) error {
	res, err := local.CompareSocketIO(ctx, cfg)
	if err != nil {
		return fmt.Errorf("socketio: %w", err)
	}
	if asJSON {
		return writeJSON(a.stdout, res)
	}
	return writeSocketIOTable(a.stdout, res)
}

// writeSocketIOTable prints the medians, one row per system.
func writeSocketIOTable(w io.Writer, res local.SocketIOComparison) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "system\tfan-out ×%d deliveries/s\tpublish msgs/s\tKiB/idle socket\tidle sockets/GiB\tCPU s\tpeak RSS MiB\n", res.Subscribers)
	for _, s := range res.Summary {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.1f\t%.0f\t%.1f\t%.0f\n", s.System, s.DeliveriesPerSec, s.PublishPerSec,
			s.KiBPerSocket, s.SocketsPerGiB, s.CPUSeconds, s.PeakRSSMiB)
	}
	fmt.Fprintf(tw, "(medians of %d sessions each; %d idle sockets)\n", len(res.Sessions)/max(len(res.Summary), 1), res.IdleConns)
	return tw.Flush()
}
