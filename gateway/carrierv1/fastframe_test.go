package carrierv1

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/protocol"
)

// fastDecodeSeeds are publish frames of every shape the fast path sees or
// must refuse.
var fastDecodeSeeds = []string{
	`{"type":"publish","id":"1","queue":"q","msgId":"m","event":"e","binary":"aGVsbG8="}`,
	` { "type" : "publish" , "queue":"q", "binary":"" } `,
	`{"type":"publish","queue":"q","data":{"a":1}}`,
	`{"type":"publish","queue":"q","binary":"aGVsbG8"}`,
	`{"type":"publish","queue":"q","binary":"!!!!"}`,
	`{"type":"publish","queue":"q","binary":"aGVs\nbG8="}`,
	"{\"type\":\"publish\",\"queue\":\"q\",\"binary\":\"aGVs\nbG8=\"}",
	"{\"type\":\"publish\",\"queue\":\"q\",\"binary\":\"aGVs\rbG8=\"}",
	`{"type":"publish","queue":"q","binary":"aGVs\"bG8="}`,
	"{\"type\":\"publish\",\"queue\":\"q\",\"binary\":\"aGVs\tbG8=\"}",
	`{"type":"publish","Queue":"q"}`,
	`{"type":"publish","queue":"q","queue":"r"}`,
	`{"type":"publish","queue":"q\u0041"}`,
	`{"type":"publish","queue":"qé","event":"ü"}`,
	`{"type":"publish","queue":"q"}x`,
	`{"type":"publish","queue":"q",}`,
	`{"type":"ping","id":"1"}`,
	`{"type":"publish","id":1}`,
	`{"type":"publish","binary":null}`,
	`{"type":"publish","queue":"q"`,
	`{}`,
}

// TestDecodePublishFastMatchesJSON: whatever the fast path accepts,
// encoding/json accepts too and decodes to the same frame.
func TestDecodePublishFastMatchesJSON(t *testing.T) {
	accepted := 0
	for _, s := range fastDecodeSeeds {
		if checkFastDecode(t, []byte(s)) {
			accepted++
		}
	}
	if accepted != 3 {
		t.Fatalf("fast path accepted %d seeds, want 3", accepted)
	}
}

func FuzzDecodePublishFast(f *testing.F) {
	for _, s := range fastDecodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeFrame(b, fuzzLimits) // must not panic
		checkFastDecode(t, bytes.TrimSpace(b))
	})
}

// checkFastDecode compares the fast path with encoding/json on b.
func checkFastDecode(t *testing.T, b []byte) bool {
	t.Helper()
	var got protocol.Frame
	if !decodePublishFast(b, &got) {
		if !reflect.DeepEqual(got, protocol.Frame{}) {
			t.Fatalf("%q: refused but left %+v", b, got)
		}
		return false
	}
	var want protocol.Frame
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("fast path accepted %q, encoding/json refused it: %v", b, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: fast %+v, encoding/json %+v", b, got, want)
	}
	return true
}

// TestAppendPublishedFastMatchesJSON: the fast encoder writes exactly what
// the writer's json.Encoder writes, and refuses what it cannot.
func TestAppendPublishedFastMatchesJSON(t *testing.T) {
	frames := []struct {
		f    protocol.Frame
		fast bool
	}{
		{protocol.Frame{Type: protocol.TypePublished, ID: "7", Queue: "q", MsgID: "m", Seq: 42}, true},
		{protocol.Frame{Type: protocol.TypePublished, ID: "7", Queue: "q", MsgID: "m", Seq: 42, Duplicate: true}, true},
		{protocol.Frame{Type: protocol.TypePublished, Queue: "q"}, true},
		{protocol.Frame{Type: protocol.TypePublished, ID: "<&>", Queue: "q", MsgID: "m"}, true},
		{protocol.Frame{Type: protocol.TypePublished, ID: "a\"b", Queue: "q"}, false},
		{protocol.Frame{Type: protocol.TypePublished, ID: "é", Queue: "q"}, false},
		{protocol.Frame{Type: protocol.TypePublished, ID: "1", Results: []protocol.Published{{MsgID: "m"}}}, false},
		{protocol.Frame{Type: protocol.TypeError, ID: "1", Code: "x", Message: "y"}, false},
	}
	var wbuf bytes.Buffer
	enc := json.NewEncoder(&wbuf)
	enc.SetEscapeHTML(false)
	for _, tc := range frames {
		got, ok := appendPublishedFast(nil, &tc.f)
		if ok != tc.fast {
			t.Fatalf("%+v: fast = %v, want %v", tc.f, ok, tc.fast)
		}
		if !ok {
			continue
		}
		wbuf.Reset()
		if err := enc.Encode(&tc.f); err != nil {
			t.Fatal(err)
		}
		if want := bytes.TrimSuffix(wbuf.Bytes(), []byte("\n")); !bytes.Equal(got, want) {
			t.Fatalf("fast %s, encoding/json %s", got, want)
		}
	}
}

// BenchmarkDecodePublish: one 1 KiB binary publish frame, as the Go client
// sends it, through decodeFrame (fast path) and through encoding/json.
func BenchmarkDecodePublish(b *testing.B) {
	payload := bytes.Repeat([]byte{0xA5}, 1024)
	frame, _ := json.Marshal(protocol.Frame{Type: protocol.TypePublish, ID: "123", Queue: "bench",
		MsgID: "0123456789abcdef0123456789abcdef", Event: "b", Binary: payload})
	lim := session.Limits{MaxMessageBytes: 1 << 20, MaxBatch: 1000}
	b.Run("decodeFrame", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if _, err := decodeFrame(frame, lim); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			var f protocol.Frame
			if err := json.Unmarshal(frame, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
}
