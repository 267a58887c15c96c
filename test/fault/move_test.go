package faulttest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/test/checker"
	clustertest "github.com/carriermq/carrier/test/cluster"
	"github.com/carriermq/carrier/test/nemesis"
)

// movePublishes is how many publishes the moving client confirms while its
// first node is cut off.
const movePublishes = 20

// TestClientMovesOffCutOffNode: a client connected to a follower that is
// cut off from the other two keeps getting not_leader there (the majority
// elected nothing new: the follower simply cannot reach the leader). With
// the default Options.MoveAfter it moves to its next URL and its publishes
// are confirmed while the partition lasts; its tail follows it and
// receives them. The control, MoveAfter negative, stays and confirms
// nothing: the test can tell the two apart.
func TestClientMovesOffCutOffNode(t *testing.T) {
	ctx := timeout(t, 3*time.Minute)
	c := partitionableCluster(ctx, t, carrierBin)
	f, others := follower(ctx, t, c)
	urls := append([]string{f.URL()}, c.URLs(others...)...) // f first: both clients connect to it
	staying := dialPublisher(ctx, t, urls, -1)
	moving := dialPublisher(ctx, t, urls, 0)
	tail, err := moving.Subscribe(ctx, "move", client.SubOptions{From: "new"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*client.Client{staying, moving} {
		if _, err := cl.Publish(ctx, "move", client.Message{ID: "before", Data: []byte(`0`)}); err != nil {
			t.Fatalf("publish through %s before the partition: %v", f.ID, err)
		}
	}

	p := nemesis.Isolate(ip(f), ips(others))
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Heal(context.Background()) })

	h := checker.NewHistory()
	for i := range movePublishes {
		id := fmt.Sprintf("moved-%02d", i)
		h.Attempt(id)
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ack, err := moving.Publish(pctx, "move", client.Message{ID: id, Data: []byte(`1`)})
		cancel()
		if err != nil {
			t.Fatalf("publish %s while %s is cut off: %v (the client did not move)", id, f.ID, err)
		}
		h.Confirm(id, ack.Seq)
	}
	checkStayed(ctx, t, staying)
	if err := receiveAll(ctx, tail, h); err != nil {
		t.Fatalf("the tail that moved with its client: %v", err)
	}
	if err := p.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}

// follower returns a follower and the other two nodes.
func follower(ctx context.Context, t *testing.T, c *clustertest.Cluster) (*clustertest.Node, []*clustertest.Node) {
	t.Helper()
	l, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var f *clustertest.Node
	var others []*clustertest.Node
	for _, n := range c.Nodes() {
		if n != l && f == nil {
			f = n
			continue
		}
		others = append(others, n)
	}
	return f, others
}

func dialPublisher(ctx context.Context, t *testing.T, urls []string, moveAfter time.Duration) *client.Client {
	t.Helper()
	cl, err := client.Dial(ctx, urls, client.Options{DialTimeout: 2 * time.Second, ReconnectMin: 50 * time.Millisecond,
		ReconnectMax: 500 * time.Millisecond, MoveAfter: moveAfter})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// checkStayed: the control client, which never moves, still cannot
// publish: its node answers not_leader while cut off.
func checkStayed(ctx context.Context, t *testing.T, cl *client.Client) {
	t.Helper()
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := cl.Publish(pctx, "move", client.Message{ID: "stayed", Data: []byte(`2`)})
	if err == nil {
		t.Fatal("the control client (MoveAfter < 0) was confirmed through the cut-off node: the partition did not hold")
	}
	if !errors.Is(err, context.DeadlineExceeded) && client.CodeOf(err) != protocol.CodeNotLeader {
		t.Fatalf("the control client: %v; want not_leader until its deadline", err)
	}
}

// receiveAll reads tail until every confirmed message of h arrived.
func receiveAll(ctx context.Context, tail *client.Subscription, h *checker.History) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(h.MissingFor("tail")) > 0 {
		d, err := tail.Next(ctx)
		if err != nil {
			return fmt.Errorf("%d confirmed messages not received: %w", len(h.MissingFor("tail")), err)
		}
		h.Receive(checker.Delivery{ID: d.MsgID, Seq: d.Seq, Reader: "tail"})
	}
	return nil
}
