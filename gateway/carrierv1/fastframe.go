package carrierv1

import (
	"bytes"
	"encoding/base64"
	"strconv"

	"github.com/carriermq/carrier/protocol"
)

// The hot frames — a publish of one message in, its "published" reply out —
// are read and written here without encoding/json's reflection and its
// separate validation pass. Both fast paths accept only the plain shapes a
// client library sends (flat object, known keys spelled exactly, string
// values without escapes) and report false for anything else; the caller
// then takes the encoding/json path, so accepted input, the decoded result
// and the bytes written are the same either way (fastframe_test.go checks
// this against encoding/json).

// decodePublishFast parses b as {"type":"publish", ...} with only the keys
// type, id, queue, msgId, event and binary, each once, each a string
// without escapes or control characters, and binary valid padded base64.
// b must be valid UTF-8 (decodeFrame checks it first). The frame keeps no
// reference to b. On false, f is left zero.
func decodePublishFast(b []byte, f *protocol.Frame) bool {
	if !parsePublish(b, f) {
		*f = protocol.Frame{}
		return false
	}
	return true
}

func parsePublish(b []byte, f *protocol.Frame) bool {
	s := flatScanner{b: b}
	if !s.byte('{') {
		return false
	}
	var seen uint8
	for first := true; ; first = false {
		if s.byte('}') {
			break
		}
		if !first && !s.byte(',') {
			return false
		}
		key, ok := s.str()
		if !ok || !s.byte(':') {
			return false
		}
		var val []byte
		if string(key) == "binary" {
			val, ok = s.rawStr() // base64 decoding checks the contents
		} else {
			val, ok = s.str()
		}
		if !ok || !setPublishField(f, &seen, key, val) {
			return false
		}
	}
	s.space()
	return s.i == len(b) && f.Type == protocol.TypePublish
}

// setPublishField stores one field; false for an unknown or repeated key,
// a binary that is not base64, or a type other than publish.
func setPublishField(f *protocol.Frame, seen *uint8, key, val []byte) bool {
	var bit uint8
	switch string(key) {
	case "type":
		bit, f.Type = 1, string(val)
	case "id":
		bit, f.ID = 2, string(val)
	case "queue":
		bit, f.Queue = 4, string(val)
	case "msgId":
		bit, f.MsgID = 8, string(val)
	case "event":
		bit, f.Event = 16, string(val)
	case "binary":
		bit = 32
		// val may hold anything but '"' (rawStr): the decoder refuses every
		// byte outside the alphabet except CR and LF, which JSON refuses raw.
		if bytes.IndexByte(val, '\n') >= 0 || bytes.IndexByte(val, '\r') >= 0 {
			return false
		}
		d := make([]byte, base64.StdEncoding.DecodedLen(len(val)))
		n, err := base64.StdEncoding.Decode(d, val)
		if err != nil {
			return false
		}
		f.Binary = d[:n:n]
	default:
		return false
	}
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// flatScanner reads the tokens of a flat JSON object.
type flatScanner struct {
	b []byte
	i int
}

func (s *flatScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte skips white space and consumes c if it comes next.
func (s *flatScanner) byte(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str consumes a string without escapes and returns its contents.
func (s *flatScanner) str() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// rawStr consumes a string up to the next '"' without looking at its
// contents (the caller must): a fast path for long base64 values.
func (s *flatScanner) rawStr() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	end := bytes.IndexByte(s.b[s.i:], '"')
	if end < 0 {
		return nil, false
	}
	v := s.b[s.i : s.i+end]
	s.i += end + 1
	return v, true
}

// appendPublishedFast appends the JSON of a "published" reply for one
// message, exactly as encoding/json writes it, and reports true; false
// when f has other fields or a string that would need escaping.
func appendPublishedFast(buf []byte, f *protocol.Frame) ([]byte, bool) {
	if !plainPublished(f) {
		return buf, false
	}
	buf = append(buf, `{"type":"published"`...)
	buf = protocol.AppendField(buf, "id", f.ID)
	buf = protocol.AppendField(buf, "queue", f.Queue)
	buf = protocol.AppendField(buf, "msgId", f.MsgID)
	if f.Seq != 0 {
		buf = strconv.AppendUint(append(buf, `,"seq":`...), f.Seq, 10)
	}
	if f.Duplicate {
		buf = append(buf, `,"duplicate":true`...)
	}
	return append(buf, '}'), true
}

// plainPublished: a published frame of one message whose strings need no
// escaping.
func plainPublished(f *protocol.Frame) bool {
	rest := *f
	rest.Type, rest.ID, rest.Queue, rest.MsgID, rest.Seq, rest.Duplicate = "", "", "", "", 0, false
	return f.Type == protocol.TypePublished && rest.IsZero() &&
		protocol.PlainJSON(false, f.ID, f.Queue, f.MsgID)
}
