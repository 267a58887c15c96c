package socketio

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/carriermq/carrier/queue"
)

// HeaderArgs marks a message whose data is not one socket.io argument:
// "json" means Data is the JSON array of the arguments, "binary" that Data
// holds the arguments with placeholders and their attachments (see
// packBinary). A message without it is one argument: its JSON data, or
// its bytes when binary, so that carrier.v1 and socket.io clients read
// each other's messages as they wrote them.
const HeaderArgs = "socketio-args"

const (
	argsJSON   = "json"
	argsBinary = "binary"
)

// toMessage is the message an EVENT publishes: event is the name, args
// the arguments after it (the ack id is not one), atts the attachments of
// a BINARY_EVENT.
func toMessage(event string, args []json.RawMessage, atts [][]byte) *queue.Message {
	m := &queue.Message{Event: event}
	switch {
	case len(atts) == 0 && len(args) == 1:
		m.Data = bytes.Clone(args[0])
	case len(atts) == 0 && len(args) > 1:
		m.Data = joinArray(args)
		m.Headers = map[string]string{HeaderArgs: argsJSON}
	case len(atts) == 1 && len(args) == 1 && isPlaceholder(args[0], 0):
		m.Data, m.Binary = atts[0], true
	case len(atts) > 0:
		m.Data, m.Binary = packBinary(joinArray(args), atts), true
		m.Headers = map[string]string{HeaderArgs: argsBinary}
	}
	return m
}

// joinArray writes elems as one JSON array.
func joinArray(elems []json.RawMessage) []byte {
	b := []byte{'['}
	for i, e := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, ']')
}

// packBinary is the data of a message with attachments: the JSON array of
// the arguments (placeholders in place of buffers), then the attachments,
// each as a uvarint length and its bytes, after a uvarint length of the JSON
// and a uvarint count.
func packBinary(args []byte, atts [][]byte) []byte {
	b := binary.AppendUvarint(nil, uint64(len(args)))
	b = append(b, args...)
	b = binary.AppendUvarint(b, uint64(len(atts)))
	for _, a := range atts {
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
	}
	return b
}

var errPacked = errors.New("not packed socket.io arguments")

// unpackBinary reverses packBinary.
func unpackBinary(b []byte) (args []byte, atts [][]byte, err error) {
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v, true
	}
	args, ok := next()
	if !ok || !isArray(args) {
		return nil, nil, errPacked
	}
	count, k := binary.Uvarint(b)
	if k <= 0 || count == 0 || count > MaxAttachments {
		return nil, nil, errPacked
	}
	b = b[k:]
	for range count {
		a, ok := next()
		if !ok {
			return nil, nil, errPacked
		}
		atts = append(atts, a)
	}
	if len(b) != 0 {
		return nil, nil, errPacked
	}
	return args, atts, nil
}

// delivered is a message as socket.io arguments: inner is the text of the
// arguments without the enclosing brackets ("" for none).
type delivered struct {
	inner []byte
	atts  [][]byte
}

// fromMessage turns a stored message into arguments. A message whose
// socketio-args header does not match its data (another client set it) is
// delivered as one argument, as if it had none.
func fromMessage(m *queue.Message) delivered {
	switch m.Headers[HeaderArgs] {
	case argsJSON:
		if !m.Binary && isArray(m.Data) && json.Valid(m.Data) {
			return delivered{inner: innerArray(m.Data)}
		}
	case argsBinary:
		if args, atts, err := unpackBinary(m.Data); m.Binary && err == nil && json.Valid(args) &&
			checkPlaceholders(args, len(atts)) == nil {
			return delivered{inner: innerArray(args), atts: atts}
		}
	}
	switch {
	case m.Binary:
		return delivered{inner: []byte(`{"_placeholder":true,"num":0}`), atts: [][]byte{m.Data}}
	case len(m.Data) == 0:
		return delivered{}
	}
	return delivered{inner: m.Data}
}

// innerArray strips the brackets of a valid JSON array.
func innerArray(b []byte) []byte {
	b = bytes.TrimSpace(b)
	return bytes.TrimSpace(b[1 : len(b)-1])
}

// isPlaceholder reports whether v is {"_placeholder":true,"num":num}.
func isPlaceholder(v json.RawMessage, num int) bool {
	var p struct {
		Placeholder bool `json:"_placeholder"`
		Num         *int `json:"num"`
	}
	return isObject(v) && json.Unmarshal(v, &p) == nil && p.Placeholder && p.Num != nil && *p.Num == num
}

// checkPlaceholders checks that every placeholder in args names one of n
// attachments: a bad one would make every client that receives the message
// fail to decode it, again on every redelivery.
func checkPlaceholders(args []byte, n int) error {
	var v any
	if err := json.Unmarshal(args, &v); err != nil {
		return err
	}
	return walkPlaceholders(v, n)
}

func walkPlaceholders(v any, n int) error {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if err := walkPlaceholders(e, n); err != nil {
				return err
			}
		}
	case map[string]any:
		if x["_placeholder"] == true {
			num, ok := x["num"].(float64)
			if !ok || num != float64(int(num)) || num < 0 || int(num) >= n {
				return fmt.Errorf("a placeholder names attachment %v of %d", x["num"], n)
			}
			return nil
		}
		for _, e := range x {
			if err := walkPlaceholders(e, n); err != nil {
				return err
			}
		}
	}
	return nil
}
