package faulttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/test/checker"
	clustertest "github.com/carriermq/carrier/test/cluster"
	"github.com/carriermq/carrier/test/nemesis"
)

// TestBrokenBuildIsCaught shows that the checker can fail. The same steps
// run against the real binary and against one built with the test-only tag
// carrier_unsafe_early_confirm, which confirms a publish as soon as the
// leader hands it to Raft instead of after the commit: the leader is cut off
// from the other two, a client connected only to it publishes a burst, the
// partition heals, and a group member on another node reads the queue.
//
// Real build: nothing is confirmed while the leader is cut off (it cannot
// commit, and steps down within its lease), and the checker passes. Broken
// build: the burst is "confirmed", the entries die with the old leader's
// term, and the checker reports them lost.
func TestBrokenBuildIsCaught(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bin      *string
		wantLoss bool
	}{{"real", &carrierBin, false}, {"broken", &brokenBin, true}} {
		t.Run(tc.name, func(t *testing.T) {
			confirmed, r := burstToIsolatedLeader(t, *tc.bin)
			t.Logf("%s build: %d confirmed while the leader was cut off; checker: %s", tc.name, confirmed, r)
			switch {
			case tc.wantLoss && (confirmed == 0 || len(r.Lost) == 0 || r.Err() == nil):
				t.Errorf("the broken build was not caught: %d confirmed, checker %v", confirmed, r.Err())
			case !tc.wantLoss && confirmed != 0:
				t.Errorf("a leader cut off from the majority confirmed %d publishes", confirmed)
			case !tc.wantLoss && r.Err() != nil:
				t.Errorf("real build: %v", r.Err())
			}
		})
	}
}

// burstSize is the number of publishes sent to the cut-off leader.
const burstSize = 200

// partitionableCluster starts 3 nodes of bin whose addresses iptables can
// cut apart, and waits until they are ready; it skips, saying why, when
// they cannot be partitioned here.
func partitionableCluster(ctx context.Context, t *testing.T, bin string) *clustertest.Cluster {
	t.Helper()
	c, err := clustertest.New(clustertest.Options{Bin: bin, Dir: t.TempDir(), Size: 3, LogLevel: "info"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if !c.AddressesAreAliases() {
		t.Skip("SKIP: nodes share 127.0.0.1 (no loopback aliases), so they cannot be partitioned")
	}
	if err := nemesis.Available("iptables"); err != nil {
		t.Skipf("SKIP: %v", err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func burstToIsolatedLeader(t *testing.T, bin string) (int, checker.Report) {
	ctx := timeout(t, 2*time.Minute)
	c := partitionableCluster(ctx, t, bin)
	l, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var others []*clustertest.Node
	for _, n := range c.Nodes() {
		if n != l {
			others = append(others, n)
		}
	}
	h := checker.NewHistory()
	rd, err := startReader(ctx, "burst", readerGroup, c.URLs(others...), c.ClientTLS(), h, client.SubOptions{Group: readerGroup, MaxInFlight: 64, Buffer: 512})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rd.stop)
	cl, err := client.Dial(ctx, []string{l.URL()}, client.Options{DialTimeout: 2 * time.Second, TLS: c.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	p := nemesis.Isolate(ip(l), ips(others))
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Heal(context.Background()) })
	confirmed := burst(ctx, cl, h)
	// Heal only once the majority has a new leader: the old one's term is
	// then over, and whatever it did not commit is overwritten.
	if err := newLeaderAmong(ctx, others, l); err != nil {
		t.Fatal(err)
	}
	if err := p.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leader(ctx); err != nil {
		t.Fatal(err)
	}
	// Give the group time to receive what was confirmed; the broken build's
	// lost messages never come, so this wait ends at its deadline.
	_ = clustertest.Poll(timeout(t, 15*time.Second), 100*time.Millisecond, func() error {
		if m := h.MissingFor(readerGroup); len(m) > 0 {
			return fmt.Errorf("%d missing", len(m))
		}
		return nil
	})
	return confirmed, checker.CheckReader(h, readerGroup)
}

// burst publishes burstSize messages without waiting, then collects the
// outcomes (for 3 s in all), recording them in h.
func burst(ctx context.Context, cl *client.Client, h *checker.History) int {
	futures := make([]*client.PublishFuture, burstSize)
	for i := range futures {
		id := fmt.Sprintf("burst-%03d", i)
		h.Attempt(id)
		futures[i] = cl.PublishAsync("burst", client.Message{ID: id, Event: "b", Data: []byte(`1`)})
	}
	confirmed := 0
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for i, f := range futures {
		id := fmt.Sprintf("burst-%03d", i)
		ack, err := f.Wait(wctx)
		if err != nil {
			h.Fail(id)
			continue
		}
		h.Confirm(id, ack.Seq)
		confirmed++
	}
	return confirmed
}

// newLeaderAmong waits until a node of ns names a leader other than old.
func newLeaderAmong(ctx context.Context, ns []*clustertest.Node, old *clustertest.Node) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return clustertest.Poll(ctx, 50*time.Millisecond, func() error {
		st, err := ns[0].Status(ctx)
		if err != nil {
			return err
		}
		if st.Leader == "" || st.Leader == old.ID {
			return fmt.Errorf("%s sees leader %q", ns[0].ID, st.Leader)
		}
		return nil
	})
}
