package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// entryVersion is the first byte of every encoded entry. A decoder refuses
// any other value: a replica that meets an entry it cannot read must stop.
const entryVersion = 1

// EncodeEntry encodes an entry in the versioned log format:
//
//	version byte (1) | varint time | uvarint count |
//	count × ( op byte | uvarint body length | body )
//
// Bodies encode the command's fields in declaration order (see the
// encode* functions). Commands may be values or pointers; a nil command, a
// nil message or a type this package does not define is an error.
func EncodeEntry(e Entry) ([]byte, error) {
	enc := encoder{buf: make([]byte, 0, sizeHint(e))}
	enc.byte(entryVersion)
	enc.varint(e.Time)
	enc.uvarint(uint64(len(e.Commands)))
	for i, c := range e.Commands {
		if err := enc.command(c); err != nil {
			return nil, fmt.Errorf("encode command %d: %w", i, err)
		}
	}
	return enc.buf, nil
}

// sizeHint estimates the encoded size so that encoding allocates once.
func sizeHint(e Entry) int {
	n := 16
	for _, c := range e.Commands {
		n += 32
		if p, ok := deref(c).(Publish); ok {
			for _, m := range p.Messages {
				if m != nil {
					n += int(m.Size()) + 48 + 2*len(m.Headers)
				}
			}
		}
	}
	return n
}

// command appends op, body length and body. The body is written after a
// placeholder for its length, then moved down once the length is known.
func (e *encoder) command(c Command) error {
	c = deref(c)
	op, err := opOf(c)
	if err != nil {
		return err
	}
	e.byte(byte(op))
	start := len(e.buf)
	e.buf = append(e.buf, make([]byte, binary.MaxVarintLen64)...)
	bodyStart := len(e.buf)
	if err := e.body(c); err != nil {
		return err
	}
	bodyLen := len(e.buf) - bodyStart
	n := binary.PutUvarint(e.buf[start:], uint64(bodyLen))
	copy(e.buf[start+n:], e.buf[bodyStart:])
	e.buf = e.buf[:start+n+bodyLen]
	return nil
}

// opOf returns the op of a command value defined by this package.
func opOf(c Command) (Op, error) {
	switch c.(type) {
	case CreateQueue, UpdateQueue, DeleteQueue, PurgeQueue, Publish, Join, Leave,
		Ack, Nack, Tick, Redrive, ResetNode, CreateGroup, DeleteGroup, UpdateGroup:
		return c.Op(), nil
	case nil:
		return 0, errors.New("nil command")
	}
	return 0, fmt.Errorf("unknown command type %T", c)
}

func (e *encoder) body(c Command) error {
	switch c := c.(type) {
	case CreateQueue:
		e.string(c.Name)
		e.queueConfig(c.Config)
		e.int(c.MaxQueues)
	case UpdateQueue:
		e.string(c.Name)
		e.queueConfig(c.Config)
		e.optionalString(c.IfMatch)
	case DeleteQueue:
		e.string(c.Name)
	case PurgeQueue:
		e.string(c.Name)
	case Publish:
		return e.publish(c)
	case Join:
		e.string(c.Queue)
		e.string(c.Group)
		e.memberRef(c.Member)
		e.groupConfig(c.Config)
	case Leave:
		e.string(c.Queue)
		e.string(c.Group)
		e.string(c.Member)
	case Ack:
		e.string(c.Queue)
		e.string(c.Group)
		e.string(c.Member)
		e.seqs(c.Seqs)
	case Nack:
		e.string(c.Queue)
		e.string(c.Group)
		e.string(c.Member)
		e.seqs(c.Seqs)
		e.dur(c.Delay)
	case Tick:
	case Redrive:
		e.string(c.Queue)
		e.seqs(c.DLSeqs)
	case ResetNode:
		e.string(c.Node)
		e.string(c.Keep)
	case CreateGroup:
		e.string(c.Queue)
		e.string(c.Group)
		e.groupConfig(c.Config)
	case DeleteGroup:
		e.string(c.Queue)
		e.string(c.Group)
	case UpdateGroup:
		e.string(c.Queue)
		e.string(c.Group)
		e.groupConfig(c.Config)
		e.optionalString(c.IfMatch)
	default:
		return fmt.Errorf("unknown command type %T", c)
	}
	return nil
}

func (e *encoder) publish(c Publish) error {
	e.string(c.Queue)
	e.bool(c.Create != nil)
	if c.Create != nil {
		e.queueConfig(*c.Create)
	}
	e.int(c.MaxQueues)
	e.varint(c.MaxTotalBytes)
	e.uvarint(uint64(len(c.Messages)))
	for i, m := range c.Messages {
		if m == nil {
			return fmt.Errorf("message %d is nil", i)
		}
		e.message(m)
	}
	return nil
}

func (e *encoder) message(m *Message) {
	e.uvarint(m.Seq)
	e.string(m.ID)
	e.string(m.Event)
	e.bytes(m.Data)
	e.bool(m.Binary)
	e.strMap(m.Headers)
	e.varint(m.Time)
	e.varint(m.DeliverAt)
}

func (e *encoder) queueConfig(c QueueConfig) {
	e.string(string(c.Retention))
	e.varint(c.MaxMessages)
	e.varint(c.MaxBytes)
	e.dur(c.MaxAge)
	e.varint(c.MaxMessageSize)
	e.string(string(c.Discard))
	e.dur(c.DedupWindow)
	e.varint(c.MaxDeadLetters)
	e.groupConfig(c.Group)
}

func (e *encoder) groupConfig(c GroupConfig) {
	e.dur(c.AckWait)
	e.int(c.MaxDeliver)
	e.int(c.MaxInFlight)
	e.position(c.Start)
}

func (e *encoder) position(p Position) {
	e.string(string(p.Kind))
	e.uvarint(p.Seq)
	e.varint(p.Time)
}

func (e *encoder) memberRef(r MemberRef) {
	e.string(r.ID)
	e.string(r.Node)
	e.string(r.Session)
}

// DecodeEntry decodes an entry; an unknown version or op, or any malformed
// byte (truncation, trailing bytes, a length beyond the input, a bool other
// than 0 or 1, map keys out of order), is an error: the node must stop
// rather than skip it. The entry does not alias b.
func DecodeEntry(b []byte) (Entry, error) {
	d := decoder{buf: append([]byte(nil), b...), alias: true}
	if v := d.byte(); d.err == nil && v != entryVersion {
		return Entry{}, fmt.Errorf("%w: entry version %d, want %d", errMalformed, v, entryVersion)
	}
	e := Entry{Time: d.varint()}
	n, hint := d.count()
	if n > 0 {
		e.Commands = make([]Command, 0, hint)
	}
	for i := 0; i < n && d.err == nil; i++ {
		c, err := d.command()
		if err != nil {
			return Entry{}, fmt.Errorf("decode command %d: %w", i, err)
		}
		e.Commands = append(e.Commands, c)
	}
	if d.err == nil && d.off != len(d.buf) {
		d.fail("%d trailing bytes", len(d.buf)-d.off)
	}
	if d.err != nil {
		return Entry{}, fmt.Errorf("decode entry: %w", d.err)
	}
	return e, nil
}

// command decodes op, length and body; the body must be consumed exactly.
func (d *decoder) command() (Command, error) {
	op := Op(d.byte())
	n := d.length()
	body := d.take(n)
	if d.err != nil {
		return nil, d.err
	}
	bd := decoder{buf: body, alias: d.alias}
	c := bd.body(op)
	if bd.err == nil && bd.off != len(body) {
		bd.fail("%d trailing bytes in op %d", len(body)-bd.off, op)
	}
	return c, bd.err
}

func (d *decoder) body(op Op) Command {
	switch op {
	case OpCreateQueue:
		return CreateQueue{Name: d.string(), Config: d.queueConfig(), MaxQueues: d.int()}
	case OpUpdateQueue:
		return UpdateQueue{Name: d.string(), Config: d.queueConfig(), IfMatch: d.optionalString()}
	case OpDeleteQueue:
		return DeleteQueue{Name: d.string()}
	case OpPurgeQueue:
		return PurgeQueue{Name: d.string()}
	case OpPublish:
		return d.publish()
	case OpJoin:
		return Join{Queue: d.string(), Group: d.string(), Member: d.memberRef(), Config: d.groupConfig()}
	case OpLeave:
		return Leave{Queue: d.string(), Group: d.string(), Member: d.string()}
	case OpAck:
		return Ack{Queue: d.string(), Group: d.string(), Member: d.string(), Seqs: d.seqs()}
	case OpNack:
		return Nack{Queue: d.string(), Group: d.string(), Member: d.string(), Seqs: d.seqs(), Delay: d.dur()}
	case OpTick:
		return Tick{}
	case OpRedrive:
		return Redrive{Queue: d.string(), DLSeqs: d.seqs()}
	case OpResetNode:
		return ResetNode{Node: d.string(), Keep: d.string()}
	case OpCreateGroup:
		return CreateGroup{Queue: d.string(), Group: d.string(), Config: d.groupConfig()}
	case OpDeleteGroup:
		return DeleteGroup{Queue: d.string(), Group: d.string()}
	case OpUpdateGroup:
		return UpdateGroup{Queue: d.string(), Group: d.string(), Config: d.groupConfig(), IfMatch: d.optionalString()}
	}
	d.fail("unknown op %d", op)
	return nil
}

func (d *decoder) publish() Command {
	p := Publish{Queue: d.string()}
	if d.bool() {
		cfg := d.queueConfig()
		p.Create = &cfg
	}
	p.MaxQueues = d.int()
	p.MaxTotalBytes = d.varint()
	n, hint := d.count()
	if n > 0 {
		p.Messages = make([]*Message, 0, hint)
	}
	for i := 0; i < n && d.err == nil; i++ {
		p.Messages = append(p.Messages, d.message())
	}
	return p
}

func (d *decoder) message() *Message {
	return &Message{
		Seq:       d.uvarint(),
		ID:        d.string(),
		Event:     d.string(),
		Data:      d.bytes(),
		Binary:    d.bool(),
		Headers:   d.strMap(),
		Time:      d.varint(),
		DeliverAt: d.varint(),
	}
}

func (d *decoder) queueConfig() QueueConfig {
	return QueueConfig{
		Retention:      Retention(d.string()),
		MaxMessages:    d.varint(),
		MaxBytes:       d.varint(),
		MaxAge:         d.dur(),
		MaxMessageSize: d.varint(),
		Discard:        Discard(d.string()),
		DedupWindow:    d.dur(),
		MaxDeadLetters: d.varint(),
		Group:          d.groupConfig(),
	}
}

func (d *decoder) groupConfig() GroupConfig {
	return GroupConfig{AckWait: d.dur(), MaxDeliver: d.int(), MaxInFlight: d.int(), Start: d.position()}
}

func (d *decoder) position() Position {
	return Position{Kind: PositionKind(d.string()), Seq: d.uvarint(), Time: d.varint()}
}

func (d *decoder) memberRef() MemberRef {
	return MemberRef{ID: d.string(), Node: d.string(), Session: d.string()}
}

// AppendMessage appends m in the encoding Publish and snapshots use (seq
// included) and returns the extended buffer. Stores on disk keep messages
// in this encoding.
func AppendMessage(b []byte, m *Message) []byte {
	e := encoder{buf: b}
	e.message(m)
	return e.buf
}

// DecodeMessage decodes one message written by AppendMessage; b must hold
// exactly one. The message does not alias b.
func DecodeMessage(b []byte) (*Message, error) {
	d := decoder{buf: append([]byte(nil), b...), alias: true}
	m := d.message()
	if d.err == nil && d.off != len(d.buf) {
		d.fail("%d trailing bytes", len(d.buf)-d.off)
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode message: %w", d.err)
	}
	return m, nil
}
