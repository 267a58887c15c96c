package engineio

import (
	"bytes"
	"errors"
	"testing"

	"github.com/carriermq/carrier/gateway/session"
)

func TestDecodePayload(t *testing.T) {
	got, err := decodePayload([]byte("40\x1e42[\"ev\"]\x1e3\x1ebAQID\x1e1"))
	if err != nil {
		t.Fatal(err)
	}
	want := []packet{{typeMessage, session.Text, []byte("0")}, {typeMessage, session.Text, []byte(`2["ev"]`)},
		{typePong, session.Text, []byte{}}, {typeMessage, session.Binary, []byte{1, 2, 3}}, {typeClose, session.Text, []byte{}}}
	if len(got) != len(want) {
		t.Fatalf("decoded %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].typ != want[i].typ || got[i].kind != want[i].kind || !bytes.Equal(got[i].data, want[i].data) {
			t.Errorf("packet %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"", "4\x1e", "7", "b!!", "x1"} {
		if _, err := decodePayload([]byte(bad)); !errors.Is(err, errParse) {
			t.Errorf("decodePayload(%q): %v, want a parse error", bad, err)
		}
	}
}

func TestAppendPolling(t *testing.T) {
	var p []byte
	for _, f := range []frame{{session.Text, []byte("40")}, {session.Binary, []byte{1, 2, 3}}, {session.Text, []byte("2")}} {
		p = appendPolling(p, f)
	}
	if string(p) != "40\x1ebAQID\x1e2" {
		t.Errorf("payload %q", p)
	}
	back, err := decodePayload(p)
	if err != nil || len(back) != 3 || !bytes.Equal(back[1].data, []byte{1, 2, 3}) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

// FuzzDecodePayload: any POST body decodes into packets of known types or
// fails with a parse error, without panicking; what decodes encodes back
// to a payload that decodes to the same packets.
func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{"40{\"token\":\"x\"}\x1e42[\"ev\",1]", "3", "1", "bAQID", "6\x1e2probe"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := decodePayload(b)
		if err != nil {
			if !errors.Is(err, errParse) {
				t.Fatalf("error %v is not a parse error", err)
			}
			return
		}
		var again []byte
		for _, p := range ps {
			if p.typ < typeOpen || p.typ > typeNoop {
				t.Fatalf("packet type %q", p.typ)
			}
			data := p.data
			if p.kind == session.Text {
				data = append([]byte{p.typ}, p.data...)
			}
			again = appendPolling(again, frame{kind: p.kind, data: data})
		}
		back, err := decodePayload(again)
		if err != nil || len(back) != len(ps) {
			t.Fatalf("re-encoded %q: %v", again, err)
		}
		for i := range ps {
			if back[i].typ != ps[i].typ || !bytes.Equal(back[i].data, ps[i].data) {
				t.Fatalf("packet %d: %+v != %+v", i, back[i], ps[i])
			}
		}
	})
}
