package socketio

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// frames records what a codec writes.
type frames struct{ got []session.Inbound }

func (f *frames) WriteFrame(kind session.Kind, b []byte) error {
	f.got = append(f.got, session.Inbound{Kind: kind, Data: bytes.Clone(b)})
	return nil
}

func (f *frames) texts() []string {
	var out []string
	for _, m := range f.got {
		if m.Kind == session.Text {
			out = append(out, string(m.Data))
		}
	}
	return out
}

func newCodec() *Codec {
	return New(Config{DefaultQueue: "main", Limits: session.Limits{MaxMessageBytes: 1 << 20, MaxBatch: 10},
		MaxAttachmentBytes: 1 << 20})
}

func text(s string) session.Inbound { return session.Inbound{Kind: session.Text, Data: []byte(s)} }

func TestDecodePacket(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		typ  byte
		nsp  string
		id   int64
		data string
	}{
		{in: "0", ok: true, typ: '0', nsp: "/", id: noID},
		{in: `0/chat,{"token":"x"}`, ok: true, typ: '0', nsp: "/chat", id: noID, data: `{"token":"x"}`},
		{in: `2["ev",1]`, ok: true, typ: '2', nsp: "/", id: noID, data: `["ev",1]`},
		{in: `2/a,12["ev"]`, ok: true, typ: '2', nsp: "/a", id: 12, data: `["ev"]`},
		{in: `3/a,7[]`, ok: true, typ: '3', nsp: "/a", id: 7, data: `[]`},
		{in: `51-["ev",{"_placeholder":true,"num":0}]`, ok: true, typ: '5', nsp: "/", id: noID},
		{in: `1/a,`, ok: true, typ: '1', nsp: "/a", id: noID},
		{in: ``},
		{in: `7`},
		{in: `x`},
		{in: `2["connect"]`},
		{in: `2[1]`},
		{in: `2{"a":1}`},
		{in: `2["ev"`},
		{in: `0[1]`},
		{in: `1/a,{}`},
		{in: `3/a,1{}`},
		{in: `5-["ev"]`},
		{in: `50-["ev"]`},
		{in: `511-["ev"]`},
		{in: `2/a,99999999999999999999["ev"]`},
		{in: `2/a,9007199254740992["ev"]`},
	} {
		p, err := decodePacket([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("decodePacket(%q): err %v, want ok %v", tc.in, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		if p.typ != tc.typ || p.nsp != tc.nsp || p.id != tc.id || (tc.data != "" && string(p.data) != tc.data) {
			t.Errorf("decodePacket(%q) = %c %q %d %s", tc.in, p.typ, p.nsp, p.id, p.data)
		}
	}
}

// connect runs a CONNECT through the codec and the reply it gets, and
// returns the CONNECT reply packet.
func connect(t *testing.T, c *Codec, pkt, sub string, seq uint64) (*session.Subscribe, string) {
	t.Helper()
	cmd, ok := c.Decode(text(pkt)).(*session.Subscribe)
	if !ok {
		t.Fatalf("Decode(%q) is not a subscribe", pkt)
	}
	var w frames
	r := &session.Reply{Kind: session.ReplySubscribed, ID: cmd.ID, Sub: sub, Queue: cmd.Queue, Group: cmd.Group, Seq: seq}
	if err := c.EncodeReply(&w, r); err != nil {
		t.Fatal(err)
	}
	if len(w.got) != 1 {
		t.Fatalf("CONNECT reply: %d frames", len(w.got))
	}
	return cmd, w.texts()[0]
}

func connectReply(t *testing.T, pkt string) (sid, pid string) {
	t.Helper()
	i := strings.IndexByte(pkt, '{')
	var r struct{ SID, PID string }
	if i < 0 || json.Unmarshal([]byte(pkt[i:]), &r) != nil || r.SID == "" || r.PID == "" {
		t.Fatalf("CONNECT reply %q has no sid and pid", pkt)
	}
	return r.SID, r.PID
}

func TestConnectMapsNamespaces(t *testing.T) {
	c := newCodec()
	sub, reply := connect(t, c, `0{"group":"vendors","events":["pickup"],"autoAck":true,"maxInFlight":5}`, "1", 0)
	if sub.Queue != "main" || sub.Group != "vendors" || !sub.AutoAck || len(sub.Events) != 1 || sub.Config.MaxInFlight != 5 {
		t.Errorf("subscribe = %+v", sub)
	}
	if !strings.HasPrefix(reply, `0{`) {
		t.Errorf("reply %q", reply)
	}
	sub, reply = connect(t, c, `0/orders,{"from":"first","token":"secret"}`, "2", 1)
	if sub.Queue != "orders" || sub.Group != "" || sub.Pos.Kind != queue.FromFirst {
		t.Errorf("subscribe = %+v", sub)
	}
	if !strings.HasPrefix(reply, `0/orders,{`) {
		t.Errorf("reply %q", reply)
	}
}

func TestConnectErrors(t *testing.T) {
	for _, pkt := range []string{`0/bad%name,`, `0{"group":7}`, `0{"autoAck":true}`, `0{"from":"yesterday"}`, `0{"group":"a b"}`} {
		c := newCodec()
		inv, ok := c.Decode(text(pkt)).(*session.Invalid)
		if !ok || inv.Close || inv.ID == "" {
			t.Errorf("Decode(%q) = %#v, want an Invalid answered with CONNECT_ERROR", pkt, inv)
			continue
		}
		var w frames
		_ = c.EncodeReply(&w, &session.Reply{Kind: session.ReplyError, ID: inv.ID, Err: inv.Err})
		if got := w.texts(); len(got) != 1 || got[0][0] != '4' || !strings.Contains(got[0], `"code"`) {
			t.Errorf("%q: CONNECT_ERROR = %q", pkt, got)
		}
	}
}

func TestProtocolViolationsClose(t *testing.T) {
	for _, tc := range []struct{ name, setup, pkt string }{
		{"not CONNECT first", "", `2["ev",1]`},
		{"malformed", "", `2["ev"`},
		{"unknown type", "", `9`},
		{"binary without packet", "", ""},
		{"second CONNECT", `0`, `0`},
		{"ack without id", `0{"group":"g"}`, `3[]`},
		{"ack on a tail", `0`, `31[]`},
		{"ack with autoAck", `0{"group":"g","autoAck":true}`, `31[]`},
		{"ack id zero", `0{"group":"g"}`, `30[]`},
		{"ack id too large", `0{"group":"g"}`, `39007199254740993[]`},
		{"client CONNECT_ERROR", `0`, `4{"message":"x"}`},
		{"binary ack", `0{"group":"g"}`, `61-1[{"_placeholder":true,"num":0}]`},
	} {
		c := newCodec()
		if tc.setup != "" {
			connect(t, c, tc.setup, "1", 1)
		}
		in := text(tc.pkt)
		if tc.pkt == "" {
			in = session.Inbound{Kind: session.Binary, Data: []byte{1}}
		}
		inv, ok := c.Decode(in).(*session.Invalid)
		if !ok || !inv.Close || inv.Err.Code != protocol.CodeBadFrame {
			t.Errorf("%s: Decode(%q) = %#v, want a closing Invalid", tc.name, tc.pkt, inv)
		}
	}
}

func TestEmitPublishesAndAcks(t *testing.T) {
	c := newCodec()
	connect(t, c, `0/orders,`, "1", 1)
	p, ok := c.Decode(text(`2/orders,17["pickup",{"order":1}]`)).(*session.Publish)
	if !ok || p.Queue != "orders" || len(p.Msgs) != 1 {
		t.Fatalf("publish = %#v", p)
	}
	if m := p.Msgs[0]; m.Event != "pickup" || string(m.Data) != `{"order":1}` || m.Binary || m.Headers != nil {
		t.Errorf("message = %+v", m)
	}
	var w frames
	_ = c.EncodeReply(&w, &session.Reply{Kind: session.ReplyPublished, ID: p.ID, Acks: []queue.PublishAck{{Seq: 42}}})
	if got := w.texts(); len(got) != 1 || got[0] != `3/orders,17[{"seq":42}]` {
		t.Errorf("ACK = %q", got)
	}
	w = frames{}
	e := apierr.Errorf(protocol.CodeQueueFull, "full")
	_ = c.EncodeReply(&w, &session.Reply{Kind: session.ReplyError, ID: p.ID, Err: e})
	if got := w.texts(); len(got) != 1 || got[0] != `3/orders,17[{"code":"queue_full","message":"full"}]` {
		t.Errorf("error ACK = %q", got)
	}
	p2 := c.Decode(text(`2/orders,["pickup",1,2]`)).(*session.Publish)
	if m := p2.Msgs[0]; string(m.Data) != `[1,2]` || m.Headers[HeaderArgs] != argsJSON {
		t.Errorf("two args = %+v", m)
	}
	w = frames{}
	_ = c.EncodeReply(&w, &session.Reply{Kind: session.ReplyPublished, ID: p2.ID, Acks: []queue.PublishAck{{Seq: 43}}})
	if len(w.got) != 0 {
		t.Errorf("an emit without ack got %q", w.texts())
	}
	_ = c.EncodeReply(&w, &session.Reply{Kind: session.ReplyError, ID: p2.ID, Err: e})
	if got := w.texts(); len(got) != 1 || got[0] != `2/orders,["error",{"code":"queue_full","message":"full"}]` {
		t.Errorf("error event = %q", got)
	}
}

func delivery(seq uint64, sub, group string, m *queue.Message) *session.Delivery {
	m.Seq = seq
	return &session.Delivery{Msg: m, Sub: sub, Group: group, Attempt: 1}
}

func TestDeliveries(t *testing.T) {
	c := newCodec()
	connect(t, c, `0{"group":"g"}`, "1", 0)
	connect(t, c, `0/tail,`, "2", 1)
	connect(t, c, `0/auto,{"group":"g","autoAck":true}`, "3", 0)
	for _, tc := range []struct {
		d    *session.Delivery
		want string
	}{
		{delivery(5, "1", "g", &queue.Message{Event: "ev", Data: []byte(`{"a":1}`)}), `25["ev",{"a":1},"5"]`},
		{delivery(6, "2", "", &queue.Message{Event: "ev", Data: []byte(`[1,2]`), Headers: map[string]string{HeaderArgs: argsJSON}}), `2/tail,["ev",1,2,"6"]`},
		{delivery(7, "2", "", &queue.Message{Event: "ev", Data: []byte(`[1,2]`)}), `2/tail,["ev",[1,2],"7"]`},
		{delivery(8, "2", "", &queue.Message{Event: "ev"}), `2/tail,["ev","8"]`},
		{delivery(9, "3", "g", &queue.Message{Event: "ev", Data: []byte(`1`)}), `2/auto,["ev",1,"9"]`},
		{delivery(10, "2", "", &queue.Message{Event: "ev", Data: []byte(`{}`), Headers: map[string]string{HeaderArgs: argsJSON}}), `2/tail,["ev",{},"10"]`},
		{delivery(11, "2", "", &queue.Message{Event: "ev", Data: []byte{1}, Binary: true, Headers: map[string]string{HeaderArgs: argsBinary}}), `51-/tail,["ev",{"_placeholder":true,"num":0},"11"]`},
	} {
		var w frames
		if err := c.EncodeDelivery(&w, tc.d); err != nil {
			t.Fatal(err)
		}
		if got := w.texts(); len(got) != 1 || got[0] != tc.want || !json.Valid([]byte(got[0][strings.IndexByte(got[0], '['):])) {
			t.Errorf("delivery %d = %q, want %q", tc.d.Msg.Seq, got, tc.want)
		}
	}
	ack, ok := c.Decode(text(`35[]`)).(*session.Ack)
	if !ok || ack.Sub != "1" || len(ack.Seqs) != 1 || ack.Seqs[0] != 5 || ack.Nack {
		t.Errorf("ack = %#v", ack)
	}
	nack, ok := c.Decode(text(`35[{"nack":true,"delay":1500}]`)).(*session.Ack)
	if !ok || !nack.Nack || nack.Delay.Milliseconds() != 1500 {
		t.Errorf("nack = %#v", nack)
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	c := newCodec()
	connect(t, c, `0/bin,{"group":"g"}`, "1", 0)
	for _, tc := range []struct {
		header, want string
		atts         [][]byte
	}{
		{`51-/bin,4["file",{"_placeholder":true,"num":0}]`, `51-/bin,3["file",{"_placeholder":true,"num":0},"3"]`, [][]byte{{0, 1, 2, 255}}},
		{`52-/bin,["file","name",{"b":{"_placeholder":true,"num":1}},{"_placeholder":true,"num":0}]`,
			`52-/bin,3["file","name",{"b":{"_placeholder":true,"num":1}},{"_placeholder":true,"num":0},"3"]`, [][]byte{{9}, {}}},
	} {
		if cmd := c.Decode(text(tc.header)); cmd != nil {
			t.Fatalf("header alone: %#v", cmd)
		}
		var cmd session.Command
		for _, a := range tc.atts {
			cmd = c.Decode(session.Inbound{Kind: session.Binary, Data: a})
		}
		p, ok := cmd.(*session.Publish)
		if !ok {
			t.Fatalf("after the attachments: %#v", cmd)
		}
		m := p.Msgs[0]
		if !m.Binary {
			t.Errorf("message not binary: %+v", m)
		}
		var w frames
		if err := c.EncodeDelivery(&w, delivery(3, "1", "g", m)); err != nil {
			t.Fatal(err)
		}
		if len(w.got) != 1+len(tc.atts) {
			t.Fatalf("delivery frames: %d", len(w.got))
		}
		if got := string(w.got[0].Data); got != tc.want {
			t.Errorf("delivery header %q, want %q", got, tc.want)
		}
		for i, a := range tc.atts {
			if w.got[1+i].Kind != session.Binary || !bytes.Equal(w.got[1+i].Data, a) {
				t.Errorf("attachment %d = %v, want %v", i, w.got[1+i].Data, a)
			}
		}
	}
}

func TestBinaryBadPlaceholderCloses(t *testing.T) {
	c := newCodec()
	connect(t, c, `0`, "1", 1)
	_ = c.Decode(text(`51-["f",{"_placeholder":true,"num":3}]`))
	inv, ok := c.Decode(session.Inbound{Kind: session.Binary, Data: []byte{1}}).(*session.Invalid)
	if !ok || !inv.Close {
		t.Errorf("bad placeholder: %#v", inv)
	}
	c = newCodec()
	connect(t, c, `0`, "1", 1)
	_ = c.Decode(text(`52-["f",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`))
	_ = c.Decode(session.Inbound{Kind: session.Binary, Data: []byte{1}})
	if inv, ok := c.Decode(text(`2["x"]`)).(*session.Invalid); !ok || !inv.Close {
		t.Errorf("text during attachments: %#v", inv)
	}
}

func TestRecovery(t *testing.T) {
	c := newCodec()
	_, reply := connect(t, c, `0/news,`, "1", 8)
	_, p := connectReply(t, reply)

	// A reconnect with the pid and an offset resumes after the offset.
	c = newCodec()
	sub, reply := connect(t, c, `0/news,{"pid":"`+p+`","offset":"12"}`, "1", 13)
	if sub.Pos.Kind != queue.FromSeq || sub.Pos.Seq != 13 {
		t.Errorf("resume position %+v, want seq 13", sub.Pos)
	}
	if _, got := connectReply(t, reply); got != p {
		t.Errorf("recovered pid %q, want %q", got, p)
	}
	// Without an offset (the client never received an event): the pid's start.
	c = newCodec()
	sub, reply = connect(t, c, `0/news,{"pid":"`+p+`"}`, "1", 8)
	if sub.Pos.Seq != 8 {
		t.Errorf("resume position %+v, want seq 8", sub.Pos)
	}
	if _, got := connectReply(t, reply); got != p {
		t.Errorf("recovered pid %q, want %q", got, p)
	}
	// Messages gone meanwhile (the tail starts later than asked): a fresh session.
	c = newCodec()
	_, reply = connect(t, c, `0/news,{"pid":"`+p+`","offset":"12"}`, "1", 20)
	if _, got := connectReply(t, reply); got == p {
		t.Errorf("a tail that skipped messages kept its pid")
	}
	// A pid of another namespace, or garbage: fresh.
	for _, auth := range []string{`{"pid":"` + p + `","offset":"3"}`, `{"pid":"garbage","offset":"3"}`, `{"pid":"` + p + `","offset":"x"}`} {
		c = newCodec()
		sub, _ = connect(t, c, `0/other,`+auth, "1", 1)
		if sub.Pos.Kind != queue.FromNew {
			t.Errorf("%s on /other: position %+v, want new", auth, sub.Pos)
		}
	}
	// A group member's pid names its group.
	c = newCodec()
	_, reply = connect(t, c, `0/news,{"group":"g"}`, "1", 0)
	_, gp := connectReply(t, reply)
	c = newCodec()
	_, reply = connect(t, c, `0/news,{"group":"g","pid":"`+gp+`"}`, "1", 0)
	if _, got := connectReply(t, reply); got != gp {
		t.Errorf("group pid %q, want %q", got, gp)
	}
}

func TestSubscriptionEnded(t *testing.T) {
	c := newCodec()
	connect(t, c, `0/q,`, "1", 1)
	var w frames
	_ = c.EncodeReply(&w, &session.Reply{Kind: session.ReplyError, Sub: "1", Err: apierr.Errorf(protocol.CodeQueueNotFound, "gone")})
	if got := w.texts(); len(got) != 2 || !strings.HasPrefix(got[0], `2/q,["error"`) || got[1] != `1/q,` {
		t.Errorf("ended: %q", got)
	}
	if inv, ok := c.Decode(text(`2/q,["x"]`)).(*session.Invalid); !ok || !inv.Close {
		t.Errorf("emit after the end: %#v", inv)
	}
}
