package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// The admin API creates, reads, updates, purges and deletes queues.
func TestHTTPQueueAdmin(t *testing.T) {
	s := startServer(t, DefaultConfig())
	var info protocol.QueueInfo
	body := protocol.QueueConfig{MaxMessages: 100, MaxAge: "1h", Group: protocol.GroupConfig{AckWait: "5s"}}
	if code := s.httpDo("PUT", "/v1/queues/jobs", body, &info); code != 200 {
		t.Fatalf("create: %d", code)
	}
	if info.Name != "jobs" || info.Config.MaxMessages != 100 || info.Config.MaxAge != "1h0m0s" || info.Config.Group.AckWait != "5s" {
		t.Fatalf("created: %+v", info)
	}
	if code := s.httpDo("PUT", "/v1/queues/jobs", body, &info); code != 200 {
		t.Fatalf("create again with the same config: %d", code)
	}
	s.httpError("PUT", "/v1/queues/jobs", protocol.QueueConfig{MaxMessages: 5}, 409, "queue_exists")

	if code := s.httpDo("PATCH", "/v1/queues/jobs", protocol.QueueConfig{MaxMessages: 50}, &info); code != 200 ||
		info.Config.MaxMessages != 50 || info.Config.MaxAge != "1h0m0s" {
		t.Fatalf("update: %d %+v", code, info.Config)
	}

	var pub protocol.PublishResponse
	batch := protocol.PublishRequest{Messages: []protocol.Message{{Event: "a", Data: json.RawMessage(`1`)}, {Event: "b", Binary: []byte{7}}}}
	if code := s.httpDo("POST", "/v1/queues/jobs/messages", batch, &pub); code != 200 || len(pub.Results) != 2 || pub.Results[1].Seq != 2 {
		t.Fatalf("publish batch: %d %+v", code, pub)
	}
	var list protocol.MessageList
	if code := s.httpDo("GET", "/v1/queues/jobs/messages?from=2&limit=10", nil, &list); code != 200 ||
		len(list.Messages) != 1 || list.Messages[0].Binary[0] != 7 || list.Next != 3 {
		t.Fatalf("read: %d %+v", code, list)
	}

	var queues protocol.QueueList
	if s.httpDo("GET", "/v1/queues", nil, &queues); len(queues.Queues) != 1 || queues.Queues[0].Messages != 2 {
		t.Fatalf("list: %+v", queues)
	}
	var purged protocol.CountResponse
	if code := s.httpDo("POST", "/v1/queues/jobs/purge", nil, &purged); code != 200 || purged.Purged == nil || *purged.Purged != 2 {
		t.Fatalf("purge: %d %+v", code, purged)
	}
	var del protocol.DeleteResponse
	if code := s.httpDo("DELETE", "/v1/queues/jobs", nil, &del); code != 200 || del.Deleted != "jobs" {
		t.Fatalf("delete: %d %+v", code, del)
	}
	s.httpError("GET", "/v1/queues/jobs", nil, 404, "queue_not_found")
	s.httpError("GET", "/v1/queues/jobs/groups/g", nil, 404, "queue_not_found")
}

// Health, readiness and cluster status.
func TestHTTPHealthAndCluster(t *testing.T) {
	s := startServer(t, DefaultConfig())
	var st protocol.StatusResponse
	if code := s.httpDo("GET", "/healthz", nil, &st); code != 200 || st.Status != "ok" {
		t.Fatalf("healthz: %d %+v", code, st)
	}
	if code := s.httpDo("GET", "/readyz", nil, &st); code != 200 || st.Status != "ready" {
		t.Fatalf("readyz: %d %+v", code, st)
	}
	var cs protocol.ClusterStatus
	if code := s.httpDo("GET", "/v1/cluster", nil, &cs); code != 200 || cs.NodeID != "n1" || cs.State != "Leader" || len(cs.Members) != 1 {
		t.Fatalf("cluster: %d %+v", code, cs)
	}
}

// A tail ends with queue_not_found when its queue is deleted; a purge lets
// it go on from the new first seq.
func TestTailSurvivesPurgeEndsOnDelete(t *testing.T) {
	s := startServer(t, DefaultConfig())
	c := s.dial()
	c.publishWS("feed", "e", "1")
	sub := subscribeTail(c, "feed", protocol.Frame{From: "first"}).Sub
	expectSeqs(c, sub, 1, 1)
	s.httpDo("POST", "/v1/queues/feed/purge", nil, nil)
	seq := c.publishWS("feed", "e", "2")
	expectSeqs(c, sub, seq, seq)
	s.httpDo("DELETE", "/v1/queues/feed", nil, nil)
	f := c.await("end of tail", func(f protocol.Frame) bool { return f.Type == protocol.TypeError && f.Sub == sub })
	if f.Code != "queue_not_found" {
		t.Fatalf("tail ended with %+v", f)
	}
}

// Shutdown leaves every group member (so its messages are redelivered at
// once) and closes connections with 1001.
func TestShutdownLeavesAndCloses(t *testing.T) {
	s := startServer(t, DefaultConfig())
	c := s.dial()
	subscribeGroup(c, "tasks", "workers", protocol.Frame{})
	if gi := s.groupInfo("tasks", "workers"); gi.Members != 1 {
		t.Fatalf("members before shutdown: %d", gi.Members)
	}
	if err := s.gw.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	var ce *websocket.CloseError
	if err := c.ended(); !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("connection ended with %v, want close 1001", err)
	}
	if gi := s.groupInfo("tasks", "workers"); gi.Members != 0 {
		t.Fatalf("members after shutdown: %d", gi.Members)
	}
	if s.conns() != 0 {
		t.Fatalf("%d connections after shutdown", s.conns())
	}
	_, resp, err := (&websocket.Dialer{Subprotocols: []string{protocol.Subprotocol}}).Dial(s.wsURL(), nil)
	if err == nil || resp.StatusCode != 503 {
		t.Fatalf("dial after shutdown: %v %v", err, resp)
	}
	resp.Body.Close()
}

// Unsubscribe leaves the group; nack hands a message back for redelivery.
func TestNackAndUnsubscribe(t *testing.T) {
	s := startServer(t, DefaultConfig())
	c := s.dial()
	sub := subscribeGroup(c, "mail", "senders", protocol.Frame{})
	seq := c.publishWS("mail", "send", `"hi"`)
	m := c.message(sub)
	r := c.ok(protocol.Frame{Type: protocol.TypeNack, Sub: sub, Seq: m.Seq}, protocol.TypeNacked)
	if len(r.Seqs) != 1 || r.Seqs[0] != seq {
		t.Fatalf("nacked reply: %+v", r)
	}
	if again := c.message(sub); again.Seq != seq || again.Attempt != 2 {
		t.Fatalf("after nack: %+v", again)
	}
	c.ok(protocol.Frame{Type: protocol.TypeUnsubscribe, Sub: sub}, protocol.TypeUnsubscribed)
	if gi := s.groupInfo("mail", "senders"); gi.Members != 0 || gi.Unacked != 0 {
		t.Fatalf("group after unsubscribe: %+v", gi)
	}
	c.expectError(protocol.Frame{Type: protocol.TypeAck, Sub: sub, Seq: seq}, protocol.CodeUnknownSub)
}

// When the cluster drops a member whose connection is still live (here a
// ResetNode that names another session), the gateway joins it again and
// deliveries go on.
func TestRemovedMemberRejoins(t *testing.T) {
	s := startServer(t, DefaultConfig())
	c := s.dial()
	sub := subscribeGroup(c, "alerts", "pager", protocol.Frame{})
	res, err := s.node.Propose(t.Context(), queue.ResetNode{Node: s.node.ID(), Keep: "another-session"})
	if err != nil || res.Err != nil || res.Count != 1 {
		t.Fatalf("reset: %v %+v", err, res)
	}
	waitFor(t, "member back", func() error {
		if gi := s.groupInfo("alerts", "pager"); gi.Members != 1 {
			return fmt.Errorf("members %d", gi.Members)
		}
		return nil
	})
	seq := c.publishWS("alerts", "fire", "1")
	if m := c.message(sub); m.Seq != seq {
		t.Fatalf("delivery after rejoin: %+v", m)
	}
}

// A group created over HTTP keeps messages for its first member; the same
// settings again succeed, others are group_exists; a bare start string is
// read as its kind; delete removes it.
func TestHTTPGroupCreateAndDelete(t *testing.T) {
	s := startServer(t, DefaultConfig())
	s.httpDo("PUT", "/v1/queues/jobs", nil, nil)
	s.httpError("PATCH", "/v1/queues/nope", `{"maxAge":"1h"}`, 404, "queue_not_found")
	var info protocol.GroupInfo
	if code := s.httpDo("PUT", "/v1/queues/jobs/groups/g", `{"maxDeliver":2,"start":"new"}`, &info); code != 200 ||
		info.Config.MaxDeliver != 2 || info.Config.Start == nil || info.Config.Start.Kind != "new" {
		t.Fatalf("create group: %d %+v", code, info)
	}
	if code := s.httpDo("PUT", "/v1/queues/jobs/groups/g", `{"maxDeliver":2,"start":{"kind":"new"}}`, &info); code != 200 {
		t.Fatalf("create group again with the same settings: %d", code)
	}
	s.httpError("PUT", "/v1/queues/jobs/groups/g", `{"maxDeliver":3}`, 409, "group_exists")
	s.httpError("PUT", "/v1/queues/jobs/groups/g", `{"start":7}`, 400, "bad_request")
	s.httpError("PUT", "/v1/queues/nope/groups/g", nil, 404, "queue_not_found")

	c := s.dial()
	seq := c.publishWS("jobs", "job", "1")
	sub := subscribeGroup(c, "jobs", "g", protocol.Frame{})
	if m := c.message(sub); m.Seq != seq || m.Attempt != 1 {
		t.Fatalf("first member got %+v, want seq %d published before it joined", m, seq)
	}
	var del protocol.DeleteResponse
	if code := s.httpDo("DELETE", "/v1/queues/jobs/groups/g", nil, &del); code != 200 || del.Deleted != "g" {
		t.Fatalf("delete group: %d %+v", code, del)
	}
	s.httpError("DELETE", "/v1/queues/jobs/groups/other", nil, 404, "group_not_found")
}
