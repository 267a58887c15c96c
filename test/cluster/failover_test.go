package clustertest

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestKillLeaderUnderLoad: producers through every node and a group
// consuming and acking; -leader-kills times, kill -9 the leader, wait for a
// new one, restart the old one. The checker finds nothing lost, nothing
// unexpected, and every node stores the same messages.
func TestKillLeaderUnderLoad(t *testing.T) {
	c := startCluster(t, 3)
	w := watchLeaders(t, c)
	l := startLoad(t, c, "kills")
	l.waitConfirmed(t, 50, 30*time.Second)
	for round := range *leaderKills {
		ctx := timeout(t, 60*time.Second)
		leader, err := c.Leader(ctx)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		leader.Kill()
		if _, err := c.Leader(ctx); err != nil {
			t.Fatalf("round %d: no new leader after killing %s: %v", round, leader.ID, err)
		}
		if err := leader.Start(); err != nil {
			t.Fatal(err)
		}
		mustBeReady(t, c, leader.WaitReady(ctx))
		l.waitConfirmed(t, 20, 30*time.Second)
		t.Logf("round %d: killed leader %s, restarted", round+1, leader.ID)
	}
	l.verify(t, c)
	if n, err := w.Stop(); err != nil {
		t.Errorf("leader watch (%d samples): %v", n, err)
	}
}

// TestEmptyDataRestart: under load, a follower and then the leader lose
// their volume and come back empty; each rejoins the one cluster (never
// bootstraps a second), re-syncs, and nothing is lost.
func TestEmptyDataRestart(t *testing.T) {
	c := startCluster(t, 3)
	w := watchLeaders(t, c)
	l := startLoad(t, c, "wipe")
	l.waitConfirmed(t, 100, 30*time.Second)
	for _, pick := range []string{"follower", "leader"} {
		ctx := timeout(t, 90*time.Second)
		leader, err := c.Leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		victim := leader
		if pick == "follower" {
			victim = follower(c, leader)
		}
		if err := victim.Wipe(); err != nil {
			t.Fatal(err)
		}
		if err := victim.WaitReady(ctx); err != nil {
			t.Fatalf("%s %s wiped: %v", pick, victim.ID, err)
		}
		l.waitConfirmed(t, 50, 30*time.Second)
		checkVoters(t, c, c.Nodes())
		t.Logf("wiped the %s %s: rejoined", pick, victim.ID)
	}
	l.verify(t, c)
	if n, err := w.Stop(); err != nil {
		t.Errorf("leader watch (%d samples): %v", n, err)
	}
}

// TestPausedLeader: the leader is paused (SIGSTOP) past the election
// timeout under load; the others elect a new leader; the old one, resumed,
// follows it. Nothing is lost and there is one history.
func TestPausedLeader(t *testing.T) {
	c := startCluster(t, 3)
	w := watchLeaders(t, c)
	l := startLoad(t, c, "pause")
	l.waitConfirmed(t, 50, 30*time.Second)
	ctx := timeout(t, 90*time.Second)
	old, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Pause(); err != nil {
		t.Fatal(err)
	}
	err = Poll(ctx, 50*time.Millisecond, func() error {
		st, err := follower(c, old).Status(ctx)
		if err != nil {
			return err
		}
		if st.Leader == "" || st.Leader == old.ID {
			return fmt.Errorf("leader is still %q", st.Leader)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("no new leader while %s is paused: %v", old.ID, err)
	}
	l.waitConfirmed(t, 20, 30*time.Second)
	if err := old.Resume(); err != nil {
		t.Fatal(err)
	}
	now, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("paused leader %s; %s leads now", old.ID, now.ID)
	l.verify(t, c)
	if n, err := w.Stop(); err != nil {
		t.Errorf("leader watch (%d samples): %v", n, err)
	}
}

// follower returns a running node other than leader.
func follower(c *Cluster, leader *Node) *Node {
	for _, n := range c.Running() {
		if n != leader {
			return n
		}
	}
	return nil
}

// TestRollingRestart stops (SIGTERM) and restarts each node in turn under
// load, waiting for it to be ready before the next; nothing is lost.
func TestRollingRestart(t *testing.T) {
	c := startCluster(t, 3)
	l := startLoad(t, c, "rolling")
	l.waitConfirmed(t, 50, 30*time.Second)
	for _, n := range c.Nodes() {
		ctx := timeout(t, 60*time.Second)
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stop %s: %v", n.ID, err)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		mustBeReady(t, c, n.WaitReady(ctx))
		l.waitConfirmed(t, 20, 30*time.Second)
	}
	l.verify(t, c)
}

// TestFullStopStart stops all three nodes at once and starts them again:
// the cluster re-forms from disk with every confirmed message.
func TestFullStopStart(t *testing.T) {
	c := startCluster(t, 3)
	l := startLoad(t, c, "full")
	l.waitConfirmed(t, 100, 30*time.Second)
	l.stop()
	ctx := timeout(t, 90*time.Second)
	var wg sync.WaitGroup
	for _, n := range c.Nodes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Stop(ctx); err != nil {
				t.Errorf("stop %s: %v", n.ID, err)
			}
		}()
	}
	wg.Wait()
	for _, n := range c.Nodes() {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	mustBeReady(t, c, c.WaitReady(ctx))
	checkVoters(t, c, c.Nodes())
	stored, err := ReadAll(ctx, c.Nodes()[0], "full")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, s := range stored {
		have[s.ID] = true
	}
	for _, id := range l.h.Confirmed() {
		if !have[id] {
			t.Errorf("confirmed message %s is missing after the full restart", id)
		}
	}
	checkSameContents(t, c, "full")
}
