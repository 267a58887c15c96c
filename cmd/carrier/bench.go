package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/carriermq/carrier/bench"
	"github.com/carriermq/carrier/bench/benchcmd"
	"github.com/carriermq/carrier/client"
)

// benchCmd is "carrier bench": the workloads of package bench against a
// Carrier cluster that is already running. What starts clusters of its own
// (the comparison with NATS JetStream, the failover measurement) is
// carrier-bench, so that this binary links neither the test harness nor a
// NATS client.
func (a *app) benchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a running Carrier cluster",
		Long: `Run a benchmark workload against a Carrier cluster that is already running:
--server names its nodes (comma-separated; connections are spread over them,
and the publish figures per fsync sum their /metrics). The workloads publish
to queues named bench-* (created on first use, so the server needs
auto-create, its default) and leave them in place: remove them with
"carrier queue rm".

The side-by-side comparison with NATS JetStream and the leader-failover
measurement start clusters of their own; they are a separate command,
carrier-bench ("go run ./cmd/carrier-bench --help" in the source tree).`,
		Example: `  carrier bench publish --server http://127.0.0.1:7430,http://127.0.0.1:7440,http://127.0.0.1:7450
  carrier bench latency --count 1000 --json`,
	}
	var servers []string
	var tlsFiles client.TLSFiles
	env := benchcmd.Env{
		Prog:   "carrier bench",
		Stdout: a.stdout,
		Stderr: a.stderr,
		TargetFlags: func(fs *pflag.FlagSet) {
			fs.StringSliceVar(&servers, "server", []string{defaultServer},
				"the cluster's nodes: URLs or host:port, comma-separated (env CARRIER_SERVER)")
			tlsClientFlags(fs, &tlsFiles)
		},
		TargetHelp: `It runs against the running cluster at --server (default ` + defaultServer + `
or $CARRIER_SERVER) and starts nothing.`,
		ExampleTargets: [2]string{"--server 127.0.0.1:7430,127.0.0.1:7440,127.0.0.1:7450", ""},
		Open:           func(ctx context.Context) (bench.Target, error) { return openRunning(ctx, servers, tlsFiles) },
		Usage: func(cmd *cobra.Command, err error) error {
			return usageError{err: err, path: cmd.CommandPath()}
		},
	}
	cmd.AddCommand(benchcmd.Commands(env)...)
	cmd.AddCommand(movedCmd("compare"), movedCmd("failover"))
	return cmd
}

// openRunning is the target of "carrier bench": the nodes at servers, each
// asked for the cluster's status first so that a wrong address fails at
// once with a message saying what to check.
func openRunning(ctx context.Context, servers []string, files client.TLSFiles) (bench.Target, error) {
	if len(servers) == 0 {
		return nil, errors.New("--server names no node")
	}
	tc, err := tlsConfig(files)
	if err != nil {
		return nil, err
	}
	var hc *http.Client
	if tc != nil {
		hc = client.HTTPClient(tc)
	}
	urls := make([]string, len(servers))
	for i, s := range servers {
		u, err := client.HTTPURL(s)
		if err != nil {
			return nil, fmt.Errorf("--server %q: %w", s, err)
		}
		ad, err := client.NewAdmin(u, hc)
		if err != nil {
			return nil, fmt.Errorf("--server %q: %w", s, err)
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = ad.Cluster(cctx)
		cancel()
		if err != nil {
			return nil, unreachable(s, err)
		}
		urls[i] = u
	}
	t := bench.NewCarrierTarget(urls, nil, nil)
	if tc != nil {
		t.WithTLS(tc)
	}
	return t, nil
}

// movedCmd answers the benchmarks that moved to carrier-bench with where
// they are now (hidden: it only helps old command lines).
func movedCmd(name string) *cobra.Command {
	return &cobra.Command{
		Use:                name,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{err: fmt.Errorf("%s starts clusters of its own and is a separate command now: "+
				"carrier-bench %s (go run ./cmd/carrier-bench %s in the source tree)", cmd.CommandPath(), name, name),
				path: "carrier bench"}
		},
	}
}
