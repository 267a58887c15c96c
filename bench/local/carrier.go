// Package local holds the benchmarks that start their own clusters on this
// machine, run by "carrier-bench": the side-by-side comparison with NATS
// JetStream (Compare), the leader-failover measurement (Failover), and the
// targets they start (a Carrier cluster of real carrier processes through
// the test/cluster harness, and nats-server JetStream clusters). The
// workloads themselves are in package bench. See ../DESIGN.md.
package local

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/carriermq/carrier/bench"
	"github.com/carriermq/carrier/client"
	clustertest "github.com/carriermq/carrier/test/cluster"
)

// Carrier is a 3-node Carrier cluster of real carrier processes started by
// the test/cluster harness on loopback, as a bench.Target: the same
// bench.CarrierTarget "carrier bench" uses against a running cluster, with
// the nodes' processes known (CPU and memory readings) and stopped by Close.
type Carrier struct {
	*bench.CarrierTarget
	c *clustertest.Cluster
}

// StartCarrier starts a 3-node cluster of bin in dir ("" = a temporary dir,
// removed by Close) and waits until it is ready with an agreed leader.
func StartCarrier(ctx context.Context, bin, dir string) (_ *Carrier, err error) {
	dir, cleanup, err := workDir(dir)
	if err != nil {
		return nil, err
	}
	c, err := clustertest.New(clustertest.Options{Bin: bin, Dir: dir, Size: 3, LogLevel: "warn"})
	if err != nil {
		cleanup()
		return nil, err
	}
	t := &Carrier{c: c}
	t.CarrierTarget = bench.NewCarrierTarget(c.URLs(), t.pids, func() error {
		c.Close()
		cleanup()
		return nil
	})
	if err := c.WaitReady(ctx); err != nil {
		t.Close()
		return nil, fmt.Errorf("carrier cluster: %w", err)
	}
	if _, err := c.Leader(ctx); err != nil {
		t.Close()
		return nil, fmt.Errorf("carrier cluster: %w", err)
	}
	return t, nil
}

// pids are the running nodes' processes, found by their data dir on the
// command line (the harness does not export its pids).
func (t *Carrier) pids() []int {
	var pids []int
	for _, n := range t.c.Running() {
		if pid, ok := pidWithArg(n.DataDir); ok {
			pids = append(pids, pid)
		}
	}
	return pids
}

// IdleConnMemory opens k idle client connections (WebSocket, no
// subscription) to node 0 of t, reads the node's VmRSS before and after (a
// second after the last one connected, for the node to settle), and closes
// them.
func IdleConnMemory(ctx context.Context, t *Carrier, k int) (bench.ConnMemory, error) {
	url := t.NodeURLs()[0]
	pid, ok := pidWithArg(t.c.Nodes()[0].DataDir)
	if !ok {
		return bench.ConnMemory{}, errors.New("idle connections: node 0's process not found")
	}
	return idleMemory(ctx, pid, k, func(ctx context.Context) (func(), error) {
		var cls []*client.Client
		closeAll := func() {
			for _, cl := range cls {
				_ = cl.Close()
			}
		}
		for range k {
			cl, err := client.Dial(ctx, []string{url}, client.Options{})
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("idle connection %d: %w", len(cls)+1, err)
			}
			cls = append(cls, cl)
		}
		return closeAll, nil
	})
}

// idleMemory reads pid's VmRSS, opens k connections with open, reads it
// again a second after the last one connected (for the process to settle)
// and closes them.
func idleMemory(ctx context.Context, pid, k int, open func(context.Context) (func(), error)) (bench.ConnMemory, error) {
	if k < 1 {
		return bench.ConnMemory{}, errors.New("idle connections: at least one connection")
	}
	before, _, err := memory(pid)
	if err != nil {
		return bench.ConnMemory{}, err
	}
	closeAll, err := open(ctx)
	if err != nil {
		return bench.ConnMemory{}, err
	}
	defer closeAll()
	select {
	case <-time.After(time.Second): // let the node's allocations settle; not synchronisation
	case <-ctx.Done():
		return bench.ConnMemory{}, ctx.Err()
	}
	after, _, err := memory(pid)
	if err != nil {
		return bench.ConnMemory{}, err
	}
	per := float64(after-before) / float64(k)
	return bench.ConnMemory{Conns: k, RSSBefore: before, RSSAfter: after, BytesPerConn: per, KiBPerConn: per / 1024,
		NodeRSSBefore: float64(before) / (1 << 20)}, nil
}
