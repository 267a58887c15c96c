package faulttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/test/checker"
	clustertest "github.com/carriermq/carrier/test/cluster"
	"github.com/carriermq/carrier/test/nemesis"
)

// The compound nemeses (issue 10): the leader L is paused with publishes
// waiting in it, another node N is elected, the remaining follower F is
// cut off (killed or partitioned) so that N loses its quorum, and L is
// resumed while it may still believe it leads, with those publishes to
// stamp. Then F comes back and the cluster recovers. The per-fault probe
// (probe.go) then compares what every node stored.

// cutFunc takes follower f away from the others and returns what brings
// it back.
type cutFunc func(ctx context.Context, e *env, f *clustertest.Node) (restore func() error, err error)

// pauseLeaderKillFollower: F is killed (-9) and started again after the hold.
func pauseLeaderKillFollower(ctx context.Context, e *env) (string, error) {
	return pauseLeaderCutFollower(ctx, e, "killed", func(_ context.Context, _ *env, f *clustertest.Node) (func() error, error) {
		f.Kill()
		return f.Start, nil
	})
}

// pauseLeaderIsolateFollower: F is cut off from both others by iptables and
// healed after the hold.
func pauseLeaderIsolateFollower(ctx context.Context, e *env) (string, error) {
	if err := canPartition(e); err != nil {
		return "", err
	}
	return pauseLeaderCutFollower(ctx, e, "isolated", func(ctx context.Context, e *env, f *clustertest.Node) (func() error, error) {
		p := nemesis.Isolate(ip(f), ips(e.others(f)))
		if err := p.Start(ctx); err != nil {
			return nil, errors.Join(err, p.Heal(context.Background()))
		}
		return func() error { return p.Heal(context.Background()) }, nil
	})
}

// pauseLeaderCutFollower runs the compound steps, each polling for its
// condition with a deadline; the only fixed wait is the hold after L
// resumes (e.hold), while F is still away.
func pauseLeaderCutFollower(ctx context.Context, e *env, how string, cut cutFunc) (string, error) {
	b := &pendingBurst{}
	note, err := pauseAndCut(ctx, e, b, how, cut)
	b.wait()
	return fmt.Sprintf("%s; burst of %d: %d confirmed", note, b.sent, b.confirmed), err
}

func pauseAndCut(ctx context.Context, e *env, b *pendingBurst, how string, cut cutFunc) (note string, err error) {
	l, err := e.leader(ctx)
	if err != nil {
		return "", err
	}
	tag := e.nextBurst()
	b.fire(ctx, e, tag+"a") // in flight when L stops
	if err := l.Pause(); err != nil {
		return "", err
	}
	defer func() { _ = l.Resume() }()
	b.fire(ctx, e, tag+"b") // to L: wait in its sockets; elsewhere: forwarded to L until N is known
	note = "paused " + l.ID
	n, err := electedWithout(ctx, e, l)
	if err != nil {
		return note, fmt.Errorf("while %s is paused: %w", l.ID, err)
	}
	f := thirdNode(e, l, n)
	note += fmt.Sprintf("; %s elected; %s %s", n.ID, how, f.ID)
	restore, err := cut(ctx, e, f)
	if err != nil {
		return note, err
	}
	defer func() { err = errors.Join(err, restore()) }()
	note += "; " + noRunningLeader(ctx, e)
	if err := l.Resume(); err != nil {
		return note, err
	}
	return note + "; resumed " + l.ID, sleep(ctx, e.hold)
}

// thirdNode is the node that is neither a nor b.
func thirdNode(e *env, a, b *clustertest.Node) *clustertest.Node {
	for _, n := range e.c.Nodes() {
		if n != a && n != b {
			return n
		}
	}
	return nil
}

// electedWithout waits until a node other than old reports that it leads,
// and returns it.
func electedWithout(ctx context.Context, e *env, old *clustertest.Node) (*clustertest.Node, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var leader *clustertest.Node
	err := clustertest.Poll(ctx, 50*time.Millisecond, func() error {
		for _, n := range e.others(old) {
			st, err := n.Status(ctx)
			if err == nil && st.State == "Leader" {
				leader = n
				return nil
			}
		}
		return errors.New("no other node leads yet")
	})
	if err != nil {
		return nil, fmt.Errorf("no new leader: %w", err)
	}
	return leader, nil
}

// stepDownLimit bounds the wait for the quorum-less leader to step down.
const stepDownLimit = 10 * time.Second

// noRunningLeader waits until no running, unpaused node reports that it
// leads, or stepDownLimit passes (the scenario then goes on, and says so).
func noRunningLeader(ctx context.Context, e *env) string {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, stepDownLimit)
	defer cancel()
	err := clustertest.Poll(ctx, 20*time.Millisecond, func() error {
		for _, n := range e.c.Running() {
			if n.Paused() {
				continue
			}
			st, err := n.Status(ctx)
			if err != nil {
				return err
			}
			if st.State == "Leader" {
				return fmt.Errorf("%s still leads", n.ID)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Sprintf("no leader step-down within %v (%v)", stepDownLimit, err)
	}
	return fmt.Sprintf("no leader after %v", time.Since(start).Round(time.Millisecond))
}

// canPartition is errSkip when this machine cannot partition the nodes.
func canPartition(e *env) error {
	if !e.c.AddressesAreAliases() {
		return fmt.Errorf("%w: nodes share 127.0.0.1 (no loopback aliases), so addresses cannot be partitioned", errSkip)
	}
	if err := nemesis.Available("iptables"); err != nil {
		return fmt.Errorf("%w: %w", errSkip, err)
	}
	return nil
}

// burstPerNode is how many concurrent publishes a burst sends per queue
// and node each time it fires.
const burstPerNode = 4

// burstTimeout limits one burst publish: longer than the pause lasts, so
// publishes sent to the paused leader are still waiting when it resumes.
const burstTimeout = 10 * time.Second

// pendingBurst publishes concurrently through every node, besides the workload's
// producers (which send one publish at a time each), so that the paused
// leader surely holds publishes, its own clients' and forwarded ones.
// Every publish is recorded in its queue's History and checked like the
// workload's.
type pendingBurst struct {
	wg              sync.WaitGroup
	mu              sync.Mutex
	sent, confirmed int
}

// fire starts burstPerNode publishes per queue through every node.
func (b *pendingBurst) fire(ctx context.Context, e *env, tag string) {
	for _, q := range e.w.queues {
		h := e.w.hist[q]
		for _, n := range e.c.Nodes() {
			for k := range burstPerNode {
				id := fmt.Sprintf("%s-burst%s-%s-%d", q, tag, n.ID, k)
				h.Attempt(id)
				b.wg.Add(1)
				go b.publish(ctx, n, q, id, h)
			}
		}
	}
}

func (b *pendingBurst) publish(ctx context.Context, n *clustertest.Node, q, id string, h *checker.History) {
	defer b.wg.Done()
	ctx, cancel := context.WithTimeout(ctx, burstTimeout)
	defer cancel()
	data, _ := json.Marshal(map[string]string{"burst": id})
	ack, err := n.Admin().Publish(ctx, q, client.Message{ID: id, Event: "burst", Data: data})
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent++
	if err != nil {
		h.Fail(id)
		return
	}
	h.Confirm(id, ack.Seq)
	b.confirmed++
}

// wait returns when every publish of the burst has its outcome.
func (b *pendingBurst) wait() { b.wg.Wait() }
