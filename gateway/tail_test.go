package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/carriermq/carrier/protocol"
)

func subscribeTail(c *client, q string, f protocol.Frame) protocol.Frame {
	c.t.Helper()
	f.Type, f.Queue = protocol.TypeSubscribe, q
	return c.ok(f, protocol.TypeSubscribed)
}

// expectSeqs reads the next len(want) messages of sub and checks their seqs.
func expectSeqs(c *client, sub string, first, last uint64) {
	c.t.Helper()
	for seq := first; seq <= last; seq++ {
		if m := c.message(sub); m.Seq != seq {
			c.t.Fatalf("sub %s: got seq %d, want %d", sub, m.Seq, seq)
		}
	}
}

// A tail starts at first, a seq, a time or new.
func TestTailPositions(t *testing.T) {
	s := startServer(t, DefaultConfig())
	c := s.dial()
	for i := 1; i <= 10; i++ {
		c.publishWS("news", "story", fmt.Sprint(i))
	}
	var page protocol.MessageList
	if code := s.httpDo("GET", "/v1/queues/news/messages?from=6&limit=1", nil, &page); code != 200 || len(page.Messages) != 1 {
		t.Fatalf("read seq 6: %d %+v", code, page)
	}

	first := subscribeTail(c, "news", protocol.Frame{From: "first"})
	bySeq := subscribeTail(c, "news", protocol.Frame{FromSeq: 4})
	byTime := subscribeTail(c, "news", protocol.Frame{FromTime: page.Messages[0].Time})
	fresh := subscribeTail(c, "news", protocol.Frame{})
	if first.Seq != 1 || bySeq.Seq != 4 || byTime.Seq != 6 || fresh.Seq != 11 {
		t.Fatalf("start seqs: first %d seq %d time %d new %d", first.Seq, bySeq.Seq, byTime.Seq, fresh.Seq)
	}
	expectSeqs(c, first.Sub, 1, 10)
	expectSeqs(c, bySeq.Sub, 4, 10)
	expectSeqs(c, byTime.Sub, 6, 10)
	c.publishWS("news", "story", "11")
	expectSeqs(c, fresh.Sub, 11, 11)
	expectSeqs(c, first.Sub, 11, 11)
	if m := c.message(byTime.Sub); m.Seq != 11 || string(m.Data) != "11" || m.Event != "story" || m.Time == "" {
		t.Fatalf("live message: %+v", m)
	}
	c.ok(protocol.Frame{Type: protocol.TypeUnsubscribe, Sub: first.Sub}, protocol.TypeUnsubscribed)
	c.expectError(protocol.Frame{Type: protocol.TypeUnsubscribe, Sub: first.Sub}, protocol.CodeUnknownSub)
}

// smallWindowDialer makes a client whose socket buffers little, so that a
// client that stops reading backs up into the server quickly.
var smallWindowDialer = websocket.Dialer{
	Subprotocols: []string{protocol.Subprotocol},
	NetDialContext: (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}).DialContext,
}

func (s *server) dialSmallWindow() *client {
	s.t.Helper()
	ws, _, err := smallWindowDialer.DialContext(context.Background(), s.wsURL(), nil)
	if err != nil {
		s.t.Fatalf("dial: %v", err)
	}
	s.t.Cleanup(func() { ws.Close() })
	return &client{t: s.t, ws: ws, frames: make(chan protocol.Frame, 100000), readErr: make(chan error, 1)}
}

// readReply reads frames synchronously (no reader goroutine) until the reply to id.
func (c *client) readReply(id string) protocol.Frame {
	c.t.Helper()
	for range 100 {
		var f protocol.Frame
		if err := c.ws.ReadJSON(&f); err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if f.ID == id {
			return f
		}
	}
	c.t.Fatalf("no reply to %s", id)
	return protocol.Frame{}
}

// readSeqs reads synchronously (no reader goroutine) the messages of sub
// with seqs first..last, in order.
func (c *client) readSeqs(sub string, first, last uint64) {
	c.t.Helper()
	for seq := first; seq <= last; {
		var f protocol.Frame
		if err := c.ws.ReadJSON(&f); err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if f.Type != protocol.TypeMessage || f.Sub != sub {
			continue
		}
		if f.Seq != seq {
			c.t.Fatalf("got seq %d, want %d", f.Seq, seq)
		}
		seq++
	}
}

// publishHTTP publishes n copies of data to q without failing the test (for
// use from other goroutines).
func (s *server) publishHTTP(q string, n int, data json.RawMessage) error {
	msgs := make([]protocol.Message, n)
	for i := range msgs {
		msgs[i] = protocol.Message{Event: "tick", Data: data}
	}
	body, err := json.Marshal(protocol.PublishRequest{Messages: msgs})
	if err != nil {
		return err
	}
	resp, err := s.ts.Client().Post(s.ts.URL+"/v1/queues/"+q+"/messages", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("publish: status %d", resp.StatusCode)
	}
	return nil
}

// A tail replays stored messages, then goes live with no gap and no
// duplicate while a producer keeps publishing; a reader that falls behind
// overflows its live buffer and goes back to replaying, still losing nothing.
func TestTailReplayThenLiveUnderLoad(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OutboundBytes = 32 << 10
	s := startServer(t, cfg)
	payload := json.RawMessage(`"` + strings.Repeat("x", 4000) + `"`)
	for range 4 {
		if err := s.publishHTTP("ticks", 100, payload); err != nil { // 400 stored: more than a page
			t.Fatal(err)
		}
	}

	reader := s.dialSmallWindow()
	reader.send(protocol.Frame{Type: protocol.TypeSubscribe, ID: "sub", Queue: "ticks", From: "first"})
	sub := reader.readReply("sub").Sub

	const batches, per = 10, 60
	var wg sync.WaitGroup
	var pubErr error
	wg.Go(func() { // concurrent with the replay and the switch to live
		for range batches {
			if pubErr = s.publishHTTP("ticks", per, payload); pubErr != nil {
				return
			}
		}
	})
	reader.readSeqs(sub, 1, 400+batches*per)
	wg.Wait()
	if pubErr != nil {
		t.Fatal(pubErr)
	}

	// The tail is live now; the reader stops reading while more arrives.
	for range batches {
		if err := s.publishHTTP("ticks", per, payload); err != nil {
			t.Fatal(err)
		}
	}
	reader.startReader()
	expectSeqs(reader, sub, 400+batches*per+1, 400+2*batches*per)
	if n := s.gw.sessions.TailFallbacks(); n == 0 {
		t.Fatalf("the live buffer never overflowed; the test did not exercise the fallback")
	}
	seq := s.dial().publishWS("ticks", "tick", "1")
	expectSeqs(reader, sub, seq, seq)
}

// TestTailReplaysAfterRestore: when the node's state is replaced by a
// snapshot (hub.OnRestore), a live tail replays from its position and goes
// live again, without a gap or a duplicate.
func TestTailReplaysAfterRestore(t *testing.T) {
	s := startServer(t, DefaultConfig())
	pub := s.dial()
	for i := range 5 {
		pub.ok(protocol.Frame{Type: protocol.TypePublish, ID: fmt.Sprint("a", i), Queue: "rq", Data: []byte(`1`)}, protocol.TypePublished)
	}
	tail := s.dial()
	sub := tail.ok(protocol.Frame{Type: protocol.TypeSubscribe, ID: "t", Queue: "rq", From: "first"}, protocol.TypeSubscribed).Sub
	for want := uint64(1); want <= 5; want++ {
		if got := tail.message(sub).Seq; got != want {
			t.Fatalf("seq %d, want %d", got, want)
		}
	}
	s.gw.sessions.Hub().OnRestore()
	for i := range 5 {
		pub.ok(protocol.Frame{Type: protocol.TypePublish, ID: fmt.Sprint("b", i), Queue: "rq", Data: []byte(`1`)}, protocol.TypePublished)
	}
	for want := uint64(6); want <= 10; want++ {
		if got := tail.message(sub).Seq; got != want {
			t.Fatalf("after restore: seq %d, want %d", got, want)
		}
	}
}
