// Package socketio is the Socket.IO v5 codec of sessions (session.Codec):
// Socket.IO packets, carried as Engine.IO messages by package engineio,
// in; session commands out; replies and deliveries back as packets. A
// namespace is a queue; a CONNECT subscribes the socket (a tail, or a
// consumer group member when its auth names a group); an EVENT publishes;
// an ACK acknowledges a delivery. See ../DESIGN.md, "socket.io".
package socketio

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// Config sets up the codec of one session.
type Config struct {
	// DefaultQueue is the queue of the main namespace "/".
	DefaultQueue string
	// Limits bound one publish.
	Limits session.Limits
	// MaxAttachmentBytes bounds the attachments of one binary packet together.
	MaxAttachmentBytes int64
}

// Codec is Socket.IO for one session: it keeps the session's namespaces
// (which subscription each is, its ack mode, its recovery id) and the
// binary packet being reassembled. Decode runs on the session's reader,
// the encoders on its writer; mu guards what both use.
type Codec struct {
	cfg Config

	mu    sync.Mutex
	byNsp map[string]*namespace
	byNum map[uint64]*namespace
	bySub map[string]*namespace
	next  uint64

	bin *binaryPacket // reader only: a BINARY_EVENT waiting for its attachments
}

var _ session.Codec = (*Codec)(nil)

// namespace is one connected (or connecting) namespace of the socket.
type namespace struct {
	num     uint64
	name    string
	queue   string
	group   string
	autoAck bool
	sub     string // set when subscribed
	sid     string
	// recovery: the pid the client sent, and the seq a tail must resume
	// at for the state to count as recovered.
	pid  string
	want uint64
}

// binaryPacket is a BINARY_EVENT whose attachments are arriving.
type binaryPacket struct {
	ns    *namespace
	p     *packet
	name  string
	args  []json.RawMessage
	atts  [][]byte
	bytes int64
}

// New returns the codec of one session.
func New(cfg Config) *Codec {
	return &Codec{cfg: cfg, byNsp: map[string]*namespace{}, byNum: map[uint64]*namespace{},
		bySub: map[string]*namespace{}}
}

// closeWith is an Invalid that ends the connection, as the protocol wants
// for malformed packets, unknown types and bad ack ids.
func closeWith(format string, args ...any) *session.Invalid {
	return &session.Invalid{Err: apierr.Errorf(protocol.CodeBadFrame, format, args...), Close: true}
}

// Decode decodes one Engine.IO message: a text packet or an attachment.
func (c *Codec) Decode(m session.Inbound) session.Command {
	if m.Kind == session.Binary {
		return c.attachment(m.Data)
	}
	if c.bin != nil {
		return closeWith("a text packet arrived while %d attachments were expected", c.bin.p.attachments-len(c.bin.atts))
	}
	p, err := decodePacket(m.Data)
	if err != nil {
		return closeWith("malformed socket.io packet: %v", err)
	}
	c.mu.Lock()
	ns := c.byNsp[p.nsp]
	c.mu.Unlock()
	switch {
	case p.typ == typeConnect && ns == nil:
		return c.connect(p)
	case ns == nil:
		return closeWith("the first packet of namespace %q must be a CONNECT", apierr.Clip(p.nsp))
	}
	switch p.typ {
	case typeDisconnect:
		return c.disconnect(ns)
	case typeEvent, typeBinaryEvent:
		return c.event(ns, p)
	case typeAck:
		return c.ack(ns, p)
	}
	return closeWith("a client may not send a packet of type %c here", p.typ)
}

// queueOf maps a namespace to its queue: "/" to the default queue, "/name" to name.
func (c *Codec) queueOf(nsp string) (string, *apierr.Error) {
	if nsp == "/" {
		return c.cfg.DefaultQueue, nil
	}
	name := strings.TrimPrefix(nsp, "/")
	return name, session.CheckName("queue (namespace)", name)
}

// connect subscribes the socket to the namespace's queue.
func (c *Codec) connect(p *packet) session.Command {
	ns := c.add(p.nsp)
	id := "c" + strconv.FormatUint(ns.num, 10)
	q, e := c.queueOf(p.nsp)
	if e != nil {
		return &session.Invalid{ID: id, Err: e}
	}
	a, e := parseAuth(p.data)
	if e != nil {
		return &session.Invalid{ID: id, Err: e}
	}
	sub := &session.Subscribe{ID: id, Queue: q, Group: a.Group, Events: a.Events, AutoAck: a.AutoAck}
	if sub.Config, e = a.groupConfig(); e != nil {
		return &session.Invalid{ID: id, Err: e}
	}
	if sub.Group == "" {
		if sub.Pos, e = position(a.From); e != nil {
			return &session.Invalid{ID: id, Err: e}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ns.queue, ns.group, ns.autoAck = q, a.Group, a.AutoAck
	if rp, pos, ok := a.recovery(q); ok {
		ns.pid = rp.String()
		if rp.group == "" {
			sub.Pos, ns.want = pos, pos.Seq
		}
	}
	return sub
}

// add registers a namespace being connected.
func (c *Codec) add(nsp string) *namespace {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	ns := &namespace{num: c.next, name: nsp}
	c.byNsp[nsp], c.byNum[ns.num] = ns, ns
	return ns
}

// drop forgets a namespace. c.mu must be held.
func (c *Codec) drop(ns *namespace) {
	if c.byNsp[ns.name] == ns {
		delete(c.byNsp, ns.name)
	}
	delete(c.byNum, ns.num)
	if ns.sub != "" {
		delete(c.bySub, ns.sub)
	}
}

// disconnect ends the namespace's subscription.
func (c *Codec) disconnect(ns *namespace) session.Command {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ns.sub == "" {
		return closeWith("DISCONNECT of namespace %q before it was connected", apierr.Clip(ns.name))
	}
	c.drop(ns)
	return &session.Unsubscribe{Sub: ns.sub}
}

// publishID names an emit in the session's replies: its namespace and its
// ack id ("" without one).
func publishID(ns *namespace, id int64) string {
	s := "p" + strconv.FormatUint(ns.num, 10) + "."
	if id >= 0 {
		s += strconv.FormatInt(id, 10)
	}
	return s
}

// event publishes an EVENT, or starts reassembling a BINARY_EVENT.
func (c *Codec) event(ns *namespace, p *packet) session.Command {
	var elems []json.RawMessage
	if err := json.Unmarshal(p.data, &elems); err != nil {
		return closeWith("malformed EVENT: %v", err)
	}
	var name string
	_ = json.Unmarshal(elems[0], &name) // checked by decodePacket
	if e := session.CheckLabels("", name); e != nil {
		return &session.Invalid{ID: publishID(ns, p.id), Err: e}
	}
	if p.typ == typeBinaryEvent {
		c.bin = &binaryPacket{ns: ns, p: p, name: name, args: elems[1:]}
		return nil
	}
	return c.publish(ns, p.id, toMessage(name, elems[1:], nil))
}

func (c *Codec) publish(ns *namespace, id int64, m *queue.Message) session.Command {
	if ns.queue == "" {
		return closeWith("EVENT on namespace %q, whose CONNECT failed", apierr.Clip(ns.name))
	}
	pid := publishID(ns, id)
	if e := c.cfg.Limits.CheckSize(m); e != nil {
		return &session.Invalid{ID: pid, Err: e}
	}
	return &session.Publish{ID: pid, Queue: ns.queue, Msgs: []*queue.Message{m}}
}

// attachment adds one attachment to the BINARY_EVENT being reassembled.
func (c *Codec) attachment(b []byte) session.Command {
	bp := c.bin
	if bp == nil {
		return closeWith("binary data without a BINARY_EVENT announcing it")
	}
	if bp.bytes += int64(len(b)); bp.bytes > c.cfg.MaxAttachmentBytes {
		c.bin = nil
		return closeWith("the attachments of one packet are limited to %d bytes", c.cfg.MaxAttachmentBytes)
	}
	bp.atts = append(bp.atts, append([]byte(nil), b...))
	if len(bp.atts) < bp.p.attachments {
		return nil
	}
	c.bin = nil
	if err := checkPlaceholders(joinArray(bp.args), len(bp.atts)); err != nil {
		return closeWith("malformed BINARY_EVENT: %v", err)
	}
	return c.publish(bp.ns, bp.p.id, toMessage(bp.name, bp.args, bp.atts))
}

// ack acknowledges (or, with {"nack":true}, refuses) the delivery whose
// ack id it answers: a delivery's ack id is its seq.
func (c *Codec) ack(ns *namespace, p *packet) session.Command {
	c.mu.Lock()
	sub, group, auto := ns.sub, ns.group, ns.autoAck
	c.mu.Unlock()
	switch {
	case p.id == noID:
		return closeWith("an ACK needs an ack id")
	case sub == "" || group == "" || auto:
		return closeWith("bad ack id %d: namespace %q was sent no delivery to ack", p.id, apierr.Clip(ns.name))
	case p.id == 0:
		return closeWith("bad ack id 0")
	}
	cmd := &session.Ack{ID: "a" + strconv.FormatUint(ns.num, 10), Sub: sub, Seqs: []uint64{uint64(p.id)}}
	var args []struct {
		Nack  bool  `json:"nack"`
		Delay int64 `json:"delay"` // milliseconds
	}
	if json.Unmarshal(p.data, &args) == nil && len(args) > 0 && args[0].Nack {
		cmd.Nack = true
		cmd.Delay = ackDelay(args[0].Delay)
	}
	return cmd
}

// newSID is the socket id of a CONNECT reply (socket.id on the client).
func newSID() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
