package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/queue"
)

func dial(t *testing.T, ts *testServer) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, []string{ts.URL()}, client.Options{ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func next(t *testing.T, ctx context.Context, s *client.Subscription) *client.Delivery {
	t.Helper()
	d, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("next delivery: %v", err)
	}
	return d
}

func publish(t *testing.T, ctx context.Context, c *client.Client, queue string, i int) client.PublishAck {
	t.Helper()
	ack, err := c.Publish(ctx, queue, client.Message{Event: "n", Data: json.RawMessage(fmt.Sprint(i))})
	if err != nil {
		t.Fatalf("publish %d: %v", i, err)
	}
	return ack
}

func TestPublishSubscribeAck(t *testing.T) {
	ts := newTestServer(t)
	c := dial(t, ts)
	ctx := testContext(t)
	sub, err := c.Subscribe(ctx, "orders", client.SubOptions{Group: "billing"})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	sent := client.Message{ID: "m1", Event: "order.created", Data: json.RawMessage(`{"id":1}`),
		Headers: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	ack, err := c.Publish(ctx, "orders", sent)
	if err != nil || ack.Seq != 1 || ack.MsgID != "m1" || ack.Duplicate {
		t.Fatalf("publish = %+v, %v; want seq 1 id m1", ack, err)
	}
	d := next(t, ctx, sub)
	if d.Seq != 1 || d.MsgID != "m1" || d.Event != sent.Event || string(d.Data) != `{"id":1}` ||
		d.Headers["traceparent"] != sent.Headers["traceparent"] || d.Attempt != 1 || d.Group != "billing" || d.Time.IsZero() {
		t.Errorf("delivery = %+v", d)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatalf("ack: %v", err)
	}
	if err := d.Ack(ctx); client.CodeOf(err) != string(queue.CodeNotPending) {
		t.Errorf("second ack: error %v, want code %s", err, queue.CodeNotPending)
	}
	admin := newAdmin(t, ts)
	g, err := admin.Group(ctx, "orders", "billing")
	if err != nil || g.AckFloor != 1 || g.Unacked != 0 || g.Members != 1 {
		t.Errorf("group = %+v, %v; want ack floor 1, nothing unacked, 1 member", g, err)
	}
}

func TestNackRedeliversWithNextAttempt(t *testing.T) {
	ts := newTestServer(t)
	c := dial(t, ts)
	ctx := testContext(t)
	sub, err := c.Subscribe(ctx, "jobs", client.SubOptions{Group: "workers"})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	publish(t, ctx, c, "jobs", 1)
	d := next(t, ctx, sub)
	if err := d.Nack(ctx, 0); err != nil {
		t.Fatalf("nack: %v", err)
	}
	again := next(t, ctx, sub)
	if again.Seq != d.Seq || again.Attempt != 2 {
		t.Errorf("after nack got seq %d attempt %d, want seq %d attempt 2", again.Seq, again.Attempt, d.Seq)
	}
}

func TestBatchAndAsyncPublish(t *testing.T) {
	ts := newTestServer(t)
	c := dial(t, ts)
	ctx := testContext(t)
	acks, err := c.PublishBatch(ctx, "b", []client.Message{{Data: json.RawMessage(`1`)}, {ID: "two", Data: json.RawMessage(`2`)}})
	if err != nil || len(acks) != 2 || acks[0].Seq != 1 || acks[1].Seq != 2 || acks[1].MsgID != "two" || acks[0].MsgID == "" {
		t.Fatalf("batch = %+v, %v", acks, err)
	}
	futures := make([]*client.PublishFuture, 50)
	for i := range futures {
		futures[i] = c.PublishAsync("b", client.Message{Data: json.RawMessage(fmt.Sprint(i))})
	}
	for i, f := range futures {
		ack, err := f.Wait(ctx)
		if err != nil || ack.Seq != uint64(3+i) {
			t.Fatalf("async publish %d = %+v, %v; want seq %d (call order)", i, ack, err, 3+i)
		}
	}
}

func TestServerErrorsCarryCodes(t *testing.T) {
	ts := newTestServer(t)
	c := dial(t, ts)
	ctx := testContext(t)
	_, err := c.Subscribe(ctx, "bad name!", client.SubOptions{})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != string(queue.CodeBadName) || ce.Message == "" {
		t.Fatalf("subscribe with a bad name: error %v, want code %s", err, queue.CodeBadName)
	}
	if client.IsRetryable(err) {
		t.Errorf("IsRetryable(%v) = true", err)
	}
	_, err = c.Publish(ctx, "q", client.Message{Data: json.RawMessage(`{not json`)})
	if err == nil || client.IsRetryable(err) {
		t.Errorf("publish of invalid JSON: error %v, want a final error", err)
	}
	big, _ := json.Marshal(strings.Repeat("x", 1500<<10))
	_, err = c.Publish(ctx, "q", client.Message{Data: big})
	if client.CodeOf(err) != string(queue.CodeMessageTooBig) {
		t.Errorf("publish of 1.5 MiB: error %v, want code %s", err, queue.CodeMessageTooBig)
	}
}

func TestDialFailsWithoutServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx := testContext(t)
	_, err = client.Dial(ctx, []string{addr}, client.Options{DialTimeout: time.Second})
	if !errors.Is(err, client.ErrNotConnected) {
		t.Errorf("dial of a closed port: error %v, want ErrNotConnected", err)
	}
}

func TestDialSkipsUnreachableURLs(t *testing.T) {
	ts := newTestServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	ctx := testContext(t)
	c, err := client.Dial(ctx, []string{dead, ts.URL(), dead}, client.Options{DialTimeout: time.Second})
	if err != nil {
		t.Fatalf("dial with one live URL of three: %v", err)
	}
	defer c.Close()
	if ack, err := c.Publish(ctx, "q", client.Message{Data: json.RawMessage(`1`)}); err != nil || ack.Seq != 1 {
		t.Errorf("publish = %+v, %v", ack, err)
	}
}

func TestCloseEndsSubscriptionsAndRequests(t *testing.T) {
	ts := newTestServer(t)
	c := dial(t, ts)
	ctx := testContext(t)
	sub, err := c.Subscribe(ctx, "q", client.SubOptions{From: client.FromFirst})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, ok := <-sub.C(); ok {
		t.Error("subscription channel still open after Close")
	}
	if _, err := sub.Next(ctx); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
	if _, err := c.Publish(ctx, "q", client.Message{}); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
	if _, err := c.PublishAsync("q", client.Message{}).Wait(ctx); !errors.Is(err, client.ErrClosed) {
		t.Errorf("PublishAsync after Close: %v, want ErrClosed", err)
	}
}

// TestSubscribeGivenUpIsDroppedOnServer: a subscribe whose context ends
// before the confirmation must not leave a member behind on the server.
func TestSubscribeGivenUpIsDroppedOnServer(t *testing.T) {
	ts := newTestServer(t)
	c := dial(t, ts)
	ctx := testContext(t)
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Subscribe(gone, "q", client.SubOptions{Group: "g"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("subscribe with a cancelled context: %v", err)
	}
	admin := newAdmin(t, ts)
	err := poll(10*time.Second, func() error {
		// The subscribe was written before Subscribe returned, so the
		// group appears; its member must then leave.
		g, err := admin.Group(ctx, "q", "g")
		if err == nil && g.Members != 0 {
			err = fmt.Errorf("group has %d members", g.Members)
		}
		return err
	})
	if err != nil {
		t.Errorf("abandoned subscribe: %v", err)
	}
}

func TestTailEndsWhenItsQueueIsDeleted(t *testing.T) {
	ts := newTestServer(t)
	c := dial(t, ts)
	ctx := testContext(t)
	sub, err := c.Subscribe(ctx, "doomed", client.SubOptions{From: client.FromFirst})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := newAdmin(t, ts).DeleteQueue(ctx, "doomed"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	select {
	case <-sub.Done():
	case <-ctx.Done():
		t.Fatal("subscription still running after its queue was deleted")
	}
	if client.CodeOf(sub.Err()) != string(queue.CodeQueueNotFound) {
		t.Errorf("Err() = %v, want code %s", sub.Err(), queue.CodeQueueNotFound)
	}
	if _, err := sub.Next(ctx); client.CodeOf(err) != string(queue.CodeQueueNotFound) {
		t.Errorf("Next after the end: %v", err)
	}
}

// Dial connects to the first URL that answers, in the order given.
func TestDialTriesURLsInOrder(t *testing.T) {
	first, second := newTestServer(t), newTestServer(t)
	ctx := testContext(t)
	c, err := client.Dial(ctx, []string{first.URL(), second.URL()}, client.Options{DialTimeout: time.Second})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Publish(ctx, "order", client.Message{Data: json.RawMessage(`1`)}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	for _, s := range []struct {
		ts   *testServer
		want bool
	}{{first, true}, {second, false}} {
		a, err := client.NewAdmin(s.ts.URL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Queue(ctx, "order")
		if got := err == nil; got != s.want {
			t.Errorf("server %s has the queue: %v (err %v), want %v", s.ts.URL(), got, err, s.want)
		}
	}
}
