package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Packet types of Socket.IO v5.
const (
	typeConnect      = '0'
	typeDisconnect   = '1'
	typeEvent        = '2'
	typeAck          = '3'
	typeConnectError = '4'
	typeBinaryEvent  = '5'
	typeBinaryAck    = '6'
)

// MaxAttachments is the most binary attachments one packet may announce
// (the reference parser's default).
const MaxAttachments = 10

// maxAckID is the largest ack id: ids are JavaScript numbers, exact up to 2^53-1.
const maxAckID = 1<<53 - 1

// noID marks a packet without an ack id.
const noID = -1

// packet is one decoded Socket.IO packet:
// <type>[<attachments>-][<nsp>,][<ackId>][JSON].
type packet struct {
	typ         byte
	attachments int
	nsp         string
	id          int64           // noID when absent
	data        json.RawMessage // nil when absent; valid JSON of the type's shape
}

// reservedEvents may not be emitted by a client (the reference parser's list).
var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true,
	"disconnecting": true, "newListener": true, "removeListener": true,
}

var errEmpty = errors.New("empty packet")

// decodePacket parses one text packet with the reference parser's rules;
// b is not kept (data is a copy).
func decodePacket(b []byte) (*packet, error) {
	if len(b) == 0 {
		return nil, errEmpty
	}
	p := &packet{typ: b[0], nsp: "/", id: noID}
	if p.typ < typeConnect || p.typ > typeBinaryAck {
		return nil, fmt.Errorf("unknown packet type %q", b[0])
	}
	rest := b[1:]
	var err error
	if p.typ == typeBinaryEvent || p.typ == typeBinaryAck {
		if p.attachments, rest, err = decodeAttachments(rest); err != nil {
			return nil, err
		}
	}
	if len(rest) > 0 && rest[0] == '/' {
		i := bytes.IndexByte(rest, ',')
		if i < 0 {
			i = len(rest)
		}
		p.nsp = string(rest[:i])
		rest = rest[min(i+1, len(rest)):]
	}
	if p.id, rest, err = decodeID(rest); err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		if !json.Valid(rest) {
			return nil, errors.New("the payload is not JSON")
		}
		p.data = bytes.Clone(rest)
	}
	return p, p.validate()
}

func decodeAttachments(b []byte) (int, []byte, error) {
	i := bytes.IndexByte(b, '-')
	if i < 1 || i > 2 {
		return 0, nil, errors.New("illegal attachments")
	}
	n, err := strconv.Atoi(string(b[:i]))
	if err != nil || n < 1 {
		return 0, nil, errors.New("illegal attachments")
	}
	if n > MaxAttachments {
		return 0, nil, fmt.Errorf("more than %d attachments", MaxAttachments)
	}
	return n, b[i+1:], nil
}

func decodeID(b []byte) (int64, []byte, error) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 {
		return noID, b, nil
	}
	id, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil || id > maxAckID {
		return 0, nil, errors.New("bad ack id")
	}
	return id, b[i:], nil
}

// validate checks the payload's shape for the packet type.
func (p *packet) validate() error {
	switch p.typ {
	case typeConnect:
		if p.data != nil && !isObject(p.data) {
			return errors.New("a CONNECT payload must be an object")
		}
	case typeDisconnect:
		if p.data != nil {
			return errors.New("a DISCONNECT has no payload")
		}
	case typeEvent, typeBinaryEvent:
		return validateEvent(p.data)
	case typeAck, typeBinaryAck:
		if !isArray(p.data) {
			return errors.New("an ACK payload must be an array")
		}
	}
	return nil
}

// validateEvent checks [name, ...args] with a name that is not reserved.
func validateEvent(data json.RawMessage) error {
	if !isArray(data) {
		return errors.New("an EVENT payload must be an array")
	}
	var head []json.RawMessage
	if err := json.Unmarshal(data, &head); err != nil || len(head) == 0 {
		return errors.New("an EVENT needs a name")
	}
	var name string
	if err := json.Unmarshal(head[0], &name); err != nil {
		return errors.New("an EVENT name must be a string")
	}
	if reservedEvents[name] {
		return fmt.Errorf("%q is a reserved event name", name)
	}
	return nil
}

func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

func isArray(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '['
}

// appendHeader appends <type>[<n>-][<nsp>,][<id>] for an outgoing packet.
func appendHeader(b []byte, typ byte, attachments int, nsp string, id int64) []byte {
	b = append(b, typ)
	if attachments > 0 {
		b = strconv.AppendInt(b, int64(attachments), 10)
		b = append(b, '-')
	}
	if nsp != "/" {
		b = append(b, nsp...)
		b = append(b, ',')
	}
	if id >= 0 {
		b = strconv.AppendInt(b, id, 10)
	}
	return b
}
