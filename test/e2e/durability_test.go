package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
)

// TestKill9KeepsConfirmedMessagesAndGroupState publishes N confirmed
// messages, has a group ack the first K and hold some more unacked, kills
// the server with SIGKILL and restarts it on the same data dir. Every
// confirmed message must be readable, the acked ones must never come back,
// the held ones must come back to a new member, and de-duplication must
// still recognise an old message id.
func TestKill9KeepsConfirmedMessagesAndGroupState(t *testing.T) {
	const (
		queue   = "durable"
		group   = "billing"
		n       = 500
		acked   = 200
		held    = 20
		timeout = 60 * time.Second
	)
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*timeout)
	defer cancel()
	admin, err := client.NewAdmin(srv.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.CreateQueue(ctx, queue, protocol.QueueConfig{DedupWindow: "1h",
		Group: protocol.GroupConfig{AckWait: "1h", MaxInFlight: held, Start: &protocol.Position{Kind: "first"}}})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}

	c := dial(t, srv)
	acks := publishN(t, c, queue, n)
	sub, err := c.Subscribe(ctx, queue, client.SubOptions{Group: group})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	heldSeqs := consume(t, ctx, sub, acked, held)

	srv.kill9()
	c.Close()
	srv.start()

	checkAllReadable(t, ctx, admin, queue, acks)
	g, err := admin.Group(ctx, queue, group)
	if err != nil {
		t.Fatalf("group after restart: %v", err)
	}
	if g.AckFloor != uint64(acked) {
		t.Errorf("ack floor after restart = %d, want %d", g.AckFloor, acked)
	}
	c2 := dial(t, srv)
	checkRedelivery(t, ctx, c2, queue, group, acked, n, heldSeqs)
	checkDedup(t, ctx, c2, queue, acks[0])
}

func dial(t *testing.T, srv *server) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, []string{srv.URL()}, client.Options{ReconnectMax: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// publishN publishes n messages with a window of async publishes and
// returns their confirmations, in publish order.
func publishN(t *testing.T, c *client.Client, queue string, n int) []client.PublishAck {
	t.Helper()
	futures := make([]*client.PublishFuture, n)
	for i := range n {
		data, _ := json.Marshal(map[string]int{"i": i})
		futures[i] = c.PublishAsync(queue, client.Message{ID: fmt.Sprintf("m-%04d", i), Event: "e2e", Data: data})
	}
	acks := make([]client.PublishAck, n)
	for i, f := range futures {
		ack, err := f.Wait(context.Background())
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if ack.Duplicate || ack.Seq == 0 {
			t.Fatalf("publish %d: got %+v, want a new seq", i, ack)
		}
		acks[i] = ack
	}
	return acks
}

// consume acks the first `acked` deliveries (seqs 1..acked, in order) and
// then receives `held` more without acking them; it returns the held seqs.
func consume(t *testing.T, ctx context.Context, sub *client.Subscription, acked, held int) map[uint64]bool {
	t.Helper()
	for i := 1; i <= acked; i++ {
		d, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		if d.Seq != uint64(i) {
			t.Fatalf("delivery %d has seq %d, want in order", i, d.Seq)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("ack seq %d: %v", d.Seq, err)
		}
	}
	heldSeqs := map[uint64]bool{}
	for len(heldSeqs) < held {
		d, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("held delivery: %v", err)
		}
		heldSeqs[d.Seq] = true
	}
	return heldSeqs
}

// checkAllReadable reads the whole queue over HTTP and compares it with the
// confirmations.
func checkAllReadable(t *testing.T, ctx context.Context, admin *client.Admin, queue string, acks []client.PublishAck) {
	t.Helper()
	got := map[uint64]string{}
	for from, pages := uint64(1), 0; pages < 100; pages++ {
		l, err := admin.Read(ctx, queue, from, 1000)
		if err != nil {
			t.Fatalf("read from %d after restart: %v", from, err)
		}
		for _, m := range l.Messages {
			got[m.Seq] = m.MsgID
		}
		if len(l.Messages) == 0 || l.Next <= from {
			break
		}
		from = l.Next
	}
	for _, a := range acks {
		if got[a.Seq] != a.MsgID {
			t.Errorf("confirmed seq %d (id %s): after restart read %q", a.Seq, a.MsgID, got[a.Seq])
		}
	}
	if len(got) != len(acks) {
		t.Errorf("read %d messages after restart, want %d", len(got), len(acks))
	}
}

// checkRedelivery joins the group with a new member and receives every
// message the group has not acked: never an acked one, the held ones again.
func checkRedelivery(t *testing.T, ctx context.Context, c *client.Client, queue, group string, acked, n int, held map[uint64]bool) {
	t.Helper()
	sub, err := c.Subscribe(ctx, queue, client.SubOptions{Group: group})
	if err != nil {
		t.Fatalf("subscribe after restart: %v", err)
	}
	seen := map[uint64]bool{}
	for len(seen) < n-acked {
		d, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("after restart, %d of %d unacked messages received: %v", len(seen), n-acked, err)
		}
		if d.Seq <= uint64(acked) {
			t.Fatalf("acked seq %d was delivered again after restart", d.Seq)
		}
		if held[d.Seq] && d.Attempt < 2 {
			t.Errorf("held seq %d redelivered with attempt %d, want >= 2", d.Seq, d.Attempt)
		}
		seen[d.Seq] = true
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("ack seq %d after restart: %v", d.Seq, err)
		}
	}
	if err := sub.Unsubscribe(ctx); err != nil {
		t.Errorf("unsubscribe: %v", err)
	}
}

func checkDedup(t *testing.T, ctx context.Context, c *client.Client, queue string, first client.PublishAck) {
	t.Helper()
	ack, err := c.Publish(ctx, queue, client.Message{ID: first.MsgID, Event: "e2e", Data: json.RawMessage(`{"i":0}`)})
	if err != nil {
		t.Fatalf("republish %s: %v", first.MsgID, err)
	}
	if !ack.Duplicate || ack.Seq != first.Seq {
		t.Errorf("republish of %s after restart = seq %d duplicate %v, want seq %d duplicate true",
			first.MsgID, ack.Seq, ack.Duplicate, first.Seq)
	}
}
