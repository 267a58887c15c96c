package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/bench/local"
)

type failoverFlags struct {
	trials    int
	dir       string
	heartbeat time.Duration
	election  time.Duration
	json      bool
}

func (a *app) failoverCmd() *cobra.Command {
	f := &failoverFlags{}
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Measure leader failover: kill -9 the leader of a local 3-node cluster, many times",
		Long: `Start a 3-node cluster of the carrier binary (--carrier) on loopback addresses
(127.A.B.2-4 with the default ports, or free ports on 127.0.0.1), publish one
message at a time through a follower, kill -9 the leader, and measure the time
from the last publish confirmed before the kill to the first one confirmed
after it (the longest gap between confirmations up to the 5th after the kill,
so that a reply already in flight when the leader died does not hide the
outage). The killed node is restarted before the next trial. Prints one line
per trial, then p50, p99 and max.`,
		Example: `  carrier-bench failover --trials 20
  carrier-bench failover --trials 5 --election-timeout 500ms --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := noArgs(cmd, args); err != nil {
				return err
			}
			if f.trials < 1 {
				return flagError(cmd, "--trials must be at least 1")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.failover(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.trials, "trials", 20, "leader kills to measure")
	fl.StringVar(&f.dir, "dir", "", "directory for the nodes' data and logs (default: a temporary one, removed on success)")
	fl.DurationVar(&f.heartbeat, "heartbeat-timeout", 0, "passed to every node (default: the server's)")
	fl.DurationVar(&f.election, "election-timeout", 0, "passed to every node (default: the server's)")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON (progress lines go to stderr)")
	return cmd
}

func (a *app) failover(cmd *cobra.Command, f *failoverFlags) error {
	bin, err := a.carrierBin(cmd.Context())
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	progress := a.stdout
	if f.json {
		progress = a.stderr
	}
	res, err := local.Failover(cmd.Context(), local.FailoverConfig{Bin: bin, Dir: f.dir, Trials: f.trials,
		HeartbeatTimeout: f.heartbeat, ElectionTimeout: f.election, Progress: progress})
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	if f.json {
		return writeFailoverJSON(a.stdout, res)
	}
	fmt.Fprintf(a.stdout, "failover over %d trials: p50 %v  p99 %v  max %v  mean %v\n", len(res.Trials),
		msRound(res.P50), msRound(res.P99), msRound(res.Max), msRound(res.Mean))
	return nil
}

func msRound(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// failoverJSON is the --json output: durations in milliseconds.
type failoverJSON struct {
	Trials             int         `json:"trials"`
	P50Ms              float64     `json:"p50Ms"`
	P99Ms              float64     `json:"p99Ms"`
	MaxMs              float64     `json:"maxMs"`
	MeanMs             float64     `json:"meanMs"`
	HeartbeatTimeoutMs float64     `json:"heartbeatTimeoutMs,omitempty"`
	ElectionTimeoutMs  float64     `json:"electionTimeoutMs,omitempty"`
	Addresses          string      `json:"addresses"`
	Runs               []trialJSON `json:"runs"`
}

type trialJSON struct {
	Killed     string  `json:"killed"`
	Via        string  `json:"via"`
	FailoverMs float64 `json:"failoverMs"`
	Confirmed  int     `json:"confirmed"`
}

func toMs(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func writeFailoverJSON(w io.Writer, r local.FailoverResult) error {
	out := failoverJSON{Trials: len(r.Trials), P50Ms: toMs(r.P50), P99Ms: toMs(r.P99), MaxMs: toMs(r.Max),
		MeanMs: toMs(r.Mean), HeartbeatTimeoutMs: toMs(r.HeartbeatTimeout), ElectionTimeoutMs: toMs(r.ElectionTimeout),
		Addresses: r.Addresses}
	for _, t := range r.Trials {
		out.Runs = append(out.Runs, trialJSON{Killed: t.Killed, Via: t.Via, FailoverMs: toMs(t.Failover), Confirmed: t.Confirmed})
	}
	return writeJSON(w, out)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
