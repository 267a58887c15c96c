package clustertest

import (
	"fmt"
	"testing"
	"time"
)

// TestScale3To5To3 adds two empty nodes to a loaded 3-node cluster (they
// join as non-voters and are promoted), then takes two out through the
// admin API (one removed, one leaving by itself); nothing is lost. A removed
// node restarted with its old data does not come back as a voter until it
// is explicitly re-added.
func TestScale3To5To3(t *testing.T) {
	c := startCluster(t, 3)
	w := watchLeaders(t, c)
	l := startLoad(t, c, "scale")
	l.waitConfirmed(t, 50, 30*time.Second)
	ctx := timeout(t, 120*time.Second)
	for range 2 {
		n, err := c.Add()
		if err != nil {
			t.Fatal(err)
		}
		if err := n.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	checkVoters(t, c, c.Nodes())
	l.waitConfirmed(t, 20, 30*time.Second)

	nodes := c.Nodes()
	removed := []*Node{nodes[3], nodes[4]}
	// One is removed by the operator's call, the other leaves by itself.
	if err := c.Remove(ctx, nodes[0], removed[0].ID); err != nil {
		t.Fatalf("remove %s: %v", removed[0].ID, err)
	}
	if err := c.Leave(ctx, removed[1]); err != nil {
		t.Fatalf("%s leave: %v", removed[1].ID, err)
	}
	for _, n := range removed {
		n.Kill()
	}
	checkVoters(t, c, nodes[:3])
	l.waitConfirmed(t, 20, 30*time.Second)
	l.verify(t, c)

	back := removed[0]
	if err := back.Start(); err != nil {
		t.Fatal(err)
	}
	// A removed member must stay out: watch the configuration for a while.
	// (An absence can only be observed for a bounded time.)
	for range 20 {
		checkNotVoter(t, c, nodes[0], back.ID)
		time.Sleep(100 * time.Millisecond)
	}
	if err := c.ReAdd(ctx, nodes[0], back); err != nil {
		t.Fatalf("re-add %s: %v", back.ID, err)
	}
	checkVoters(t, c, append(nodes[:3:3], back))
	if n, err := w.Stop(); err != nil {
		t.Errorf("leader watch (%d samples): %v", n, err)
	}
}

func checkNotVoter(t *testing.T, c *Cluster, via *Node, id string) {
	t.Helper()
	st, err := via.Status(timeout(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Members {
		if m.ID == id && InConfiguration(m.Suffrage) {
			t.Fatalf("removed node %s is back in the configuration as %s: %v", id, m.Suffrage, fmt.Sprint(st.Members))
		}
	}
}
