package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/bench/local"
)

type fillFlags struct {
	messages   int64
	size       int
	publishers int
	window     int
	dir        string
	json       bool
}

func (a *app) fillCmd() *cobra.Command {
	f := &fillFlags{}
	cmd := &cobra.Command{
		Use:   "fill",
		Short: "Fill one node's queue on disk, read it back from the first message, restart the node",
		Long: `Start one node of the carrier binary (--carrier) with the disk store, create a
queue that holds --messages messages, publish them all (--publishers
connections, --window unconfirmed each), read them back over HTTP from seq 1
in pages of 1,000, then stop the node (SIGTERM), start it on its data and
time it until /readyz says ready. Reports the publish and read rates, the
node's RSS empty, filled and after the restart (and the RSS each stored
message costs), and the bytes of the store's files. The default, 10 million
1 KiB messages, needs about 11 GiB of disk.`,
		Example: `  carrier-bench fill
  carrier-bench fill --messages 100000 --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := noArgs(cmd, args); err != nil {
				return err
			}
			if f.messages < 1 || f.size < 1 || f.publishers < 1 || f.window < 1 {
				return flagError(cmd, "--messages, --size, --publishers and --window must be at least 1")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return a.fill(cmd, f) },
	}
	fl := cmd.Flags()
	fl.Int64Var(&f.messages, "messages", 10_000_000, "messages to store")
	fl.IntVar(&f.size, "size", 1024, "payload bytes of each message")
	fl.IntVar(&f.publishers, "publishers", 4, "concurrent publishers, one connection each")
	fl.IntVar(&f.window, "window", 256, "unconfirmed publishes per publisher")
	fl.StringVar(&f.dir, "dir", "", "directory for the node's data and log (default: a temporary one, removed on success)")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON (progress lines go to stderr)")
	return cmd
}

func (a *app) fill(cmd *cobra.Command, f *fillFlags) error {
	bin, err := a.carrierBin(cmd.Context())
	if err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	progress := a.stdout
	if f.json {
		progress = a.stderr
	}
	res, err := local.Fill(cmd.Context(), local.FillConfig{Bin: bin, Dir: f.dir, Messages: f.messages, Size: f.size,
		Publishers: f.publishers, Window: f.window, Progress: progress})
	if err != nil {
		return err
	}
	if f.json {
		return writeJSON(a.stdout, res)
	}
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	fmt.Fprintf(a.stdout, "fill of %d messages of %d bytes on one node:\n", res.Messages, res.Size)
	fmt.Fprintf(a.stdout, "  publish  %.0f msgs/s (%.1f s)\n", res.PublishPerSec, res.PublishSec)
	fmt.Fprintf(a.stdout, "  read     %.0f msgs/s (%.1f s, from seq 1)\n", res.ReadPerSec, res.ReadSec)
	fmt.Fprintf(a.stdout, "  RSS      %.0f MiB empty, %.0f MiB filled (peak %.0f), %.1f bytes per stored message\n",
		mib(res.RSSEmpty), mib(res.RSSFilled), mib(res.PeakRSS), res.RSSPerMessage)
	fmt.Fprintf(a.stdout, "  store    %.0f MiB on disk\n", mib(res.StoreBytes))
	fmt.Fprintf(a.stdout, "  restart  %.1f s to ready, RSS %.0f MiB after\n", res.RestartSec, mib(res.RSSAfterRestart))
	return nil
}
