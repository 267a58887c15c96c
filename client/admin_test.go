package client_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

func newAdmin(t *testing.T, ts *testServer) *client.Admin {
	t.Helper()
	a, err := client.NewAdmin(ts.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAdminQueueLifecycle(t *testing.T) {
	ts := newTestServer(t)
	a := newAdmin(t, ts)
	ctx := testContext(t)
	cfg := protocol.QueueConfig{MaxMessages: 100, MaxAge: "1h0m0s", Discard: "new", Group: protocol.GroupConfig{MaxDeliver: 3}}
	q, err := a.CreateQueue(ctx, "orders", cfg)
	if err != nil || q.Name != "orders" || q.Config.MaxMessages != 100 || q.Config.MaxAge != "1h0m0s" || q.Config.Group.MaxDeliver != 3 {
		t.Fatalf("create = %+v, %v", q, err)
	}
	if _, err := a.CreateQueue(ctx, "orders", protocol.QueueConfig{MaxMessages: 5}); client.CodeOf(err) != string(queue.CodeQueueExists) {
		t.Errorf("create with other settings: %v, want %s", err, queue.CodeQueueExists)
	}
	q, err = a.UpdateQueue(ctx, "orders", protocol.QueueConfig{MaxMessages: 200})
	if err != nil || q.Config.MaxMessages != 200 || q.Config.Discard != "new" {
		t.Errorf("update = %+v, %v; want maxMessages 200 and discard kept", q, err)
	}
	for i := range 3 {
		if _, err := a.Publish(ctx, "orders", client.Message{Data: json.RawMessage{byte('1' + i)}}); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	l, err := a.Read(ctx, "orders", 2, 10)
	if err != nil || len(l.Messages) != 2 || l.Messages[0].Seq != 2 || string(l.Messages[1].Data) != "3" {
		t.Errorf("read from 2 = %+v, %v", l, err)
	}
	qs, err := a.Queues(ctx)
	if err != nil || len(qs) != 1 || qs[0].Messages != 3 {
		t.Errorf("queues = %+v, %v", qs, err)
	}
	if n, err := a.PurgeQueue(ctx, "orders"); err != nil || n != 3 {
		t.Errorf("purge = %d, %v; want 3", n, err)
	}
	if err := a.DeleteQueue(ctx, "orders"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := a.Queue(ctx, "orders"); client.CodeOf(err) != string(queue.CodeQueueNotFound) {
		t.Errorf("info after delete: %v, want %s", err, queue.CodeQueueNotFound)
	}
	st, err := a.Cluster(ctx)
	if err != nil || st.NodeID != "client-test" || st.State != "Leader" {
		t.Errorf("cluster = %+v, %v", st, err)
	}
	if err := a.Ready(ctx); err != nil {
		t.Errorf("ready: %v", err)
	}
}

func TestAdminDeadLettersAndRedrive(t *testing.T) {
	ts := newTestServer(t)
	a := newAdmin(t, ts)
	c := dial(t, ts)
	ctx := testContext(t)
	sub, err := c.Subscribe(ctx, "jobs", client.SubOptions{Group: "workers", MaxDeliver: 1})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	publish(t, ctx, c, "jobs", 7)
	if err := next(t, ctx, sub).Nack(ctx, 0); err != nil {
		t.Fatalf("nack: %v", err)
	}
	var l protocol.DeadLetterList
	err = poll(10*time.Second, func() (err error) {
		l, err = a.DeadLetters(ctx, "jobs", 0, 10)
		if err == nil && len(l.DeadLetters) != 1 {
			err = errNotYet
		}
		return err
	})
	if err != nil {
		t.Fatalf("dead letters: %v", err)
	}
	dl := l.DeadLetters[0]
	if dl.Group != "workers" || dl.Message.Seq != 1 || string(dl.Message.Data) != "7" || len(dl.Deliveries) != 1 || dl.Deliveries[0].Outcome != "nack" {
		t.Errorf("dead letter = %+v", dl)
	}
	if n, err := a.Redrive(ctx, "jobs", []uint64{dl.DLSeq}); err != nil || n != 1 {
		t.Fatalf("redrive = %d, %v", n, err)
	}
	d := next(t, ctx, sub)
	if d.Seq != 1 || d.Attempt != 1 {
		t.Errorf("after redrive got seq %d attempt %d, want 1 and 1", d.Seq, d.Attempt)
	}
}

var errNotYet = errors.New("not yet")
