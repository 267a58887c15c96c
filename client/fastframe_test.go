package client

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/carriermq/carrier/protocol"
)

// TestEncodeFrameMatchesJSON: the fast path writes exactly json.Marshal's
// bytes, and leaves every other frame to json.Marshal.
func TestEncodeFrameMatchesJSON(t *testing.T) {
	bin := bytes.Repeat([]byte{0, 0xff, 'a'}, 343)
	frames := []struct {
		f    protocol.Frame
		fast bool
	}{
		{protocol.Frame{Type: protocol.TypePublish, ID: "12", Queue: "q", MsgID: "m", Event: "b", Binary: bin}, true},
		{protocol.Frame{Type: protocol.TypePublish, Queue: "q", Binary: []byte{}}, false}, // omitempty drops it
		{protocol.Frame{Type: protocol.TypePublish, Queue: "q", Binary: []byte{1}}, true},
		{protocol.Frame{Type: protocol.TypePublish, Queue: "q", Event: "a<b", Binary: bin}, false},
		{protocol.Frame{Type: protocol.TypePublish, Queue: "q", Event: "é", Binary: bin}, false},
		{protocol.Frame{Type: protocol.TypePublish, Queue: "q", Data: json.RawMessage(`{"a": 1}`)}, false},
		{protocol.Frame{Type: protocol.TypePublish, Queue: "q", Binary: bin, Headers: map[string]string{"k": "v"}}, false},
		{protocol.Frame{Type: protocol.TypePing, ID: "1"}, false},
	}
	for _, tc := range frames {
		fast, ok := appendPublishFast(nil, &tc.f)
		if ok != tc.fast {
			t.Fatalf("%+v: fast = %v, want %v", tc.f, ok, tc.fast)
		}
		want, err := json.Marshal(&tc.f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeFrame(&tc.f)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("encodeFrame = %s, %v; json.Marshal = %s", got, err, want)
		}
		if ok && !bytes.Equal(fast, want) {
			t.Fatalf("fast %s, json.Marshal %s", fast, want)
		}
	}
}
