package faulttest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	clustertest "github.com/carriermq/carrier/test/cluster"
	"github.com/carriermq/carrier/test/nemesis"
)

// env is what a scenario acts on: the cluster, each node's small disk
// (nil when tmpfs cannot be mounted here), the workload and the randomness
// of the run (seeded, so a run can be repeated).
type env struct {
	c     *clustertest.Cluster
	disks map[string]*nemesis.SmallDisk // by node id
	w     *workload
	rng   *rand.Rand
	hold  time.Duration // how long a fault stays before it is healed
	logf  func(format string, args ...any)
	// diskFault: the running scenario fills or damages a disk, so a node
	// may fail-stop (exit code 3). Anywhere else a fail-stop is a finding.
	diskFault bool
	bursts    int // compound scenarios' bursts so far, for unique message ids
}

// nextBurst names the next burst of publishes ("b1", "b2", …).
func (e *env) nextBurst() string {
	e.bursts++
	return fmt.Sprintf("b%d", e.bursts)
}

// leader returns the agreed leader, waiting up to 30 s for one.
func (e *env) leader(ctx context.Context) (*clustertest.Node, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return e.c.Leader(ctx)
}

// others returns the nodes other than n.
func (e *env) others(n *clustertest.Node) []*clustertest.Node {
	var out []*clustertest.Node
	for _, o := range e.c.Nodes() {
		if o != n {
			out = append(out, o)
		}
	}
	return out
}

// pick returns a random node of ns.
func (e *env) pick(ns []*clustertest.Node) *clustertest.Node { return ns[e.rng.IntN(len(ns))] }

// follower returns a random node that is not the leader.
func (e *env) follower(ctx context.Context) (*clustertest.Node, *clustertest.Node, error) {
	l, err := e.leader(ctx)
	if err != nil {
		return nil, nil, err
	}
	return e.pick(e.others(l)), l, nil
}

// ip is a node's loopback address (partitions act on it).
func ip(n *clustertest.Node) string {
	host, _, _ := net.SplitHostPort(n.Addrs.Raft)
	return host
}

func ips(ns []*clustertest.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = ip(n)
	}
	return out
}

// sleep waits d or until ctx ends. Faults are held for a time on purpose
// (the workload runs meanwhile); it is never used to wait for a condition.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recover brings the cluster back to health after a scenario healed its
// fault: every node running, ready, one agreed leader, every node a voter
// again, and the workload confirming publishes. A node that stopped itself
// with a fail-stop (exit code 3: its Raft log could not be written) is
// started again, as Kubernetes would, also when it stops while recover
// waits; a node that exited any other way, or fail-stopped in a scenario
// that injects no disk fault, fails the run.
func (e *env) recover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	err := clustertest.Poll(ctx, 200*time.Millisecond, func() error {
		if err := e.restartFailStopped(); err != nil {
			return clustertest.ErrStop{Err: err}
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := e.c.WaitReady(wctx, e.c.Nodes()...)
		var stop clustertest.ErrStop
		if errors.As(err, &stop) {
			return stop.Err // a node exited: the next round looks at why
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("recover: readiness: %w", err)
	}
	if err := e.allVoters(ctx); err != nil {
		return err
	}
	return e.flowing(ctx, 20)
}

// restartFailStopped starts again every node that stopped itself with a
// fail-stop, and returns an error for a node that exited any other way.
func (e *env) restartFailStopped() error {
	for _, n := range e.c.Nodes() {
		code, exited := n.ExitCode()
		if !exited {
			continue
		}
		if code != exitFailStop {
			return fmt.Errorf("node %s exited by itself with code %d (see %s)", n.ID, code, n.LogPath)
		}
		if !e.diskFault {
			return fmt.Errorf("node %s fail-stopped (its Raft log write failed) with no disk fault injected (see %s)", n.ID, n.LogPath)
		}
		e.logf("node %s stopped itself (fail-stop, exit code %d); starting it again", n.ID, code)
		if err := n.Start(); err != nil {
			return err
		}
	}
	return nil
}

// exitFailStop is carrier serve's exit code when its Raft log cannot be
// written.
const exitFailStop = 3

// allVoters waits until every node's own configuration has every node as
// a voter: the leader commits a promotion with a majority, and a lagging
// member may not have the entry yet (a wiped node catching up), which
// would make the next scenario's survivor see fewer voters.
func (e *env) allVoters(ctx context.Context) error {
	err := clustertest.Poll(ctx, 100*time.Millisecond, func() error {
		for _, n := range e.c.Nodes() {
			voters, err := voterCount(ctx, n)
			if err != nil {
				return fmt.Errorf("%s: %w", n.ID, err)
			}
			if voters != len(e.c.Nodes()) {
				return fmt.Errorf("%s sees %d voters of %d nodes", n.ID, voters, len(e.c.Nodes()))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover: voters: %w", err)
	}
	return nil
}

// flowing waits until n more publishes are confirmed than now.
func (e *env) flowing(ctx context.Context, n int) error {
	start := e.w.confirmed()
	err := clustertest.Poll(ctx, 20*time.Millisecond, func() error {
		if k := e.w.finishedProducers(); k > 0 {
			return clustertest.ErrStop{Err: fmt.Errorf("%d producers finished their %d publishes: the workload, not the cluster, stopped", k, maxPublishes)}
		}
		if got := e.w.confirmed(); got < start+n {
			return fmt.Errorf("%d new confirmations, want %d", got-start, n)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover: load not flowing: %w", err)
	}
	return nil
}

// errSkip marks a scenario this machine cannot run (the reason follows).
var errSkip = errors.New("scenario not possible here")
