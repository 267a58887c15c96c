package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/queue"
)

// publishDirect appends a message through the node while no gateway is up:
// the way another node's clients would publish while ours is disconnected.
func publishDirect(t *testing.T, ts *testServer, q string, data string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := ts.node.Propose(ctx, queue.Publish{Queue: q, Messages: []*queue.Message{{ID: client.NewMessageID(), Data: []byte(data)}}})
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("publish through the node: %v", err)
	}
	return res.Published[0].Seq
}

func waitConnected(t *testing.T, c *client.Client, want bool) {
	t.Helper()
	err := poll(15*time.Second, func() error {
		if c.Connected() != want {
			return fmt.Errorf("Connected() = %v", !want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTailResumesAfterReconnect(t *testing.T) {
	ts := newTestServer(t)
	c := dial(t, ts)
	ctx := testContext(t)
	for i := 1; i <= 3; i++ {
		publish(t, ctx, c, "feed", i)
	}
	sub, err := c.Subscribe(ctx, "feed", client.SubOptions{From: client.FromFirst})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	for i := uint64(1); i <= 3; i++ {
		if d := next(t, ctx, sub); d.Seq != i {
			t.Fatalf("got seq %d, want %d", d.Seq, i)
		}
	}
	ts.stopHTTP()
	waitConnected(t, c, false)
	for i := 4; i <= 6; i++ {
		publishDirect(t, ts, "feed", fmt.Sprint(i))
	}
	ts.startHTTP()
	publish(t, ctx, c, "feed", 7)
	for i := uint64(4); i <= 7; i++ {
		if d := next(t, ctx, sub); d.Seq != i {
			t.Fatalf("after reconnect got seq %d, want %d (no gap, no repeat)", d.Seq, i)
		}
	}
}

func TestGroupRejoinsAfterReconnect(t *testing.T) {
	ts := newTestServer(t)
	c := dial(t, ts)
	ctx := testContext(t)
	sub, err := c.Subscribe(ctx, "orders", client.SubOptions{Group: "billing", AckWait: time.Hour})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	publish(t, ctx, c, "orders", 1)
	publish(t, ctx, c, "orders", 2)
	if err := next(t, ctx, sub).Ack(ctx); err != nil {
		t.Fatalf("ack 1: %v", err)
	}
	held := next(t, ctx, sub)
	ts.stopHTTP()
	waitConnected(t, c, false)
	if err := held.Ack(ctx); !errors.Is(err, client.ErrStaleDelivery) {
		t.Errorf("ack of a delivery from the lost connection: %v, want ErrStaleDelivery", err)
	}
	publishDirect(t, ts, "orders", "3")
	ts.startHTTP()
	got := map[uint64]int{}
	for len(got) < 2 {
		d := next(t, ctx, sub)
		got[d.Seq] = d.Attempt
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("ack seq %d: %v", d.Seq, err)
		}
	}
	if got[2] != 2 || got[3] != 1 || len(got) != 2 {
		t.Errorf("after rejoin got seq→attempt %v, want 2→2 and 3→1 (and never 1)", got)
	}
}

// TestPublishesSurviveConnectionLoss drops the connection while a window of
// publishes is in flight: every publish must end confirmed, and the queue
// must hold exactly one copy of each, even of those re-sent after their
// first copy was committed and the reply lost. n stays below the publish
// window (256), so PublishAsync never waits while the server is down.
func TestPublishesSurviveConnectionLoss(t *testing.T) {
	const n = 200
	ts := newTestServer(t)
	c := dial(t, ts)
	ctx := testContext(t)
	futures := make([]*client.PublishFuture, n)
	for i := range n {
		futures[i] = c.PublishAsync("stream", client.Message{ID: fmt.Sprintf("id-%d", i), Data: json.RawMessage(fmt.Sprint(i))})
		if i == n/3 {
			ts.stopHTTP()
		}
	}
	waitConnected(t, c, false)
	ts.startHTTP()
	bySeq := map[uint64]string{}
	for i, f := range futures {
		ack, err := f.Wait(ctx)
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if prev, dup := bySeq[ack.Seq]; dup && prev != ack.MsgID {
			t.Fatalf("seq %d confirmed for %s and %s", ack.Seq, prev, ack.MsgID)
		}
		bySeq[ack.Seq] = ack.MsgID
	}
	l, err := newAdmin(t, ts).Read(ctx, "stream", 1, 1000)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	ids := map[string]bool{}
	for _, m := range l.Messages {
		if ids[m.MsgID] {
			t.Errorf("message id %s stored twice", m.MsgID)
		}
		ids[m.MsgID] = true
		if bySeq[m.Seq] != m.MsgID {
			t.Errorf("seq %d holds %s, confirmed as %s", m.Seq, m.MsgID, bySeq[m.Seq])
		}
	}
	if len(l.Messages) != n {
		t.Errorf("queue holds %d messages, want %d", len(l.Messages), n)
	}
}

func TestPublishSameIDTwiceIsOneCopy(t *testing.T) {
	ts := newTestServer(t)
	c := dial(t, ts)
	ctx := testContext(t)
	m := client.Message{ID: "order-42", Data: json.RawMessage(`{"id":42}`)}
	first, err := c.Publish(ctx, "orders", m)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Publish(ctx, "orders", m)
	if err != nil || !again.Duplicate || again.Seq != first.Seq {
		t.Fatalf("republish = %+v, %v; want duplicate of seq %d", again, err, first.Seq)
	}
	info, err := newAdmin(t, ts).Queue(ctx, "orders")
	if err != nil || info.Messages != 1 {
		t.Errorf("queue = %+v, %v; want 1 message", info, err)
	}
}

// TestNewTailKeepsItsPlaceAcrossReconnect: a tail from "new" that has not
// received anything yet must still get what was published while it was
// disconnected (it resumes from the seq the server said it started at).
func TestNewTailKeepsItsPlaceAcrossReconnect(t *testing.T) {
	ts := newTestServer(t)
	c := dial(t, ts)
	ctx := testContext(t)
	publish(t, ctx, c, "live", 1)
	sub, err := c.Subscribe(ctx, "live", client.SubOptions{From: client.FromNew})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	ts.stopHTTP()
	waitConnected(t, c, false)
	seq := publishDirect(t, ts, "live", "2")
	ts.startHTTP()
	if d := next(t, ctx, sub); d.Seq != seq {
		t.Errorf("after reconnect got seq %d, want %d (published while away)", d.Seq, seq)
	}
}
