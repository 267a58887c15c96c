package gateway

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/carriermq/carrier/protocol"
)

func subscribeGroup(c *client, q, group string, f protocol.Frame) string {
	c.t.Helper()
	f.Type, f.Queue, f.Group = protocol.TypeSubscribe, q, group
	return c.ok(f, protocol.TypeSubscribed).Sub
}

func (s *server) groupInfo(q, group string) protocol.GroupInfo {
	s.t.Helper()
	var gi protocol.GroupInfo
	if code := s.httpDo("GET", "/v1/queues/"+q+"/groups/"+group, nil, &gi); code != 200 {
		s.t.Fatalf("group info: status %d", code)
	}
	return gi
}

// A member that disconnects leaves its unacked events to the group; a new
// connection gets exactly those, redeliveries carry their attempt, an event
// past maxDeliver sits in the DLQ with payload and history, and redrive makes
// it deliverable again.
func TestGroupRedeliveryAndDeadLetters(t *testing.T) {
	s := startServer(t, DefaultConfig())
	pub := s.dial()
	settings := protocol.Frame{AckWait: "300ms", MaxDeliver: 2}

	c1 := s.dial()
	sub1 := subscribeGroup(c1, "orders", "billing", settings)
	pub.publishWS("orders", "placed", `{"n":1}`)
	pub.publishWS("orders", "placed", `{"n":2}`)
	m1, m2 := c1.message(sub1), c1.message(sub1)
	if m1.Seq != 1 || m2.Seq != 2 || m1.Attempt != 1 || string(m1.Data) != `{"n":1}` {
		t.Fatalf("first deliveries: %+v %+v", m1, m2)
	}
	c1.ok(protocol.Frame{Type: protocol.TypeAck, Sub: sub1, Seq: 1}, protocol.TypeAcked)
	c1.ws.Close()
	waitFor(t, "member gone", func() error {
		if gi := s.groupInfo("orders", "billing"); gi.Members != 0 {
			return fmt.Errorf("members %d", gi.Members)
		}
		return nil
	})

	pub.publishWS("orders", "placed", `{"n":3}`)
	pub.publishWS("orders", "placed", `{"n":4}`)
	c2 := s.dial()
	sub2 := subscribeGroup(c2, "orders", "billing", settings)
	var seqs []uint64
	for range 3 {
		m := c2.message(sub2)
		seqs = append(seqs, m.Seq)
		if m.Seq != 3 { // 3 is left unacked on purpose
			c2.ok(protocol.Frame{Type: protocol.TypeAck, Sub: sub2, Seq: m.Seq}, protocol.TypeAcked)
		} else if m.Attempt != 1 {
			t.Fatalf("seq 3 first delivery: attempt %d", m.Attempt)
		}
	}
	slices.Sort(seqs)
	if !slices.Equal(seqs, []uint64{2, 3, 4}) {
		t.Fatalf("new member got seqs %v, want the unacked 2, 3, 4", seqs)
	}

	again := c2.message(sub2)
	if again.Seq != 3 || again.Attempt != 2 {
		t.Fatalf("redelivery after ackWait: %+v, want seq 3 attempt 2", again)
	}
	dl := waitDeadLetter(t, s, "orders")
	if dl.Message.Seq != 3 || string(dl.Message.Data) != `{"n":3}` || len(dl.Deliveries) != 2 || dl.Group != "billing" {
		t.Fatalf("dead letter: %+v", dl)
	}

	var rr protocol.CountResponse
	if code := s.httpDo("POST", "/v1/queues/orders/dlq/redrive", "", &rr); code != 200 || rr.Redriven == nil || *rr.Redriven != 1 {
		t.Fatalf("redrive: %d %+v", code, rr)
	}
	back := c2.message(sub2)
	if back.Seq != 3 || back.Attempt != 1 {
		t.Fatalf("after redrive: %+v, want seq 3 attempt 1", back)
	}
	c2.ok(protocol.Frame{Type: protocol.TypeAck, Sub: sub2, Seq: 3}, protocol.TypeAcked)
	if gi := s.groupInfo("orders", "billing"); gi.Unacked != 0 || gi.Members != 1 {
		t.Fatalf("group after all acks: %+v", gi)
	}
}

func waitDeadLetter(t *testing.T, s *server, q string) protocol.DeadLetter {
	t.Helper()
	var list protocol.DeadLetterList
	waitFor(t, "a dead letter", func() error {
		list = protocol.DeadLetterList{}
		if code := s.httpDo("GET", "/v1/queues/"+q+"/dlq", nil, &list); code != 200 {
			return fmt.Errorf("status %d", code)
		}
		if len(list.DeadLetters) != 1 {
			return fmt.Errorf("%d dead letters", len(list.DeadLetters))
		}
		return nil
	})
	return list.DeadLetters[0]
}

// Publishing one msgId twice stores one message: the second publish returns
// the first seq with duplicate true, over WebSocket and over HTTP.
func TestPublishDeduplicates(t *testing.T) {
	s := startServer(t, DefaultConfig())
	c := s.dial()
	f := protocol.Frame{Type: protocol.TypePublish, Queue: "dedup", MsgID: "order-42", Data: json.RawMessage(`{"x":1}`)}
	first := c.ok(f, protocol.TypePublished)
	second := c.ok(f, protocol.TypePublished)
	if first.Duplicate || !second.Duplicate || first.Seq != second.Seq || second.MsgID != "order-42" {
		t.Fatalf("first %+v second %+v", first, second)
	}
	var p protocol.Published
	body := protocol.Message{MsgID: "order-42", Data: json.RawMessage(`{"x":1}`)}
	if code := s.httpDo("POST", "/v1/queues/dedup/messages", body, &p); code != 200 || !p.Duplicate || p.Seq != first.Seq {
		t.Fatalf("HTTP republish: %d %+v", code, p)
	}
	var info protocol.QueueInfo
	if s.httpDo("GET", "/v1/queues/dedup", nil, &info); info.Messages != 1 {
		t.Fatalf("stored %d messages, want 1", info.Messages)
	}
}

// Two groups each get every message; two members of one group share them,
// each message going to one of them.
func TestFanOutAndSharing(t *testing.T) {
	s := startServer(t, DefaultConfig())
	a, b, m1, m2 := s.dial(), s.dial(), s.dial(), s.dial()
	subA := subscribeGroup(a, "events", "audit", protocol.Frame{})
	subB := subscribeGroup(b, "events", "search", protocol.Frame{})
	sub1 := subscribeGroup(m1, "events", "workers", protocol.Frame{MaxInFlight: 1})
	sub2 := subscribeGroup(m2, "events", "workers", protocol.Frame{MaxInFlight: 1})

	const n = 20
	batch := make([]protocol.Message, n)
	for i := range batch {
		batch[i] = protocol.Message{Event: "e", Data: json.RawMessage(fmt.Sprint(i))}
	}
	a.ok(protocol.Frame{Type: protocol.TypePublish, Queue: "events", Messages: batch}, protocol.TypePublished)

	for _, x := range []struct {
		c   *client
		sub string
	}{{a, subA}, {b, subB}} {
		for i := range n {
			if m := x.c.message(x.sub); m.Seq != uint64(i+1) {
				t.Fatalf("group of sub %s: message %d has seq %d", x.sub, i, m.Seq)
			}
		}
	}
	got := map[uint64]int{}
	per := map[string]int{}
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for len(got) < n {
		select {
		case f := <-m1.frames:
			shareOne(t, m1, sub1, "m1", f, got, per)
		case f := <-m2.frames:
			shareOne(t, m2, sub2, "m2", f, got, per)
		case <-timer.C:
			t.Fatalf("workers got %d of %d messages", len(got), n)
		}
	}
	if per["m1"] == 0 || per["m2"] == 0 {
		t.Fatalf("one member got nothing: %v", per)
	}
	for seq, k := range got {
		if k != 1 {
			t.Fatalf("seq %d delivered %d times", seq, k)
		}
	}
}

func shareOne(t *testing.T, c *client, sub, name string, f protocol.Frame, got map[uint64]int, per map[string]int) {
	t.Helper()
	if f.Type != protocol.TypeMessage {
		return // an acked reply
	}
	got[f.Seq]++
	per[name]++
	c.send(protocol.Frame{Type: protocol.TypeAck, Sub: sub, Seq: f.Seq})
}
