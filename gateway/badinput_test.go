package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/carriermq/carrier/protocol"
)

// goodClient publishes and receives on its own queue; alive checks that it
// still can after each bad input elsewhere on the server.
type goodClient struct {
	c   *client
	sub string
}

func newGoodClient(s *server) *goodClient {
	c := s.dial()
	return &goodClient{c: c, sub: subscribeTail(c, "good", protocol.Frame{}).Sub}
}

func (g *goodClient) alive() {
	g.c.t.Helper()
	seq := g.c.publishWS("good", "heartbeat", `{"ok":true}`)
	if m := g.c.message(g.sub); m.Seq != seq {
		g.c.t.Fatalf("good client: got seq %d, want %d", m.Seq, seq)
	}
}

func badInputConfig() Config {
	cfg := DefaultConfig()
	cfg.MaxFrameBytes = 64 << 10
	cfg.MaxMessageBytes = 32 << 10
	cfg.MaxSubscriptions = 3
	cfg.OutboundBytes = 64 << 10
	cfg.CloseGrace = time.Second
	return cfg
}

// Each kind of bad input gets its documented error; the bad connection stays
// usable when the protocol says so, and a well-behaved client on the same
// server keeps publishing and receiving throughout.
func TestBadInputOverWebSocket(t *testing.T) {
	s := startServer(t, badInputConfig())
	good := newGoodClient(s)
	bad := s.dial()
	raw := func(b string) protocol.Frame {
		bad.sendRaw(websocket.TextMessage, []byte(b))
		return bad.await("error for "+b, func(f protocol.Frame) bool { return f.Type == protocol.TypeError })
	}
	cases := []struct {
		name  string
		frame string
		code  string
		id    string
	}{
		{"malformed JSON", `{"type":"publish",`, protocol.CodeBadFrame, ""},
		{"not an object", `["publish"]`, protocol.CodeBadFrame, ""},
		{"invalid UTF-8", "{\"type\":\"ping\",\"id\":\"\xff\xfe\"}", protocol.CodeBadFrame, ""},
		{"wrong field type, id after it", `{"type":"publish","queue":7,"id":"w"}`, protocol.CodeBadFrame, "w"},
		{"string for fromSeq", `{"type":"subscribe","id":"wt2","queue":"q","fromSeq":"abc"}`, protocol.CodeBadFrame, "wt2"},
		{"number for queue", `{"type":"subscribe","id":"wt3","queue":5}`, protocol.CodeBadFrame, "wt3"},
		{"bad base64 binary", `{"type":"publish","id":"wt4","queue":"q","binary":"!!!"}`, protocol.CodeBadFrame, "wt4"},
		{"object for event", `{"type":"publish","id":"wt5","queue":"q","event":{}}`, protocol.CodeBadFrame, "wt5"},
		{"number for headers", `{"type":"publish","id":"wt6","queue":"q","data":1,"headers":3}`, protocol.CodeBadFrame, "wt6"},
		{"number header value", `{"type":"publish","id":"wt7","queue":"q","data":1,"headers":{"a":1}}`, protocol.CodeBadFrame, "wt7"},
		{"string for seq", `{"type":"ack","id":"wt8","sub":"1","seq":"1"}`, protocol.CodeBadFrame, "wt8"},
		{"negative seq", `{"type":"ack","id":"wt9","sub":"1","seqs":[-1]}`, protocol.CodeBadFrame, "wt9"},
		{"string for maxDeliver", `{"type":"subscribe","id":"wt10","queue":"q","group":"g","maxDeliver":"5"}`, protocol.CodeBadFrame, "wt10"},
		{"object for messages", `{"type":"publish","id":"wt11","queue":"q","messages":{}}`, protocol.CodeBadFrame, "wt11"},
		{"number for type", `{"type":1,"id":"wt12"}`, protocol.CodeBadFrame, "wt12"},
		{"number for id", `{"type":"ping","id":7}`, protocol.CodeBadFrame, ""},
		{"id over 256 bytes", `{"type":"ping","id":"` + strings.Repeat("i", 257) + `"}`, protocol.CodeBadRequest, strings.Repeat("i", 257)},
		{"fromSeq 0", `{"type":"subscribe","id":"z1","queue":"q","fromSeq":0}`, protocol.CodeBadRequest, "z1"},
		{"unknown type", `{"type":"explode","id":"u1"}`, protocol.CodeUnknownType, "u1"},
		{"server type", `{"type":"message","id":"u2"}`, protocol.CodeUnknownType, "u2"},
		{"no type", `{"id":"n1"}`, protocol.CodeBadRequest, "n1"},
		{"missing queue", `{"type":"publish","id":"m1","data":1}`, protocol.CodeBadRequest, "m1"},
		{"data and binary", `{"type":"publish","id":"m2","queue":"q","data":1,"binary":"AA=="}`, protocol.CodeBadRequest, "m2"},
		{"bad deliverAt", `{"type":"publish","id":"m3","queue":"q","deliverAt":"tomorrow"}`, protocol.CodeBadRequest, "m3"},
		{"empty batch", `{"type":"publish","id":"m4","queue":"q","messages":[]}`, protocol.CodeBadRequest, "m4"},
		{"bad name dash", `{"type":"publish","id":"b1","queue":"-q","data":1}`, "bad_name", "b1"},
		{"bad name slash", `{"type":"subscribe","id":"b2","queue":"a/b"}`, "bad_name", "b2"},
		{"bad name long", `{"type":"publish","id":"b3","queue":"` + strings.Repeat("q", 129) + `","data":1}`, "bad_name", "b3"},
		{"bad group name", `{"type":"subscribe","id":"b4","queue":"q","group":"g h"}`, "bad_name", "b4"},
		{"tail with group settings", `{"type":"subscribe","id":"s1","queue":"q","maxDeliver":3}`, protocol.CodeBadRequest, "s1"},
		{"bad from", `{"type":"subscribe","id":"s2","queue":"q","from":"yesterday"}`, protocol.CodeBadRequest, "s2"},
		{"bad ackWait", `{"type":"subscribe","id":"s3","queue":"q","group":"g","ackWait":"soon"}`, protocol.CodeBadRequest, "s3"},
		{"ack without seqs", `{"type":"ack","id":"a1","sub":"1"}`, protocol.CodeBadRequest, "a1"},
		{"ack of unknown sub", `{"type":"ack","id":"a2","sub":"99","seq":1}`, protocol.CodeUnknownSub, "a2"},
		{"message too large", `{"type":"publish","id":"l1","queue":"q","data":"` + strings.Repeat("x", 40<<10) + `"}`, "message_too_large", "l1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := raw(tc.frame)
			if f.Code != tc.code || f.ID != tc.id || f.Message == "" {
				t.Fatalf("got %+v, want code %s id %q", f, tc.code, tc.id)
			}
			bad.ok(protocol.Frame{Type: protocol.TypePing}, protocol.TypePong) // still open
			good.alive()
		})
	}
	t.Run("binary frame", func(t *testing.T) {
		bad.sendRaw(websocket.BinaryMessage, []byte{0, 1, 2})
		if f := bad.await("error", func(f protocol.Frame) bool { return f.Type == protocol.TypeError }); f.Code != protocol.CodeBadFrame {
			t.Fatalf("got %+v", f)
		}
		bad.ok(protocol.Frame{Type: protocol.TypePing}, protocol.TypePong)
		good.alive()
	})
	t.Run("ack of an unknown seq", func(t *testing.T) {
		sub := subscribeGroup(bad, "work", "g", protocol.Frame{})
		f := bad.expectError(protocol.Frame{Type: protocol.TypeAck, Sub: sub, Seqs: []uint64{999, 1000}}, "not_pending")
		if len(f.Seqs) != 2 || f.Sub != sub {
			t.Fatalf("not_pending reply: %+v", f)
		}
		seq := good.c.publishWS("work", "job", "1")
		m := bad.message(sub)
		f = bad.expectError(protocol.Frame{Type: protocol.TypeAck, Sub: sub, Seqs: []uint64{m.Seq, 999}}, "not_pending")
		if len(f.Seqs) != 1 || f.Seqs[0] != 999 || m.Seq != seq {
			t.Fatalf("partial not_pending: %+v (delivered %d)", f, m.Seq)
		}
		bad.expectError(protocol.Frame{Type: protocol.TypeAck, Sub: sub, Seq: m.Seq}, "not_pending") // acked by the partial ack
		good.alive()
	})
	t.Run("too many subscriptions", func(t *testing.T) {
		for range 2 {
			subscribeTail(bad, "many", protocol.Frame{})
		}
		bad.expectError(protocol.Frame{Type: protocol.TypeSubscribe, Queue: "many"}, protocol.CodeTooManySubs)
		good.alive()
	})
	t.Run("oversize frame closes with 1009", func(t *testing.T) {
		bad.sendRawOrCut(websocket.TextMessage, []byte(`{"type":"publish","queue":"q","data":"`+strings.Repeat("x", 100<<10)+`"}`))
		f := bad.await("frame_too_large", func(f protocol.Frame) bool { return f.Type == protocol.TypeError })
		if f.Code != protocol.CodeFrameTooLarge {
			t.Fatalf("got %+v", f)
		}
		err := bad.ended()
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Fatalf("connection ended with %v, want close 1009", err)
		}
		good.alive()
	})
}

// A consumer that never reads is cut off once its outbound budget overflows,
// within bounded time, and the server keeps serving the others.
func TestSlowConsumerIsDisconnected(t *testing.T) {
	s := startServer(t, badInputConfig())
	good := newGoodClient(s)
	slow := s.dialSmallWindow()
	slow.send(protocol.Frame{Type: protocol.TypeSubscribe, ID: "s", Queue: "flood", Group: "slow", MaxInFlight: 10000})
	if f := slow.readReply("s"); f.Type != protocol.TypeSubscribed {
		t.Fatalf("subscribe: %+v", f)
	}
	before := s.conns()
	data := json.RawMessage(`"` + strings.Repeat("z", 2000) + `"`)
	cut := false
	for i := 0; i < 1000 && !cut; i++ { // at most 1000 × 20 × 2 KB
		if err := s.publishHTTP("flood", 20, data); err != nil {
			t.Fatal(err)
		}
		cut = s.conns() < before
	}
	if !cut {
		t.Fatal("the slow consumer was never disconnected")
	}
	slow.startReader()
	err := slow.ended()
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code != websocket.ClosePolicyViolation && ce.Code != websocket.CloseAbnormalClosure {
		t.Fatalf("closed with %d, want 1008 or a cut connection", ce.Code)
	}
	good.alive()
}

// Connections beyond MaxConnections are refused with 503 too_many_connections.
func TestTooManyConnections(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConnections = 2
	s := startServer(t, cfg)
	s.dial()
	s.dial()
	d := websocket.Dialer{Subprotocols: []string{protocol.Subprotocol}}
	ws, resp, err := d.Dial(s.wsURL(), nil)
	if err == nil {
		ws.Close()
		t.Fatal("third connection accepted")
	}
	defer resp.Body.Close()
	var e protocol.ErrorResponse
	if json.NewDecoder(resp.Body).Decode(&e); resp.StatusCode != http.StatusServiceUnavailable || e.Error.Code != protocol.CodeTooManyConns {
		t.Fatalf("got %d %+v", resp.StatusCode, e)
	}
	_, resp, err = websocket.DefaultDialer.Dial(s.wsURL(), nil) // no subprotocol offered
	if err == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("dial without subprotocol: %v %v", err, resp)
	}
	resp.Body.Close()
}

// Bad HTTP requests get JSON errors with fitting statuses and codes, and
// the server keeps serving.
func TestBadInputOverHTTP(t *testing.T) {
	s := startServer(t, badInputConfig())
	good := newGoodClient(s)
	big := `{"data":"` + strings.Repeat("x", 70<<10) + `"}`
	cases := []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"POST", "/v1/queues/q/messages", `{"data":`, 400, protocol.CodeBadRequest},
		{"POST", "/v1/queues/q/messages", `[1,2]`, 400, protocol.CodeBadRequest},
		{"POST", "/v1/queues/q/messages", "{\"event\":\"\xff\"}", 400, protocol.CodeBadRequest},
		{"POST", "/v1/queues/q/messages", big, 413, protocol.CodeBodyTooLarge},
		{"POST", "/v1/queues/q/messages", `{"data":"` + strings.Repeat("x", 40<<10) + `"}`, 413, "message_too_large"},
		{"POST", "/v1/queues/-bad/messages", `{"data":1}`, 400, "bad_name"},
		{"PUT", "/v1/queues/q", `{"maxAge":"forever"}`, 400, "bad_config"},
		{"PUT", "/v1/queues/q", `{"retention":"sometimes"}`, 400, "bad_config"},
		{"GET", "/v1/queues/q/messages?limit=5000", nil, 400, protocol.CodeBadRequest},
		{"GET", "/v1/queues/nope", nil, 404, "queue_not_found"},
		{"GET", "/v1/nothing", nil, 404, protocol.CodeNotFound},
		{"GET", "/v1/queues/q/groups/-g", nil, 400, "bad_name"},
		{"DELETE", "/v1/queues/q/messages", nil, 405, protocol.CodeMethodNotAllowed},
		{"POST", "/v1/cluster", nil, 405, protocol.CodeMethodNotAllowed},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %s %d", tc.method, tc.path, tc.status), func(t *testing.T) {
			s.httpError(tc.method, tc.path, tc.body, tc.status, tc.code)
			good.alive()
		})
	}
}

// A client filling queues past the node's storage budget gets storage_full
// (HTTP 507, and the same code per message over WebSocket); what is stored
// stays readable, and freeing space lets publishes through again.
func TestStorageBudget(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxStoreBytes = 4 << 10
	s := startServer(t, cfg)
	body := map[string]any{"data": strings.Repeat("x", 1000)} // ~1 KiB each
	stored := 0
	for i := 0; i < 10; i++ {
		q := fmt.Sprintf("q%d", i%3)
		if s.httpDo("POST", "/v1/queues/"+q+"/messages", body, nil) != http.StatusOK {
			break
		}
		stored++
	}
	if stored == 0 || stored >= 10 {
		t.Fatalf("stored %d of 10 ~1 KiB messages under a 4 KiB budget", stored)
	}
	s.httpError("POST", "/v1/queues/q0/messages", body, http.StatusInsufficientStorage, protocol.CodeStorageFull)
	c := s.dial()
	c.expectError(protocol.Frame{Type: protocol.TypePublish, Queue: "q1", Data: json.RawMessage(`"` + strings.Repeat("y", 1000) + `"`)}, protocol.CodeStorageFull)
	var list protocol.QueueList
	s.httpDo("GET", "/v1/queues", nil, &list)
	total := int64(0)
	for _, q := range list.Queues {
		total += q.Bytes
	}
	if total > cfg.MaxStoreBytes {
		t.Fatalf("queues hold %d bytes, over the %d budget", total, cfg.MaxStoreBytes)
	}
	s.httpDo("POST", "/v1/queues/q0/purge", nil, nil)
	if got := s.httpDo("POST", "/v1/queues/q1/messages", body, nil); got != http.StatusOK {
		t.Fatalf("publish after purge: status %d, want 200", got)
	}
}
