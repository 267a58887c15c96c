package socketio

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/gateway/session"
)

func ackDelay(ms int64) time.Duration {
	if ms <= 0 {
		return 0
	}
	return time.Duration(min(ms, int64(24*time.Hour/time.Millisecond))) * time.Millisecond
}

var buffers = sync.Pool{New: func() any { return new([]byte) }}

// write builds one packet with fn in a pooled buffer and writes it.
func write(w session.FrameWriter, fn func([]byte) []byte) error {
	bp := buffers.Get().(*[]byte)
	b := fn((*bp)[:0])
	err := w.WriteFrame(session.Text, b)
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		buffers.Put(bp)
	}
	return err
}

// lookup finds the namespace a command id names ("c3", "p3.17", "a3").
func (c *Codec) lookup(id string) (ns *namespace, ackID int64) {
	if len(id) < 2 {
		return nil, noID
	}
	numText, rest, _ := strings.Cut(id[1:], ".")
	num, err := strconv.ParseUint(numText, 10, 64)
	if err != nil {
		return nil, noID
	}
	ackID = noID
	if rest != "" {
		if ackID, err = strconv.ParseInt(rest, 10, 64); err != nil {
			ackID = noID
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byNum[num], ackID
}

// EncodeReply writes the packets a reply makes: the CONNECT reply or
// CONNECT_ERROR of a subscribe, the ACK of an emit with an ack callback,
// and an "error" event for failures with no callback to carry them.
func (c *Codec) EncodeReply(w session.FrameWriter, r *session.Reply) error {
	switch r.Kind {
	case session.ReplySubscribed:
		return c.connected(w, r)
	case session.ReplyPublished:
		return c.published(w, r)
	case session.ReplyError:
		return c.failed(w, r)
	}
	return nil // pong, acked, nacked, unsubscribed: socket.io has no packet for them
}

// connected writes the CONNECT reply with the socket's pid: the one the
// client sent when its state is recovered, else a new one.
func (c *Codec) connected(w session.FrameWriter, r *session.Reply) error {
	ns, _ := c.lookup(r.ID)
	if ns == nil {
		return nil
	}
	c.mu.Lock()
	ns.sub, ns.sid = r.Sub, newSID()
	c.bySub[r.Sub] = ns
	p := ns.pid
	if p == "" || (ns.group == "" && r.Seq != ns.want) {
		p = pid{queue: r.Queue, group: r.Group, start: r.Seq}.String()
	}
	ns.pid = p
	name, sid := ns.name, ns.sid
	c.mu.Unlock()
	reply, _ := json.Marshal(map[string]string{"sid": sid, "pid": p})
	return write(w, func(b []byte) []byte {
		return append(appendHeader(b, typeConnect, 0, name, noID), reply...)
	})
}

func (c *Codec) published(w session.FrameWriter, r *session.Reply) error {
	ns, ackID := c.lookup(r.ID)
	if ns == nil || ackID == noID || len(r.Acks) == 0 {
		return nil
	}
	res := struct {
		Seq       uint64 `json:"seq"`
		Duplicate bool   `json:"duplicate,omitempty"`
	}{r.Acks[0].Seq, r.Acks[0].Duplicate}
	body, _ := json.Marshal([]any{res})
	return write(w, func(b []byte) []byte {
		return append(appendHeader(b, typeAck, 0, ns.name, ackID), body...)
	})
}

// errorObject is what an ack callback or an "error" listener receives.
func errorObject(e *apierr.Error) map[string]string {
	return map[string]string{"code": e.Code, "message": e.Message}
}

// failed routes an error: a subscribe's to CONNECT_ERROR, an emit's to its
// ACK or an "error" event, an ack's to an "error" event; an error that ended
// a subscription to an "error" event and a DISCONNECT; any other to an
// "error" event on every namespace.
func (c *Codec) failed(w session.FrameWriter, r *session.Reply) error {
	switch {
	case strings.HasPrefix(r.ID, "c"):
		return c.connectError(w, r)
	case strings.HasPrefix(r.ID, "p"):
		ns, ackID := c.lookup(r.ID)
		if ns != nil && ackID != noID {
			body, _ := json.Marshal([]any{errorObject(r.Err)})
			return write(w, func(b []byte) []byte {
				return append(appendHeader(b, typeAck, 0, ns.name, ackID), body...)
			})
		}
		return c.errorEvent(w, ns, r.Err)
	case r.ID != "":
		ns, _ := c.lookup(r.ID)
		return c.errorEvent(w, ns, r.Err)
	case r.Sub != "":
		return c.subscriptionEnded(w, r)
	}
	for _, ns := range c.connectedNamespaces() {
		if err := c.errorEvent(w, ns, r.Err); err != nil {
			return err
		}
	}
	return nil
}

func (c *Codec) connectError(w session.FrameWriter, r *session.Reply) error {
	ns, _ := c.lookup(r.ID)
	if ns == nil {
		return nil
	}
	c.mu.Lock()
	c.drop(ns)
	c.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"message": r.Err.Message, "data": map[string]string{"code": r.Err.Code}})
	return write(w, func(b []byte) []byte {
		return append(appendHeader(b, typeConnectError, 0, ns.name, noID), body...)
	})
}

// subscriptionEnded tells the client that the server ended a namespace's
// subscription (its queue was deleted, its member could not rejoin).
func (c *Codec) subscriptionEnded(w session.FrameWriter, r *session.Reply) error {
	c.mu.Lock()
	ns := c.bySub[r.Sub]
	if ns != nil {
		c.drop(ns)
	}
	c.mu.Unlock()
	if ns == nil {
		return nil
	}
	if err := c.errorEvent(w, ns, r.Err); err != nil {
		return err
	}
	return write(w, func(b []byte) []byte { return appendHeader(b, typeDisconnect, 0, ns.name, noID) })
}

func (c *Codec) connectedNamespaces() []*namespace {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*namespace
	for _, ns := range c.byNsp {
		if ns.sub != "" {
			out = append(out, ns)
		}
	}
	return out
}

// errorEvent writes ["error", {code, message}] to the namespace (none: nothing).
func (c *Codec) errorEvent(w session.FrameWriter, ns *namespace, e *apierr.Error) error {
	if ns == nil {
		return nil
	}
	body, _ := json.Marshal([]any{"error", errorObject(e)})
	return write(w, func(b []byte) []byte {
		return append(appendHeader(b, typeEvent, 0, ns.name, noID), body...)
	})
}

// EncodeDelivery writes a message as an EVENT (or a BINARY_EVENT and its
// attachments): [event, ...args, offset], with the seq as ack id when the
// socket acks its deliveries.
func (c *Codec) EncodeDelivery(w session.FrameWriter, d *session.Delivery) error {
	c.mu.Lock()
	ns := c.bySub[d.Sub]
	var name string
	ackID := int64(noID)
	if ns != nil {
		name = ns.name
		if d.Group != "" && !ns.autoAck {
			ackID = int64(d.Msg.Seq)
		}
	}
	c.mu.Unlock()
	if ns == nil {
		return nil // the namespace was disconnected meanwhile
	}
	args := fromMessage(d.Msg)
	typ := byte(typeEvent)
	if len(args.atts) > 0 {
		typ = typeBinaryEvent
	}
	event, _ := json.Marshal(d.Msg.Event)
	err := write(w, func(b []byte) []byte {
		b = appendHeader(b, typ, len(args.atts), name, ackID)
		b = append(append(b, '['), event...)
		if len(args.inner) > 0 {
			b = append(append(b, ','), args.inner...)
		}
		b = append(b, `,"`...)
		b = strconv.AppendUint(b, d.Msg.Seq, 10)
		return append(b, `"]`...)
	})
	for _, a := range args.atts {
		if err != nil {
			break
		}
		err = w.WriteFrame(session.Binary, a)
	}
	return err
}
