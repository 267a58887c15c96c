package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The conformance tests of the socket.io endpoint: raw Engine.IO and
// Socket.IO packets over real HTTP polls and WebSockets against a real
// single-node cluster. The answers are the reference server's (engine.io
// 6.6 and socket.io 4.8 from npm; the Node tests in test/socketio run the
// real client against both).

func TestSocketIOHandshakeErrors(t *testing.T) {
	s := startServer(t, DefaultConfig())
	for _, tc := range []struct {
		method, query, want string
	}{
		{"GET", "EIO=3&transport=polling", `{"code":5,"message":"Unsupported protocol version"}`},
		{"GET", "transport=polling", `{"code":5,"message":"Unsupported protocol version"}`},
		{"GET", "EIO=5&transport=polling", `{"code":5,"message":"Unsupported protocol version"}`},
		{"GET", "EIO=4&transport=carrier-pigeon", `{"code":0,"message":"Transport unknown"}`},
		{"GET", "EIO=4", `{"code":0,"message":"Transport unknown"}`},
		{"GET", "EIO=4&transport=polling&sid=nope", `{"code":1,"message":"Session ID unknown"}`},
		{"POST", "EIO=4&transport=polling&sid=nope", `{"code":1,"message":"Session ID unknown"}`},
		{"POST", "EIO=4&transport=polling", `{"code":2,"message":"Bad handshake method"}`},
		{"GET", "EIO=4&transport=websocket", `{"code":3,"message":"Bad request"}`},
	} {
		status, body := httpDo(t, tc.method, sioURL(s.ts.URL, tc.query), "")
		if status != http.StatusBadRequest || body != tc.want {
			t.Errorf("%s ?%s: %d %s, want 400 %s", tc.method, tc.query, status, body, tc.want)
		}
	}
	// An upgrade for an unknown sid is refused before the WebSocket opens.
	if _, resp, err := wsDial(t, s.ts.URL, "EIO=4&transport=websocket&sid=nope"); err == nil || resp == nil || resp.StatusCode != 400 {
		t.Errorf("upgrade of an unknown sid: %v %v", resp, err)
	}
}

func TestSocketIOOpenPackets(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SocketIO.PingInterval, cfg.SocketIO.PingTimeout, cfg.SocketIO.MaxPayload = 3*time.Second, 2*time.Second, 5000
	cfg.SocketIO.NewSID = func() (string, error) { return fmt.Sprintf("n1.%d", time.Now().UnixNano()), nil }
	s := startServer(t, cfg)
	c := eioHandshake(t, s.ts.URL)
	want := map[string]any{"upgrades": []any{"websocket"}, "pingInterval": 3000.0, "pingTimeout": 2000.0, "maxPayload": 5000.0}
	for k, v := range want {
		if fmt.Sprint(c.open[k]) != fmt.Sprint(v) {
			t.Errorf("polling open %s = %v, want %v", k, c.open[k], v)
		}
	}
	if !strings.HasPrefix(c.sid, "n1.") {
		t.Errorf("sid %q was not made by Config.SocketIO.NewSID", c.sid)
	}
	w := eioWebSocket(t, s.ts.URL)
	if fmt.Sprint(w.open["upgrades"]) != "[]" {
		t.Errorf("websocket open upgrades = %v, want []", w.open["upgrades"])
	}
}

// A polling session: CONNECT, emit with an ack (answered once committed
// with the seq), the message as stored, a delivery to a tail, the ack of a
// group delivery.
func TestSocketIOPolling(t *testing.T) {
	s := startServer(t, DefaultConfig())
	tail := eioHandshake(t, s.ts.URL)
	if p := tail.connectNsp("/orders", `{"from":"first"}`); !strings.Contains(p, `"pid"`) {
		t.Fatalf("CONNECT reply %q", p)
	}
	vendor := eioHandshake(t, s.ts.URL)
	vendor.connectNsp("/orders", `{"group":"acme-widgets"}`)
	driver := eioHandshake(t, s.ts.URL)
	driver.connectNsp("/orders", "")
	driver.send(`42/orders,1["pickup",{"order":7},"fast"]`)
	ack := driver.await("ACK", prefixed("43/orders,1"))
	if ack != `43/orders,1[{"seq":1}]` {
		t.Errorf("ACK %q", ack)
	}
	var read struct {
		Messages []struct {
			Event   string            `json:"event"`
			Data    json.RawMessage   `json:"data"`
			Headers map[string]string `json:"headers"`
		} `json:"messages"`
	}
	_, body := httpDo(t, "GET", s.ts.URL+"/v1/queues/orders/messages?from=first", "")
	if err := json.Unmarshal([]byte(body), &read); err != nil || len(read.Messages) != 1 {
		t.Fatalf("stored: %s", body)
	}
	if m := read.Messages[0]; m.Event != "pickup" || string(m.Data) != `[{"order":7},"fast"]` || m.Headers["socketio-args"] != "json" {
		t.Errorf("stored message %+v", m)
	}
	if p := tail.await("tail delivery", prefixed("42/orders,[")); p != `42/orders,["pickup",{"order":7},"fast","1"]` {
		t.Errorf("tail delivery %q", p)
	}
	if p := vendor.await("group delivery", prefixed("42/orders,")); p != `42/orders,1["pickup",{"order":7},"fast","1"]` {
		t.Errorf("group delivery %q", p)
	}
	if _, body := httpDo(t, "GET", s.ts.URL+"/v1/queues/orders/groups/acme-widgets", ""); !strings.Contains(body, `"unacked":1`) {
		t.Errorf("before the ack: %s", body)
	}
	vendor.send(`43/orders,1[]`)
	waitFor(t, "the delivery acked", func() error {
		_, body := httpDo(t, "GET", s.ts.URL+"/v1/queues/orders/groups/acme-widgets", "")
		if !strings.Contains(body, `"unacked":0`) {
			return fmt.Errorf("group: %s", body)
		}
		return nil
	})
	// An emit without an ack that fails reaches the client as an "error" event.
	driver.send(`42/orders,["` + strings.Repeat("x", 300) + `"]`)
	if p := driver.await("error event", prefixed(`42/orders,["error"`)); !strings.Contains(p, `"code":"bad_request"`) {
		t.Errorf("error event %q", p)
	}
}

// Binary attachments round-trip as bytes: base64 "b" packets in a polling
// payload, binary frames on a WebSocket, in either direction.
func TestSocketIOBinary(t *testing.T) {
	s := startServer(t, DefaultConfig())
	pollTail := eioHandshake(t, s.ts.URL)
	pollTail.connectNsp("/files", "")
	wsTail := eioWebSocket(t, s.ts.URL)
	wsTail.autoPong()
	wsTail.connectNsp("/files", "")
	sender := eioHandshake(t, s.ts.URL)
	sender.connectNsp("/files", "")
	sender.mustPost(`451-/files,1["file",{"_placeholder":true,"num":0}]`, "bAAf/")
	if p := sender.await("ACK", prefixed("43/files,1")); p != `43/files,1[{"seq":1}]` {
		t.Errorf("ACK %q", p)
	}
	header := `451-/files,["file",{"_placeholder":true,"num":0},"1"]`
	pollTail.awaitAll("the binary event over polling", header, "bAAf/")
	wsTail.awaitAll("the binary event over a WebSocket", header, "bin:\x00\x07\xff")
}

// A second GET while one is pending: the first is answered with a close
// packet, the second with 400, and the session is gone.
func TestSocketIOSecondPoll(t *testing.T) {
	s := startServer(t, DefaultConfig())
	c := eioHandshake(t, s.ts.URL)
	first := make(chan []string, 1)
	go func() { _, ps := c.poll(); first <- ps }()
	waitFor(t, "the first GET pending", func() error {
		if !s.gw.eio.Pending(c.sid) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	status, _ := httpDo(t, "GET", c.pollURL(), "")
	if status != http.StatusBadRequest {
		t.Errorf("second GET: %d, want 400", status)
	}
	if ps := <-first; len(ps) != 1 || ps[0] != "1" {
		t.Errorf("first GET got %q, want the close packet", ps)
	}
	c.sidUnknown()
	eioHandshake(t, s.ts.URL).connectNsp("/", "") // others are served
}

// The upgrade: probe, the noop that releases the pending GET, "5", then
// the session's packets over the WebSocket and polls refused.
func TestSocketIOUpgrade(t *testing.T) {
	s := startServer(t, DefaultConfig())
	c := eioHandshake(t, s.ts.URL)
	c.connectNsp("/", `{"group":"g"}`)
	pending := make(chan []string, 1)
	go func() { _, ps := c.poll(); pending <- ps }()
	waitFor(t, "GET pending", func() error {
		if !s.gw.eio.Pending(c.sid) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	conn, _, err := wsDial(t, s.ts.URL, "EIO=4&transport=websocket&sid="+c.sid)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, b, err := conn.ReadMessage(); err != nil || string(b) != "3probe" {
		t.Fatalf("probe answer %q %v", b, err)
	}
	if ps := <-pending; len(ps) != 1 || ps[0] != "6" {
		t.Errorf("pending GET got %q, want a noop", ps)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	c.ws = conn
	c.autoPong()
	c.send(`421["pickup",1]`)
	c.awaitAll("ACK and delivery over the WebSocket", `431[{"seq":1}]`, `421["pickup",1,"1"]`)
	status, body := httpDo(t, "GET", c.pollURL(), "")
	if status != http.StatusBadRequest || body != `{"code":3,"message":"Bad request"}` {
		t.Errorf("poll after the upgrade: %d %s", status, body)
	}
	c.send(`431[]`) // the session still works after the refused poll
	c.send(`422["after",2]`)
	c.awaitAll("ACK and delivery after the refused poll", `432[{"seq":2}]`, `422["after",2,"2"]`)
}

// badInput opens a session on the transport, connects "/" and returns it.
func badInputSession(t *testing.T, s *server, websocket bool) *eio {
	var c *eio
	if websocket {
		c = eioWebSocket(t, s.ts.URL)
	} else {
		c = eioHandshake(t, s.ts.URL)
	}
	return c
}

// Bad input over both transports ends that session with the protocol's
// close and leaves a well-behaved session alone.
func TestSocketIOBadInputCloses(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SocketIO.MaxPayload = 4096
	s := startServer(t, cfg)
	good := eioWebSocket(t, s.ts.URL)
	good.autoPong()
	good.connectNsp("/", "")
	n := 0
	for _, tc := range []struct {
		name, setup, pkt string
	}{
		{"event before CONNECT", "", `42["ev",1]`},
		{"malformed socket.io packet", "40", `42["ev"`},
		{"unknown socket.io type", "40", `49`},
		{"reserved event name", "40", `42["disconnect"]`},
		{"bad ack id", `40{"group":"g"}`, `43abc[]`},
		{"ack of nothing sent", "40", `437[]`},
		{"unknown engine.io type", "40", `9`},
		{"client ping", "40", `2`},
	} {
		for _, overWS := range []bool{false, true} {
			name := fmt.Sprintf("%s (websocket %v)", tc.name, overWS)
			c := badInputSession(t, s, overWS)
			if tc.setup != "" {
				c.send(tc.setup)
				c.await("CONNECT reply", prefixed("40"))
			}
			if overWS {
				c.send(tc.pkt)
				if err := awaitWSClose(c.ws); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			} else {
				c.post(tc.pkt)
				c.sidUnknown()
			}
			n++
			good.send(fmt.Sprintf(`42%d["still",%d]`, n, n))
			good.await(name+": the good session's ACK", prefixed(fmt.Sprintf("43%d", n)))
		}
	}
	// Oversize: a POST over maxPayload is 413 and ends the session; a
	// WebSocket message over it is closed with 1009.
	c := eioHandshake(t, s.ts.URL)
	c.connectNsp("/", "")
	if status, _ := c.post("4" + strings.Repeat("x", 5000)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize POST: %d, want 413", status)
	}
	var tooLarge string
	c.await("the close after oversize", func(p string) bool {
		if strings.Contains(p, `"code":"frame_too_large"`) {
			tooLarge = p
		}
		return p == "1"
	})
	if !strings.Contains(tooLarge, "limited to 4096 bytes") {
		t.Errorf("oversize POST: error event %q, want frame_too_large naming maxPayload", tooLarge)
	}
	w := eioWebSocket(t, s.ts.URL)
	w.send("4" + strings.Repeat("x", 5000))
	if err := awaitWSClose(w.ws); err != nil && !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("oversize message: %v", err)
	}
	good.send(`42999["still"]`)
	good.await("the good session after oversize", prefixed("43999"))
}

// awaitWSClose reads until the server closes; nil for a close frame or
// Engine.IO close packet then EOF.
func awaitWSClose(conn *websocket.Conn) error {
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if ok := asCloseError(err, &ce); ok || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset") {
			return nil
		}
		return err
	}
}

func asCloseError(err error, ce **websocket.CloseError) bool {
	c, ok := err.(*websocket.CloseError)
	*ce = c
	return ok
}

// A client that stops answering pings is closed after pingTimeout, over
// either transport; one that answers stays.
func TestSocketIOPingTimeout(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SocketIO.PingInterval, cfg.SocketIO.PingTimeout = 300*time.Millisecond, time.Second
	s := startServer(t, cfg)
	alive := eioWebSocket(t, s.ts.URL)
	alive.autoPong()
	alive.connectNsp("/", "")
	silentWS := eioWebSocket(t, s.ts.URL)
	silentPoll := eioHandshake(t, s.ts.URL)
	if _, ps := silentPoll.poll(); len(ps) != 1 || ps[0] != "2" {
		t.Fatalf("first poll %q, want a ping", ps)
	}
	silentPoll.sidUnknown()
	if err := awaitWSClose(silentWS.ws); err != nil {
		t.Errorf("silent websocket: %v", err)
	}
	for i := range 3 {
		alive.send(fmt.Sprintf(`42%d["alive"]`, i+1))
		alive.await("ACK of the live session", prefixed(fmt.Sprintf("43%d", i+1)))
	}
}

// A flood of handshakes is bounded by MaxSessions: the surplus is refused
// with 503, sessions already open keep working, and abandoned sessions go
// after the heartbeat, making room again.
func TestSocketIOHandshakeFlood(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SocketIO.MaxSessions = 20
	cfg.SocketIO.PingInterval, cfg.SocketIO.PingTimeout = 500*time.Millisecond, 500*time.Millisecond
	cfg.WriteTimeout = time.Second
	s := startServer(t, cfg)
	good := eioWebSocket(t, s.ts.URL)
	good.autoPong()
	good.connectNsp("/", "")
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 4 {
		wg.Go(func() {
			for range 25 {
				status, body := httpDo(t, "GET", sioURL(s.ts.URL, "EIO=4&transport=polling"), "")
				if status == http.StatusServiceUnavailable && !strings.HasPrefix(body, `{"code":4,"message":`) {
					t.Errorf("refused handshake body %q", body)
				}
				mu.Lock()
				codes[status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if codes[200] != 19 || codes[503] != 81 {
		t.Errorf("handshakes: %v, want 19 admitted (20 with the good one) and 81 refused", codes)
	}
	if n := s.gw.eio.Len(); n > cfg.SocketIO.MaxSessions {
		t.Errorf("%d sessions, limit %d", n, cfg.SocketIO.MaxSessions)
	}
	for i := range 3 {
		good.send(fmt.Sprintf(`42%d["ok"]`, i+1))
		good.await("the good session's ACK", prefixed(fmt.Sprintf("43%d", i+1)))
	}
	waitFor(t, "abandoned sessions gone", func() error {
		if n := s.gw.eio.Len(); n != 1 {
			return fmt.Errorf("%d sessions", n)
		}
		return nil
	})
	eioHandshake(t, s.ts.URL)
}
