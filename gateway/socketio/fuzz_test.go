package socketio

import (
	"encoding/json"
	"testing"

	"github.com/carriermq/carrier/gateway/session"
)

// FuzzDecodePacket: any input decodes or fails without panicking, and what
// decodes has a known type, a namespace and a payload that is valid JSON.
func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{`0`, `0/chat,{"group":"g"}`, `2["ev",1]`, `2/a,12["ev",{"x":[1]}]`, `3/a,7[]`,
		`51-["ev",{"_placeholder":true,"num":0}]`, `1/a,`, `4{"message":"x"}`, `62-/a,3[{"_placeholder":true,"num":1}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePacket(b)
		if err != nil {
			return
		}
		if p.typ < typeConnect || p.typ > typeBinaryAck || p.nsp == "" || p.id > maxAckID {
			t.Fatalf("decoded %q as %+v", b, p)
		}
		if p.data != nil && !json.Valid(p.data) {
			t.Fatalf("decoded %q with invalid JSON %q", b, p.data)
		}
	})
}

// FuzzCodecDecode feeds a connected codec arbitrary packets: it never
// panics, and every publish it returns is within the limits.
func FuzzCodecDecode(f *testing.F) {
	for _, s := range []string{`2["ev",1]`, `21["ev",1,2]`, `31[]`, `1`, `51-["ev",{"_placeholder":true,"num":0}]`,
		`0/x,{"pid":"dA","offset":"1"}`, `3/x,5[{"nack":true,"delay":-1}]`} {
		f.Add([]byte(s), []byte{1, 2})
	}
	f.Fuzz(func(t *testing.T, pkt, att []byte) {
		c := newCodec()
		_ = c.Decode(text(`0{"group":"g"}`))
		_ = c.EncodeReply(&frames{}, &session.Reply{Kind: session.ReplySubscribed, ID: "c1", Sub: "1", Queue: "main", Group: "g"})
		for _, in := range []session.Inbound{text(string(pkt)), {Kind: session.Binary, Data: att}} {
			if p, ok := c.Decode(in).(*session.Publish); ok {
				if p.Queue == "" || len(p.Msgs) != 1 || c.cfg.Limits.CheckSize(p.Msgs[0]) != nil {
					t.Fatalf("publish %+v out of the limits", p)
				}
			}
		}
	})
}
