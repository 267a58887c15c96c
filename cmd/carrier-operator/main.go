// Command carrier-operator runs Carrier clusters, queues and consumer
// groups as Kubernetes resources (carrier.dev/v1alpha1 QueueCluster, Queue
// and ConsumerGroup). It talks to each cluster only through Carrier's HTTP
// admin API. See operator/DESIGN.md and docs/kubernetes.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "carrier-operator:", err)
		os.Exit(1)
	}
}

// run parses args, starts the manager and returns when ctx ends (a signal)
// or the manager fails.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stdout)
	if err != nil || f.help || f.version {
		return err
	}
	log, err := newLogger(f.logLevel, f.logFormat, stderr)
	if err != nil {
		return err
	}
	mgr, err := newManager(f, log)
	if err != nil {
		return err
	}
	log.Info("starting", "version", version, "revision", revision, "namespaces", f.namespaces, "leaderElection", f.leaderElect,
		"metrics", f.metricsAddr, "probes", f.probeAddr, "refresh", f.refresh.String())
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	return nil
}
