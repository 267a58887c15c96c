package client

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"sync"

	"github.com/carriermq/carrier/protocol"
)

// encodeFrame is json.Marshal(f), with a fast path for the hot frame: a
// publish of one binary message, which it writes by hand (no reflection,
// base64 straight into the output) byte-for-byte as json.Marshal does.
// The fast path's buffer comes from a pool: hand it back with releaseFrame
// once nothing reads it.
func encodeFrame(f *protocol.Frame) ([]byte, error) {
	buf := frames.Get().(*[]byte)
	if b, ok := appendPublishFast((*buf)[:0], f); ok {
		return b, nil
	}
	frames.Put(buf)
	return json.Marshal(f)
}

// frames pools encoded frames, so a publish does not allocate (and the
// runtime zero) a new frame-sized buffer each time.
var frames = sync.Pool{New: func() any { return new([]byte) }}

// releaseFrame returns a frame from encodeFrame to the pool; b must not be
// used afterwards.
func releaseFrame(b []byte) {
	if cap(b) > 0 && cap(b) <= 64<<10 {
		b = b[:0]
		frames.Put(&b)
	}
}

// appendPublishFast appends f as JSON if it is a publish with only type, id,
// queue, msgId, event and a non-empty binary set and strings that need no escaping;
// otherwise it returns false.
func appendPublishFast(buf []byte, f *protocol.Frame) ([]byte, bool) {
	rest := *f
	rest.Type, rest.ID, rest.Queue, rest.MsgID, rest.Event, rest.Binary = "", "", "", "", "", nil
	if f.Type != protocol.TypePublish || len(f.Binary) == 0 || !rest.IsZero() ||
		!protocol.PlainJSON(true, f.ID, f.Queue, f.MsgID, f.Event) {
		return buf, false
	}
	n := 80 + len(f.ID) + len(f.Queue) + len(f.MsgID) + len(f.Event) + base64.StdEncoding.EncodedLen(len(f.Binary))
	buf = append(slices.Grow(buf, n), `{"type":"publish"`...)
	buf = protocol.AppendField(buf, "id", f.ID)
	buf = protocol.AppendField(buf, "queue", f.Queue)
	buf = protocol.AppendField(buf, "msgId", f.MsgID)
	buf = protocol.AppendField(buf, "event", f.Event)
	buf = append(buf, `,"binary":"`...)
	buf = base64.StdEncoding.AppendEncode(buf, f.Binary)
	return append(buf, `"}`...), true
}
