package faulttest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/carriermq/carrier/client"
	clustertest "github.com/carriermq/carrier/test/cluster"
	"github.com/carriermq/carrier/test/nemesis"
)

// scenario injects one fault, holds it for env.hold while the workload
// runs, and heals it. It returns a short note for the log, or an error for
// a product failure (errSkip: not possible on this machine). The runner
// then waits for env.recover.
type scenario struct {
	name string
	run  func(ctx context.Context, e *env) (string, error)
}

// scenarios is every fault of the suite; the short mode runs each once in
// this order, the soak picks at random.
var scenarios = []scenario{
	{"kill-leader", killLeader},
	{"kill-follower", killFollower},
	{"pause-leader", pauseLeader},
	{"isolate-leader", isolateLeader},
	{"isolate-follower", isolateFollower},
	{"bridge", bridge},
	{"one-way-from-leader", oneWayFromLeader},
	{"wipe-node", wipeNode},
	{"two-down", twoDown},
	{"disk-full-leader", diskFullLeader},
	{"corrupt-log-tail", corruptLogTail},
	{"corrupt-snapshot", corruptSnapshot},
	{"corrupt-store", corruptStore},
	{"pause-leader-kill-follower", pauseLeaderKillFollower},
	{"pause-leader-isolate-follower", pauseLeaderIsolateFollower},
}

func killLeader(ctx context.Context, e *env) (string, error) {
	l, err := e.leader(ctx)
	if err != nil {
		return "", err
	}
	l.Kill()
	if err := sleep(ctx, e.hold); err != nil {
		return "", err
	}
	return "killed " + l.ID, l.Start()
}

func killFollower(ctx context.Context, e *env) (string, error) {
	f, _, err := e.follower(ctx)
	if err != nil {
		return "", err
	}
	f.Kill()
	if err := sleep(ctx, e.hold); err != nil {
		return "", err
	}
	return "killed " + f.ID, f.Start()
}

// pauseLeader stops the leader (SIGSTOP) until another node leads, holds,
// and resumes it: it must follow the new leader.
func pauseLeader(ctx context.Context, e *env) (string, error) {
	l, err := e.leader(ctx)
	if err != nil {
		return "", err
	}
	if err := l.Pause(); err != nil {
		return "", err
	}
	defer func() { _ = l.Resume() }()
	if err := newLeaderWithout(ctx, e, l); err != nil {
		return "", err
	}
	if err := sleep(ctx, e.hold); err != nil {
		return "", err
	}
	return "paused " + l.ID, l.Resume()
}

// newLeaderWithout waits until a node other than old leads, as seen by
// another node.
func newLeaderWithout(ctx context.Context, e *env, old *clustertest.Node) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	witness := e.others(old)[0]
	return clustertest.Poll(ctx, 50*time.Millisecond, func() error {
		st, err := witness.Status(ctx)
		if err != nil {
			return err
		}
		if st.Leader == "" || st.Leader == old.ID {
			return fmt.Errorf("%s sees leader %q", witness.ID, st.Leader)
		}
		return nil
	})
}

// partition starts p, holds it, and heals it; during it, check (if set) runs.
func partition(ctx context.Context, e *env, p *nemesis.Partition, check func() error) error {
	if err := canPartition(e); err != nil {
		return err
	}
	if err := p.Start(ctx); err != nil {
		return errors.Join(err, p.Heal(context.Background()))
	}
	var errs []error
	if check != nil {
		errs = append(errs, check())
	}
	errs = append(errs, sleep(ctx, e.hold), p.Heal(context.Background()))
	return errors.Join(errs...)
}

// isolateLeader cuts the leader off from the others: it must stop
// confirming — step down — within a few election timeouts, while the
// majority elects another leader.
func isolateLeader(ctx context.Context, e *env) (string, error) {
	l, err := e.leader(ctx)
	if err != nil {
		return "", err
	}
	var note string
	check := func() error {
		d, err := stepDown(ctx, l)
		note = fmt.Sprintf("isolated %s; it stepped down after %v", l.ID, d.Round(time.Millisecond))
		return err
	}
	err = partition(ctx, e, nemesis.Isolate(ip(l), ips(e.others(l))), check)
	return note, err
}

// stepDown waits until n no longer claims to lead and returns how long it took.
func stepDown(ctx context.Context, n *clustertest.Node) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := clustertest.Poll(ctx, 10*time.Millisecond, func() error {
		st, err := n.Status(ctx)
		if err != nil {
			return err
		}
		if st.State == "Leader" {
			return fmt.Errorf("%s still leads", n.ID)
		}
		return nil
	})
	if err != nil {
		return time.Since(start), fmt.Errorf("isolated leader %s did not step down: %w", n.ID, err)
	}
	return time.Since(start), nil
}

func isolateFollower(ctx context.Context, e *env) (string, error) {
	f, _, err := e.follower(ctx)
	if err != nil {
		return "", err
	}
	return "isolated " + f.ID, partition(ctx, e, nemesis.Isolate(ip(f), ips(e.others(f))), nil)
}

// bridge: two nodes cannot reach each other, the third reaches both.
func bridge(ctx context.Context, e *env) (string, error) {
	ns := e.c.Nodes()
	i := e.rng.IntN(len(ns))
	a, b, via := ns[i], ns[(i+1)%len(ns)], ns[(i+2)%len(ns)]
	note := fmt.Sprintf("%s and %s cut, %s bridges", a.ID, b.ID, via.ID)
	return note, partition(ctx, e, nemesis.Bridge([]string{ip(a)}, []string{ip(b)}, ip(via)), nil)
}

// oneWayFromLeader drops what the leader sends to the others, not what it
// receives.
func oneWayFromLeader(ctx context.Context, e *env) (string, error) {
	l, err := e.leader(ctx)
	if err != nil {
		return "", err
	}
	return "dropped packets from " + l.ID, partition(ctx, e, nemesis.OneWay([]string{ip(l)}, ips(e.others(l))), nil)
}

// wipeNode restarts a random node (leader or not) with an empty data dir.
func wipeNode(ctx context.Context, e *env) (string, error) {
	n := e.pick(e.c.Nodes())
	if err := n.Wipe(); err != nil {
		return "", err
	}
	return "wiped " + n.ID, nil
}

// twoDown kills two of three nodes: the survivor must refuse writes with an
// error (never confirm), keep both in its configuration, and the cluster
// must come back with everything when they return.
func twoDown(ctx context.Context, e *env) (string, error) {
	l, err := e.leader(ctx)
	if err != nil {
		return "", err
	}
	survivor := e.pick(e.others(l))
	down := e.others(survivor)
	for _, n := range down {
		n.Kill()
	}
	check := refusesWrites(ctx, survivor)
	if err := sleep(ctx, e.hold); err != nil {
		return "", err
	}
	voters, err := voterCount(ctx, survivor)
	var errs []error
	errs = append(errs, check, err)
	if err == nil && voters != len(e.c.Nodes()) {
		errs = append(errs, fmt.Errorf("survivor %s has %d voters while two nodes are down, want %d (quorum must never shrink by itself)", survivor.ID, voters, len(e.c.Nodes())))
	}
	for _, n := range down {
		errs = append(errs, n.Start())
	}
	return fmt.Sprintf("killed %s and %s; %s refused writes", down[0].ID, down[1].ID, survivor.ID), errors.Join(errs...)
}

// refusesWrites publishes once through n with a short deadline: it must
// fail. A confirmation without a majority would be a lie.
func refusesWrites(ctx context.Context, n *clustertest.Node) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ack, err := n.Admin().Publish(ctx, "fault-minority", client.Message{ID: "minority-write", Event: "x", Data: []byte(`1`)})
	if err == nil {
		return fmt.Errorf("node %s without a majority confirmed a publish (seq %d)", n.ID, ack.Seq)
	}
	return nil
}

func voterCount(ctx context.Context, n *clustertest.Node) (int, error) {
	st, err := n.Status(ctx)
	if err != nil {
		return 0, err
	}
	voters := 0
	for _, m := range st.Members {
		if m.Suffrage == "Voter" {
			voters++
		}
	}
	return voters, nil
}
