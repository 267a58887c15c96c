package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/carriermq/carrier/bench"
	"github.com/carriermq/carrier/bench/benchcmd"
	"github.com/carriermq/carrier/bench/local"
	clustertest "github.com/carriermq/carrier/test/cluster"
)

// app carries the streams and the carrier binary the clusters run.
type app struct {
	stdout, stderr io.Writer
	carrier        string // --carrier: the node binary ("" = build cmd/carrier)
	socketIODir    string // --socketio-dir: refserver.mjs and its package.json

	buildOnce sync.Once
	built     string // the binary built for this run, and its dir
	buildDir  string
	buildErr  error
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "carrier-bench",
		Short: "Benchmarks that start their own Carrier and NATS JetStream clusters on this machine",
		Long: `carrier-bench starts 3-node clusters on loopback and measures them: Carrier
side by side with NATS JetStream (compare), leader failover under kill -9
(failover), and each workload alone against a fresh cluster (--target).

The Carrier nodes run the carrier binary given by --carrier; without it,
carrier-bench builds ./cmd/carrier of the module in the current directory
("go build") for the run. nats-server is installed with "go install" into
the user cache dir on first use. Every process it starts is stopped before
it returns. To measure a Carrier cluster that is already running, use
"carrier bench" instead.`,
		Example: `  carrier-bench compare --quick
  carrier-bench failover --trials 20
  carrier-bench publish --target nats-always --json`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(usage)
	root.PersistentFlags().StringVar(&a.carrier, "carrier", "", "the carrier binary the Carrier nodes run (default: build ./cmd/carrier)")
	var target, drive string
	env := benchcmd.Env{
		Prog:   "carrier-bench",
		Stdout: a.stdout,
		Stderr: a.stderr,
		TargetFlags: func(fs *pflag.FlagSet) {
			fs.StringVar(&target, "target", local.SysCarrier, "carrier, nats-always, nats-always-best, nats-default, nats-default-best, carrier-socketio or socketio-ref")
			fs.StringVar(&a.socketIODir, "socketio-dir", local.DefaultSocketIODir, "where refserver.mjs and its package.json are (socketio-ref)")
			fs.StringVar(&drive, "nats-drive", "", `how nats.go drives JetStream: matched (nats-*), best (nats-*-best), or
settings: placement=spread|leader|random, msgid, consume=messages|fetch|consume,
batch=N, ack-nowait`)
		},
		TargetHelp: `It starts a fresh 3-node cluster of --target on loopback and stops it at the
end: carrier (--carrier), nats-always (JetStream with sync_interval always,
fsync before every ack like Carrier) or nats-default (JetStream's periodic
fsync). nats-always and nats-default are driven like Carrier (matched: the
same connection placement, a message id on every publish, acks that wait for
the server); their -best forms as nats.go's documentation recommends for
throughput with the same guarantees; --nats-drive sets the drive itself.
carrier-socketio is the Carrier cluster driven over socket.io (/socket.io/,
WebSocket, an emit with an ack per publish, a socket per tail), socketio-ref
the reference socket.io server from npm (one Node process, in memory, node
refserver.mjs in --socketio-dir, Node.js 20+) driven the same way: publish,
latency and fanout run on both.`,
		ExampleTargets: [2]string{"--target carrier", "--target nats-always"},
		Open:           func(ctx context.Context) (bench.Target, error) { return a.startTarget(ctx, target, drive) },
		Usage:          usage,
		IdleConns:      idleConns,
	}
	root.AddCommand(a.compareCmd(), a.failoverCmd(), a.socketIOCmd(), a.fillCmd())
	root.AddCommand(benchcmd.Commands(env)...)
	return root
}

// startTarget starts the named target's 3-node cluster; drive, when set,
// is the JetStream drive (--nats-drive).
func (a *app) startTarget(ctx context.Context, name, drive string) (bench.Target, error) {
	if name == local.SysCarrierSocketIO || name == local.SysSocketIORef {
		return a.startSocketIO(ctx, name, drive)
	}
	if name == local.SysCarrier {
		if drive != "" {
			return nil, errors.New("--nats-drive is for the nats-* targets")
		}
		bin, err := a.carrierBin(ctx)
		if err != nil {
			return nil, err
		}
		return local.StartCarrier(ctx, bin, "")
	}
	d := local.NATSMatched
	switch name {
	case local.SysNATSAlwaysBest, local.SysNATSDefaultBest:
		d = local.NATSBest
	case local.SysNATSAlways, local.SysNATSDefault:
	default:
		return nil, fmt.Errorf("unknown --target %q (carrier, nats-always, nats-always-best, nats-default, nats-default-best, carrier-socketio, socketio-ref)", name)
	}
	if drive != "" {
		var err error
		if d, err = local.ParseNATSDrive(drive); err != nil {
			return nil, err
		}
	}
	always := name == local.SysNATSAlways || name == local.SysNATSAlwaysBest
	t, err := local.StartNATSTarget(ctx, "", always, local.NATSMatched)
	if err != nil {
		return nil, err
	}
	if d == local.NATSMatched {
		return t, nil
	}
	return ownedView{t.WithDrive(d), t}, nil
}

// startSocketIO starts a target of the socket.io workloads.
func (a *app) startSocketIO(ctx context.Context, name, drive string) (bench.Target, error) {
	if drive != "" {
		return nil, errors.New("--nats-drive is for the nats-* targets")
	}
	if name == local.SysSocketIORef {
		return local.StartSocketIORef(ctx, a.socketIODir)
	}
	bin, err := a.carrierBin(ctx)
	if err != nil {
		return nil, err
	}
	return local.StartCarrierSocketIO(ctx, bin, "")
}

// ownedView is a NATSTarget view with another drive that stops the cluster
// it views on Close.
type ownedView struct {
	*local.NATSTarget
	owner *local.NATSTarget
}

func (v ownedView) Close() error { return v.owner.Close() }

// idleConns is fanout's memory reading: carrier.v1 connections to a
// Carrier cluster, socket.io sockets to Carrier or the reference server;
// none on the JetStream targets.
func idleConns(ctx context.Context, t bench.Target, k int) (*bench.ConnMemory, error) {
	var m bench.ConnMemory
	var err error
	switch t := t.(type) {
	case *local.Carrier:
		m, err = local.IdleConnMemory(ctx, t, k)
	case *bench.CarrierSocketIO:
		m, err = local.IdleSocketIOMemory(ctx, t, k)
	case *bench.SocketIOTarget:
		m, err = local.IdleSocketIOMemory(ctx, t, k)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// carrierBin is --carrier, or cmd/carrier built once for this run into a
// temporary dir that cleanup removes.
func (a *app) carrierBin(ctx context.Context) (string, error) {
	if a.carrier != "" {
		return a.carrier, nil
	}
	a.buildOnce.Do(func() {
		a.buildDir, a.buildErr = os.MkdirTemp("", "carrier-bench-bin-")
		if a.buildErr != nil {
			return
		}
		fmt.Fprintln(a.stderr, "building ./cmd/carrier for the Carrier nodes (give --carrier to use another binary)")
		a.built, a.buildErr = clustertest.Build(ctx, a.buildDir)
	})
	if a.buildErr != nil {
		return "", fmt.Errorf("no --carrier given, and building cmd/carrier failed (run carrier-bench from the source tree, or pass --carrier): %w", a.buildErr)
	}
	return a.built, nil
}

// cleanup removes what carrierBin built.
func (a *app) cleanup() error {
	if a.buildDir == "" {
		return nil
	}
	if err := os.RemoveAll(a.buildDir); err != nil {
		return fmt.Errorf("remove the built carrier: %w", err)
	}
	return nil
}

// flagError reports a bad flag value as a usage error.
func flagError(cmd *cobra.Command, format string, args ...any) error {
	return usage(cmd, fmt.Errorf(format, args...))
}

// noArgs refuses positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) != 0 {
		return usage(cmd, errors.New(cmd.CommandPath()+" takes no arguments"))
	}
	return nil
}
