package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/carriermq/carrier/cluster"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/test/testlog"
)

// waitTimeout bounds every wait in these tests: conditions normally hold in
// milliseconds; the margin is for a loaded, shared machine.
const waitTimeout = 20 * time.Second

// testLogger logs to a buffer shown only when the test fails.
func testLogger(t testing.TB) *slog.Logger {
	return testlog.New(t, "logs")
}

// server is a real single-node cluster behind a gateway on an httptest
// server on 127.0.0.1.
type server struct {
	t    testing.TB
	node *cluster.Node
	gw   *Gateway
	ts   *httptest.Server
}

// startServer starts a node (Raft on a free loopback port, data in a temp
// dir), a gateway with cfg and an HTTP server; all stop when the test ends.
func startServer(t testing.TB, cfg Config) *server {
	t.Helper()
	return startServerWith(t, cfg, func(n *cluster.Node) Backend { return n })
}

// startServerWith is startServer with the gateway in front of what backend
// makes of the node (a test's wrapper around it).
func startServerWith(t testing.TB, cfg Config, backend func(*cluster.Node) Backend) *server {
	t.Helper()
	log := testLogger(t)
	nc := cluster.DefaultConfig()
	nc.NodeID, nc.DataDir, nc.RaftBind, nc.Bootstrap, nc.Logger = "n1", t.TempDir(), "127.0.0.1:0", true, log
	node, err := cluster.New(nc)
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	cfg.Logger = log
	gw, err := New(backend(node), cfg)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	s := &server{t: t, node: node, gw: gw, ts: httptest.NewServer(gw)}
	t.Cleanup(s.stop)
	waitFor(t, "node ready", node.Ready)
	return s
}

func (s *server) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := s.gw.Shutdown(ctx); err != nil {
		s.t.Errorf("gateway shutdown: %v", err)
	}
	s.ts.Close()
	if err := s.node.Close(ctx); err != nil {
		s.t.Errorf("node close: %v", err)
	}
}

func (s *server) wsURL() string { return "ws" + strings.TrimPrefix(s.ts.URL, "http") + "/v1/ws" }

// conns is the number of WebSocket connections the gateway serves.
func (s *server) conns() int { return s.gw.sessions.Len() }

// waitFor polls cond until it returns nil or waitTimeout passes.
func waitFor(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// httpDo sends a request with a JSON (or raw string) body and decodes the
// JSON answer into out (when not nil). It returns the status.
func (s *server) httpDo(method, path string, body any, out any) int {
	s.t.Helper()
	status, _ := s.httpWith(method, path, nil, body, out)
	return status
}

// httpWith is httpDo with request headers; it also returns the answer's.
func (s *server) httpWith(method, path string, hdr http.Header, body any, out any) (int, http.Header) {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.ts.URL+path, rd)
	if err != nil {
		s.t.Fatalf("request: %v", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// httpError expects an error answer with status and code.
func (s *server) httpError(method, path string, body any, status int, code string) {
	s.t.Helper()
	var e protocol.ErrorResponse
	if got := s.httpDo(method, path, body, &e); got != status || e.Error.Code != code {
		s.t.Fatalf("%s %s: got %d %q (%s), want %d %q", method, path, got, e.Error.Code, e.Error.Message, status, code)
	}
}

// client is a real gorilla WebSocket client. A reader goroutine feeds
// frames to a channel; await and request pick frames by predicate and keep
// the others for later.
type client struct {
	t       testing.TB
	ws      *websocket.Conn
	frames  chan protocol.Frame
	readErr chan error // the error that ended the reader
	backlog []protocol.Frame
	wmu     sync.Mutex
	nextID  int
}

func (s *server) dial() *client {
	s.t.Helper()
	c := s.dialNoRead()
	c.startReader()
	return c
}

// dialNoRead connects without starting the reader (a client that never reads).
func (s *server) dialNoRead() *client {
	s.t.Helper()
	d := websocket.Dialer{Subprotocols: []string{protocol.Subprotocol}, HandshakeTimeout: waitTimeout}
	ws, resp, err := d.Dial(s.wsURL(), nil)
	if err != nil {
		s.t.Fatalf("dial: %v (%v)", err, resp)
	}
	if ws.Subprotocol() != protocol.Subprotocol {
		s.t.Fatalf("subprotocol %q", ws.Subprotocol())
	}
	c := &client{t: s.t, ws: ws, frames: make(chan protocol.Frame, 100000), readErr: make(chan error, 1)}
	s.t.Cleanup(func() { ws.Close() })
	return c
}

func (c *client) startReader() {
	go func() {
		for {
			typ, b, err := c.ws.ReadMessage()
			if err != nil {
				c.readErr <- err
				close(c.frames)
				return
			}
			var f protocol.Frame
			if typ != websocket.TextMessage || json.Unmarshal(b, &f) != nil {
				f = protocol.Frame{Type: "client-undecodable", Message: string(b)}
			}
			c.frames <- f
		}
	}()
}

// sendRaw writes one WebSocket message.
func (c *client) sendRaw(typ int, b []byte) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(typ, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// sendRawOrCut is sendRaw for a frame the server may answer and close the
// connection on before the client has finished writing it (an oversize
// frame: its header is enough to refuse it). The write then fails with the
// close already sent (the client answered the server's close) or a broken
// connection; the caller checks the server's answer.
func (c *client) sendRawOrCut(typ int, b []byte) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	err := c.ws.WriteMessage(typ, b)
	if err != nil && !errors.Is(err, websocket.ErrCloseSent) && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(f protocol.Frame) {
	c.t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		c.t.Fatalf("marshal: %v", err)
	}
	c.sendRaw(websocket.TextMessage, b)
}

// await returns the first frame (kept or new) that matches.
func (c *client) await(what string, match func(protocol.Frame) bool) protocol.Frame {
	c.t.Helper()
	for i, f := range c.backlog {
		if match(f) {
			c.backlog = append(c.backlog[:i], c.backlog[i+1:]...)
			return f
		}
	}
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("waiting for %s: connection ended: %v", what, <-c.readErr)
			}
			if match(f) {
				return f
			}
			c.backlog = append(c.backlog, f)
		case <-timer.C:
			c.t.Fatalf("timed out waiting for %s; unmatched frames: %+v", what, c.backlog)
		}
	}
}

// request sends f with a fresh id and returns the reply with that id.
func (c *client) request(f protocol.Frame) protocol.Frame {
	c.t.Helper()
	c.nextID++
	f.ID = fmt.Sprintf("r%d", c.nextID)
	c.send(f)
	return c.await("reply to "+f.ID, func(g protocol.Frame) bool { return g.ID == f.ID })
}

// expectError sends f and expects an error reply with code.
func (c *client) expectError(f protocol.Frame, code string) protocol.Frame {
	c.t.Helper()
	r := c.request(f)
	if r.Type != protocol.TypeError || r.Code != code {
		c.t.Fatalf("%s: got %+v, want error %s", f.Type, r, code)
	}
	return r
}

// ok sends f and fails unless the reply has type want.
func (c *client) ok(f protocol.Frame, want string) protocol.Frame {
	c.t.Helper()
	r := c.request(f)
	if r.Type != want {
		c.t.Fatalf("%s: got %+v, want %s", f.Type, r, want)
	}
	return r
}

// message returns the next message frame of sub.
func (c *client) message(sub string) protocol.Frame {
	c.t.Helper()
	return c.await("message on sub "+sub, func(f protocol.Frame) bool {
		return f.Type == protocol.TypeMessage && f.Sub == sub
	})
}

// ended waits for the connection to end and returns the reader's error.
func (c *client) ended() error {
	c.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return <-c.readErr
			}
			c.backlog = append(c.backlog, f)
		case <-timer.C:
			c.t.Fatal("timed out waiting for the connection to end")
			return errors.New("timeout")
		}
	}
}

// publishWS publishes one JSON event and returns its seq.
func (c *client) publishWS(q, event string, data string) uint64 {
	c.t.Helper()
	r := c.ok(protocol.Frame{Type: protocol.TypePublish, Queue: q, Event: event, Data: json.RawMessage(data)}, protocol.TypePublished)
	return r.Seq
}
