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
	q, err = a.UpdateQueue(ctx, "orders", protocol.QueueConfig{MaxMessages: 200}, "")
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

// Versions: every read carries an ETag, an update with a stale one fails
// with precondition_failed and changes nothing, the current one or "*"
// applies; groups are created, updated in place and deleted.
func TestAdminVersionsAndGroups(t *testing.T) {
	ts := newTestServer(t)
	a := newAdmin(t, ts)
	ctx := testContext(t)
	q, err := a.CreateQueue(ctx, "orders", protocol.QueueConfig{})
	if err != nil || q.ETag == "" {
		t.Fatalf("create = %+v, %v; want an ETag", q, err)
	}
	_, err = a.UpdateQueue(ctx, "orders", protocol.QueueConfig{MaxMessages: 5}, "0000000000000000")
	var e *client.Error
	if !errors.As(err, &e) || e.Code != protocol.CodePreconditionFailed || e.HTTPStatus() != 412 || client.IsRetryable(err) {
		t.Fatalf("update with a stale version: %v, want a non-retryable %s", err, protocol.CodePreconditionFailed)
	}
	if now, err := a.Queue(ctx, "orders"); err != nil || now.ETag != q.ETag || now.Config.MaxMessages == 5 {
		t.Fatalf("after the refused update: %+v, %v", now, err)
	}
	q2, err := a.UpdateQueue(ctx, "orders", protocol.QueueConfig{MaxMessages: 5}, q.ETag)
	if err != nil || q2.Config.MaxMessages != 5 || q2.ETag == q.ETag {
		t.Fatalf("update with the current version = %+v, %v", q2, err)
	}
	if q3, err := a.UpdateQueue(ctx, "orders", protocol.QueueConfig{MaxMessages: 6}, "*"); err != nil || q3.Config.MaxMessages != 6 {
		t.Fatalf("update with * = %+v, %v", q3, err)
	}

	g, err := a.CreateGroup(ctx, "orders", "billing", protocol.GroupConfig{MaxInFlight: 1})
	if err != nil || g.ETag == "" || g.Config.MaxInFlight != 1 {
		t.Fatalf("create group = %+v, %v", g, err)
	}
	if _, err := a.UpdateGroup(ctx, "orders", "billing", protocol.GroupConfig{MaxInFlight: 9}, q.ETag); client.CodeOf(err) != protocol.CodePreconditionFailed {
		t.Errorf("group update with another object's version: %v, want %s", err, protocol.CodePreconditionFailed)
	}
	g2, err := a.UpdateGroup(ctx, "orders", "billing", protocol.GroupConfig{MaxInFlight: 9}, g.ETag)
	if err != nil || g2.Config.MaxInFlight != 9 || g2.Config.MaxDeliver != g.Config.MaxDeliver || g2.ETag == g.ETag {
		t.Fatalf("group update = %+v, %v (was %+v)", g2, err, g)
	}
	if _, err := a.UpdateGroup(ctx, "orders", "billing", protocol.GroupConfig{Start: &protocol.Position{Kind: "new"}}, ""); client.CodeOf(err) != protocol.CodeBadConfig {
		t.Errorf("group update of the start: %v, want %s", err, protocol.CodeBadConfig)
	}
	if err := a.DeleteGroup(ctx, "orders", "billing"); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	if _, err := a.Group(ctx, "orders", "billing"); client.CodeOf(err) != protocol.CodeGroupNotFound {
		t.Errorf("group after delete: %v, want %s", err, protocol.CodeGroupNotFound)
	}
}

// On a single node a transfer has no one to go to and stopping the node
// is not safe; an unknown member is not_found.
func TestAdminLeadershipSingleNode(t *testing.T) {
	a := newAdmin(t, newTestServer(t))
	ctx := testContext(t)
	if _, err := a.TransferLeadership(ctx, ""); client.CodeOf(err) != protocol.CodeBadRequest {
		t.Errorf("transfer: %v, want %s", err, protocol.CodeBadRequest)
	}
	chk, err := a.SafeToStop(ctx, "client-test")
	if err != nil || chk.Safe || chk.Reason == "" || chk.Voters != 1 {
		t.Errorf("safe to stop the only node = %+v, %v; want unsafe with a reason", chk, err)
	}
	if _, err := a.SafeToStop(ctx, "nobody"); client.CodeOf(err) != protocol.CodeNotFound {
		t.Errorf("safe to stop nobody: %v, want %s", err, protocol.CodeNotFound)
	}
}
