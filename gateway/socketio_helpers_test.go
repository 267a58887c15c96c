package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// eio is a raw Engine.IO v4 client over HTTP long-polling (and, after
// upgrade, a WebSocket), for the conformance tests.
type eio struct {
	t    testing.TB
	base string // http://host:port
	sid  string
	open map[string]any
	ws   *websocket.Conn
	wsMu sync.Mutex     // one writer at a time on ws
	in   chan wsMessage // with autoPong: what the reader goroutine read
	done chan struct{}  // the reader goroutine ended
}

type wsMessage struct {
	p   string
	err error
}

// autoPong reads c's WebSocket in a goroutine that answers pings at once,
// so that a test may leave the session unread for longer than the
// heartbeat; the goroutine ends when the connection closes (at cleanup).
func (c *eio) autoPong() {
	c.in, c.done = make(chan wsMessage, 1024), make(chan struct{})
	go func() {
		defer close(c.done)
		for {
			typ, b, err := c.ws.ReadMessage()
			if err != nil {
				c.in <- wsMessage{err: err}
				return
			}
			p := string(b)
			if typ == websocket.BinaryMessage {
				p = "bin:" + p
			}
			if p == "2" {
				c.writeWS("3")
				continue
			}
			select {
			case c.in <- wsMessage{p: p}:
			default: // a test that stopped reading; drop
			}
		}
	}()
	c.t.Cleanup(func() { c.ws.Close(); <-c.done })
}

func (c *eio) writeWS(p string) error {
	c.wsMu.Lock()
	defer c.wsMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(waitTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, []byte(p))
}

func sioURL(base string, q string) string { return base + "/socket.io/?" + q }

// httpDo makes one request and returns its status and body.
func httpDo(t testing.TB, method, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	c := &http.Client{Timeout: waitTimeout}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eioHandshake opens a polling session.
func eioHandshake(t testing.TB, base string) *eio {
	t.Helper()
	status, body := httpDo(t, http.MethodGet, sioURL(base, "EIO=4&transport=polling"), "")
	if status != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake: %d %q", status, body)
	}
	c := &eio{t: t, base: base}
	if err := json.Unmarshal([]byte(body[1:]), &c.open); err != nil {
		t.Fatalf("open packet %q: %v", body, err)
	}
	c.sid = c.open["sid"].(string)
	return c
}

func (c *eio) pollURL() string {
	return sioURL(c.base, "EIO=4&transport=polling&sid="+url.QueryEscape(c.sid))
}

// post sends packets joined by \x1e.
func (c *eio) post(packets ...string) (int, string) {
	c.t.Helper()
	return httpDo(c.t, http.MethodPost, c.pollURL(), strings.Join(packets, "\x1e"))
}

func (c *eio) mustPost(packets ...string) {
	c.t.Helper()
	if status, body := c.post(packets...); status != http.StatusOK || body != "ok" {
		c.t.Fatalf("POST %q: %d %q", packets, status, body)
	}
}

// poll makes one GET and returns its packets.
func (c *eio) poll() (int, []string) {
	c.t.Helper()
	status, body := httpDo(c.t, http.MethodGet, c.pollURL(), "")
	if status != http.StatusOK {
		return status, []string{body}
	}
	return status, strings.Split(body, "\x1e")
}

// await reads packets (polls, or WebSocket messages after the upgrade),
// answering pings, until one satisfies match; it returns that packet.
func (c *eio) await(what string, match func(string) bool) string {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		for _, p := range c.read() {
			if p == "2" {
				c.send("3")
				continue
			}
			if match(p) {
				return p
			}
		}
	}
	c.t.Fatalf("no packet %s within %v", what, waitTimeout)
	return ""
}

func (c *eio) read() []string {
	c.t.Helper()
	if c.ws == nil {
		status, ps := c.poll()
		if status != http.StatusOK {
			c.t.Fatalf("poll: %d %q", status, ps)
		}
		return ps
	}
	if c.in != nil {
		select {
		case m := <-c.in:
			if m.err != nil {
				c.t.Fatalf("websocket read: %v", m.err)
			}
			return []string{m.p}
		case <-time.After(waitTimeout):
			c.t.Fatalf("websocket read: nothing within %v", waitTimeout)
		}
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	typ, b, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("websocket read: %v", err)
	}
	if typ == websocket.BinaryMessage {
		return []string{"bin:" + string(b)}
	}
	return []string{string(b)}
}

// send sends one packet on the session's current transport.
func (c *eio) send(p string) {
	c.t.Helper()
	if c.ws == nil {
		c.mustPost(p)
		return
	}
	if err := c.writeWS(p); err != nil {
		c.t.Fatalf("websocket write: %v", err)
	}
}

func prefixed(prefix string) func(string) bool {
	return func(p string) bool { return strings.HasPrefix(p, prefix) }
}

// connectNsp sends a Socket.IO CONNECT and waits for its reply.
func (c *eio) connectNsp(nsp, auth string) string {
	c.t.Helper()
	head := "40"
	if nsp != "/" {
		head += nsp + ","
	}
	c.send(head + auth)
	return c.await("CONNECT reply of "+nsp, func(p string) bool { return strings.HasPrefix(p, head+"{") || strings.HasPrefix(p, "44") })
}

// wsDial opens a WebSocket to the endpoint with query q.
func wsDial(t testing.TB, base, q string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	return d.Dial("ws"+strings.TrimPrefix(base, "http")+"/socket.io/?"+q, nil)
}

// eioWebSocket opens a session on a WebSocket from the start.
func eioWebSocket(t testing.TB, base string) *eio {
	t.Helper()
	conn, _, err := wsDial(t, base, "EIO=4&transport=websocket")
	if err != nil {
		t.Fatalf("websocket handshake: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &eio{t: t, base: base, ws: conn}
	p := c.read()[0]
	if !strings.HasPrefix(p, "0{") {
		t.Fatalf("open packet %q", p)
	}
	if err := json.Unmarshal([]byte(p[1:]), &c.open); err != nil {
		t.Fatal(err)
	}
	c.sid = c.open["sid"].(string)
	return c
}

// sidUnknown waits until the server answers a poll of c's sid with
// "Session ID unknown".
func (c *eio) sidUnknown() {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		status, body := httpDo(c.t, http.MethodGet, c.pollURL(), "")
		if status == http.StatusBadRequest && body == `{"code":1,"message":"Session ID unknown"}` {
			return
		}
	}
	c.t.Fatalf("session %s still known after %v", c.sid, waitTimeout)
}

// awaitAll reads until every packet of want has arrived, in any order.
func (c *eio) awaitAll(what string, want ...string) {
	c.t.Helper()
	left := map[string]bool{}
	for _, w := range want {
		left[w] = true
	}
	c.await(what, func(p string) bool {
		delete(left, p)
		return len(left) == 0
	})
}
