package faulttest

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	clustertest "github.com/carriermq/carrier/test/cluster"
)

var (
	rounds = flag.Int("rounds", 2, "short mode: how many times each scenario runs (targets are random each time)")
	soak   = flag.Duration("soak", 0, "run the long mode: random faults until this much time has passed (e.g. 30m); 0 runs each scenario once")
	seed   = flag.Uint64("seed", 0, "seed of the scenario choice and targets (0: from the clock; the run logs it)")
	hold   = flag.Duration("hold", 0, "how long each fault stays before it is healed (default 3s; in the soak random 2–10s)")
	only   = flag.String("scenarios", "", "comma-separated scenario names to run (default: all)")
	report = flag.String("report", "", "also write the results table (markdown) to this file")
	keep   = flag.String("keep", "", "put the nodes' data and logs under this directory and keep them (default: a temporary directory)")
	favor  = flag.String("favor", "", "soak: comma-separated scenarios picked -favor-share of the time, "+
		"the rest from the mixed schedule (e.g. pause-leader-kill-follower,pause-leader-isolate-follower)")
	favorShare = flag.Float64("favor-share", 0.5, "soak: the share of scenarios picked from -favor, 0 to 1")
	tlsOn      = flag.Bool("tls", false, "TestFaults (short or soak) with TLS on every client listener and mutual TLS between nodes (TestFaultsTLS always has it)")
	tlsRounds  = flag.Int("tls-rounds", 1, "short mode of TestFaultsTLS: how many times each scenario runs")
)

// Binaries built once by TestMain: the real one, and (for
// TestBrokenBuildIsCaught) one with the test-only switch that confirms a
// publish before Raft commits it.
var carrierBin, brokenBin string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	return clustertest.RunWithBuild(m, "fault tests", func(ctx context.Context, dir string) (err error) {
		if carrierBin, err = clustertest.Build(ctx, dir); err != nil {
			return err
		}
		brokenBin, err = clustertest.BuildTagged(ctx, dir, "carrier-broken", "carrier_unsafe_early_confirm")
		return err
	})
}

// timeout is a context ending after d or at the end of t.
func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
