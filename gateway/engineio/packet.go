package engineio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/carriermq/carrier/gateway/session"
)

// Engine.IO v4 packet types.
const (
	typeOpen    = '0'
	typeClose   = '1'
	typePing    = '2'
	typePong    = '3'
	typeMessage = '4'
	typeUpgrade = '5'
	typeNoop    = '6'
)

// separator joins the packets of a polling payload.
const separator = 0x1e

// packet is one decoded client packet; for a message, data is its payload
// (text, or the bytes of a base64 "b" packet).
type packet struct {
	typ  byte
	kind session.Kind // messages only
	data []byte
}

var errParse = errors.New("engine.io parse error")

// decodePayload splits a polling payload into packets with the reference
// parser's rules. data aliases b (and, for binary, a fresh buffer).
func decodePayload(b []byte) ([]packet, error) {
	parts := bytes.Split(b, []byte{separator})
	out := make([]packet, 0, len(parts))
	for _, one := range parts {
		p, err := decodePacket(one, true)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// decodePacket decodes one text packet; in polling, "b" starts base64 binary.
func decodePacket(b []byte, polling bool) (packet, error) {
	if len(b) == 0 {
		return packet{}, fmt.Errorf("%w: empty packet", errParse)
	}
	if polling && b[0] == 'b' {
		data := make([]byte, base64.StdEncoding.DecodedLen(len(b)-1))
		n, err := base64.StdEncoding.Decode(data, b[1:])
		if err != nil {
			return packet{}, fmt.Errorf("%w: bad base64", errParse)
		}
		return packet{typ: typeMessage, kind: session.Binary, data: data[:n]}, nil
	}
	if b[0] < typeOpen || b[0] > typeNoop {
		return packet{}, fmt.Errorf("%w: unknown packet type %q", errParse, b[0])
	}
	return packet{typ: b[0], kind: session.Text, data: b[1:]}, nil
}

// appendPolling appends one outgoing frame to a polling payload: a text
// frame as it is (it starts with its type), binary as "b" and base64.
func appendPolling(payload []byte, f frame) []byte {
	if len(payload) > 0 {
		payload = append(payload, separator)
	}
	if f.kind == session.Binary {
		payload = append(payload, 'b')
		return base64.StdEncoding.AppendEncode(payload, f.data)
	}
	return append(payload, f.data...)
}

// frame is an outgoing Engine.IO packet: text with its type first
// ("4…", "2", "1"), or the bytes of a binary message.
type frame struct {
	kind session.Kind
	data []byte
}
