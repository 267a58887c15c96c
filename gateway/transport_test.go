package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/protocol"
)

// memTransport is a session.Transport without a socket: the test sends
// frames into in and reads every flushed frame from out (through a client,
// whose await picks frames from it). With stuck, Flush blocks like a write
// to a client that does not read, until its deadline, the LimitWrites cap
// or Abort.
type memTransport struct {
	in     chan []byte
	out    chan protocol.Frame
	stuck  bool
	batch  [][]byte
	gone   chan struct{} // closed by Abort
	abort  sync.Once
	mu     sync.Mutex
	limit  time.Time     // set by LimitWrites
	capped chan struct{} // closed by the first LimitWrites
	closes []session.CloseReason
}

func newMemTransport(stuck bool) *memTransport {
	return &memTransport{in: make(chan []byte), out: make(chan protocol.Frame, 1000), stuck: stuck,
		gone: make(chan struct{}), capped: make(chan struct{})}
}

func (m *memTransport) Receive(handle func(session.Inbound)) error {
	select {
	case b := <-m.in:
		handle(session.Inbound{Kind: session.Text, Data: b})
		return nil
	case <-m.gone:
		return fmt.Errorf("memory transport aborted: %w", io.EOF)
	}
}

func (m *memTransport) Drain(deadline time.Time) { m.wait(deadline) }

func (m *memTransport) Begin() { m.batch = m.batch[:0] }

func (m *memTransport) WriteFrame(_ session.Kind, b []byte) error {
	m.batch = append(m.batch, append([]byte(nil), b...))
	return nil
}

func (m *memTransport) Flush(deadline time.Time) error {
	if m.stuck {
		m.wait(deadline)
		return errors.New("memory transport: write deadline passed")
	}
	for _, b := range m.batch {
		var f protocol.Frame
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
		m.out <- f
	}
	return nil
}

// wait blocks until deadline, the LimitWrites cap or Abort.
func (m *memTransport) wait(deadline time.Time) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-t.C:
	case <-m.gone:
	case <-m.capped:
		m.mu.Lock()
		limit := m.limit
		m.mu.Unlock()
		select {
		case <-time.After(time.Until(limit)):
		case <-m.gone:
		}
	}
}

func (m *memTransport) Ping(time.Time) error { return nil }

func (m *memTransport) WriteClose(reason session.CloseReason, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closes = append(m.closes, reason)
	return nil
}

func (m *memTransport) LimitWrites(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.limit.IsZero() {
		m.limit = t
		close(m.capped)
	}
}

func (m *memTransport) Abort() { m.abort.Do(func() { close(m.gone) }) }

func (m *memTransport) send(t *testing.T, frame string) {
	t.Helper()
	select {
	case m.in <- []byte(frame):
	case <-time.After(waitTimeout):
		t.Fatalf("the session did not read %s", frame)
	}
}

func hasID(id string) func(protocol.Frame) bool {
	return func(f protocol.Frame) bool { return f.ID == id }
}

// serveMem runs a carrier.v1 session of the server's gateway over m; the
// client reads what the session flushes.
func (s *server) serveMem(m *memTransport) (c *client, done <-chan struct{}) {
	s.t.Helper()
	sess, err := s.gw.sessions.Open(s.gw.v1)
	if err != nil {
		s.t.Fatalf("open: %v", err)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		sess.Serve(m)
	}()
	s.t.Cleanup(func() { m.Abort(); <-ended })
	return &client{t: s.t, frames: m.out, readErr: make(chan error, 1)}, ended
}

// TestSessionOverAnotherTransport: the session core and the carrier.v1
// codec serve a client over a transport that is not a WebSocket: tails,
// group deliveries, acks and the shutdown's close need nothing of the
// socket.
func TestSessionOverAnotherTransport(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CloseGrace = 200 * time.Millisecond // the test client never answers a close
	s := startServer(t, cfg)
	m := newMemTransport(false)
	c, done := s.serveMem(m)
	m.send(t, `{"type":"subscribe","id":"t","queue":"mem","from":"first"}`)
	tail := c.await("tail subscribed", hasID("t"))
	m.send(t, `{"type":"subscribe","id":"g","queue":"mem","group":"g","from":"first"}`)
	group := c.await("group subscribed", hasID("g"))
	if tail.Type != protocol.TypeSubscribed || group.Type != protocol.TypeSubscribed || group.Group != "g" {
		t.Fatalf("subscribed %+v / %+v", tail, group)
	}
	m.send(t, `{"type":"publish","id":"p","queue":"mem","event":"e","data":{"n":1}}`)
	pub := c.await("published", hasID("p"))
	for _, sub := range []string{tail.Sub, group.Sub} {
		msg := c.await("message on "+sub, func(f protocol.Frame) bool { return f.Type == protocol.TypeMessage && f.Sub == sub })
		if msg.Seq != pub.Seq || string(msg.Data) != `{"n":1}` {
			t.Fatalf("message %+v, published %+v", msg, pub)
		}
	}
	m.send(t, fmt.Sprintf(`{"type":"ack","id":"a","sub":%q,"seq":%d}`, group.Sub, pub.Seq))
	if ack := c.await("acked", hasID("a")); ack.Type != protocol.TypeAcked {
		t.Fatalf("ack answered %+v", ack)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := s.gw.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	<-done
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Equal(m.closes, []session.CloseReason{session.CloseGoingAway}) || s.conns() != 0 {
		t.Fatalf("closes %v, %d sessions left; want one going-away close, none", m.closes, s.conns())
	}
}

// TestSlowConsumerOverAnotherTransport: the slow-consumer rule is the
// session's: a client whose transport stops taking frames is cut once its
// outbound budget overflows, within CloseGrace of it, whatever carries it.
func TestSlowConsumerOverAnotherTransport(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OutboundBytes, cfg.CloseGrace = 4096, 200*time.Millisecond
	s := startServer(t, cfg)
	m := newMemTransport(true)
	_, done := s.serveMem(m)
	start := time.Now()
	for i := 0; ; i++ {
		select {
		case m.in <- []byte(fmt.Sprintf(`{"type":"ping","id":"%d"}`, i)):
			continue
		case <-m.capped:
		case <-time.After(waitTimeout):
			t.Fatal("the session neither read nor cut the client")
		}
		break
	}
	m.mu.Lock()
	limit := m.limit
	m.mu.Unlock()
	if limit.After(time.Now().Add(cfg.CloseGrace)) || limit.Before(start) {
		t.Fatalf("writes limited to %v, want within CloseGrace of the overflow", limit)
	}
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("the slow session did not end")
	}
}
