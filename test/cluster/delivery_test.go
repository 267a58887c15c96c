package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
)

// TestCrossNodeDelivery: a client on node A publishes; tails on B and C get
// every message in order; two members of one group, on B and C, share the
// messages (each to one member); when the member on B disconnects without
// acking, the member on C gets its messages again.
func TestCrossNodeDelivery(t *testing.T) {
	c := startCluster(t, 3)
	ctx := timeout(t, 90*time.Second)
	nodes := c.Nodes()
	a, b, cc := nodes[0], nodes[1], nodes[2]
	const queue = "cross"
	if _, err := a.Admin().CreateQueue(ctx, queue, protocol.QueueConfig{}); err != nil {
		t.Fatal(err)
	}
	pub := dialNode(t, a)
	tailB := subscribe(t, dialNode(t, b), queue, client.SubOptions{From: client.FromFirst})
	tailC := subscribe(t, dialNode(t, cc), queue, client.SubOptions{From: client.FromFirst})
	clB := dialNode(t, b)
	memberB := subscribe(t, clB, queue, client.SubOptions{Group: "g", MaxInFlight: 100})
	publishN(t, pub, queue, 0, 10)
	memberC := subscribe(t, dialNode(t, cc), queue, client.SubOptions{Group: "g", MaxInFlight: 100})
	publishN(t, pub, queue, 10, 20)

	for name, tail := range map[string]*client.Subscription{"B": tailB, "C": tailC} {
		got := receive(t, tail, 20)
		for i, d := range got {
			if d.Seq != uint64(i+1) || d.MsgID != fmt.Sprintf("m%d", i) {
				t.Errorf("tail on %s: delivery %d is seq %d id %s, want seq %d id m%d", name, i, d.Seq, d.MsgID, i+1, i)
			}
		}
	}
	held, acked := shareGroup(t, memberB, memberC, 20)
	if len(held) == 0 {
		t.Fatal("the member on B received nothing, though it was the only member for 10 messages")
	}
	_ = clB.Close() // member B leaves without acking
	again := receive(t, memberC, len(held))
	for _, d := range again {
		if !held[d.Seq] || acked[d.Seq] {
			t.Errorf("member on C got seq %d again; want only B's unacked %v", d.Seq, held)
		}
		if d.Attempt < 2 {
			t.Errorf("redelivered seq %d has attempt %d, want >= 2", d.Seq, d.Attempt)
		}
		ack(t, d)
	}
}

// shareGroup receives n messages across two members of one group: B keeps
// its deliveries unacked, C acks. No seq may reach both. It returns the seqs
// B holds and the ones C acked.
func shareGroup(t *testing.T, memberB, memberC *client.Subscription, n int) (held, acked map[uint64]bool) {
	t.Helper()
	held, acked = map[uint64]bool{}, map[uint64]bool{}
	deadline := time.After(30 * time.Second)
	for len(held)+len(acked) < n {
		select {
		case d := <-memberB.C():
			held[d.Seq] = true
		case d := <-memberC.C():
			acked[d.Seq] = true
			ack(t, d)
		case <-deadline:
			t.Fatalf("group received %d of %d messages (B %d, C %d)", len(held)+len(acked), n, len(held), len(acked))
		}
	}
	for s := range held {
		if acked[s] {
			t.Errorf("seq %d went to both members", s)
		}
	}
	return held, acked
}

func dialNode(t *testing.T, n *Node) *client.Client {
	t.Helper()
	cl, err := client.Dial(timeout(t, 10*time.Second), []string{n.URL()}, ClientOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func subscribe(t *testing.T, cl *client.Client, queue string, o client.SubOptions) *client.Subscription {
	t.Helper()
	s, err := cl.Subscribe(timeout(t, 10*time.Second), queue, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// publishN publishes messages m<from> … m<to-1>, one by one.
func publishN(t *testing.T, cl *client.Client, queue string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		data, _ := json.Marshal(i)
		if _, err := cl.Publish(timeout(t, 10*time.Second), queue, client.Message{ID: fmt.Sprintf("m%d", i), Data: data}); err != nil {
			t.Fatalf("publish m%d: %v", i, err)
		}
	}
}

// receive takes n deliveries from s within 30 s.
func receive(t *testing.T, s *client.Subscription, n int) []*client.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*client.Delivery
	for len(out) < n {
		d, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("received %d of %d: %v", len(out), n, err)
		}
		out = append(out, d)
	}
	return out
}

func ack(t *testing.T, d *client.Delivery) {
	t.Helper()
	if err := d.Ack(timeout(t, 10*time.Second)); err != nil {
		t.Errorf("ack seq %d: %v", d.Seq, err)
	}
}

// TestGroupMemberNodeDies: a group member on follower B holds unacked
// messages when B is killed (-9); the member on C gets them again.
func TestGroupMemberNodeDies(t *testing.T) {
	c := startCluster(t, 3)
	ctx := timeout(t, 90*time.Second)
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var followers []*Node
	for _, n := range c.Nodes() {
		if n != leader {
			followers = append(followers, n)
		}
	}
	b, cc := followers[0], followers[1]
	const queue = "nodedies"
	if _, err := leader.Admin().CreateQueue(ctx, queue, protocol.QueueConfig{}); err != nil {
		t.Fatal(err)
	}
	memberB := subscribe(t, dialNode(t, b), queue, client.SubOptions{Group: "g", MaxInFlight: 100})
	publishN(t, dialNode(t, leader), queue, 0, 10)
	held := map[uint64]bool{}
	for _, d := range receive(t, memberB, 10) {
		held[d.Seq] = true
	}
	memberC := subscribe(t, dialNode(t, cc), queue, client.SubOptions{Group: "g", MaxInFlight: 100})
	b.Kill()
	for _, d := range receive(t, memberC, len(held)) {
		if !held[d.Seq] || d.Attempt < 2 {
			t.Errorf("member on C got seq %d attempt %d; want one of B's %v with attempt >= 2", d.Seq, d.Attempt, held)
		}
		ack(t, d)
	}
}
