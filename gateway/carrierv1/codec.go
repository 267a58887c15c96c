// Package carrierv1 is the codec of the carrier.v1 protocol
// (docs/protocol.md): JSON text frames in, session commands out; session
// replies and deliveries in, JSON text frames out. It keeps the protocol's
// hot paths: a one-message publish decoded and its reply encoded without
// reflection (fastframe.go), and a delivery's shared part encoded once for
// all the tails that send it (fanout.go). It also holds the JSON shapes the
// HTTP API shares with the frames (wire.go).
package carrierv1

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/protocol"
)

// Codec is carrier.v1 as a session.Codec. It keeps no state per session, so
// one Codec serves every session of a gateway; it is safe for concurrent use.
type Codec struct {
	lim  session.Limits
	msgs msgCache // encoded message prefixes shared by tails (fanout.go)
}

var _ session.Codec = (*Codec)(nil)

// New returns the codec; every command it decodes is within lim.
func New(lim session.Limits) *Codec { return &Codec{lim: lim} }

// Decode decodes one frame. Binary frames and frames that do not decode or
// validate become *session.Invalid (with the frame's id when it has a
// readable one).
func (c *Codec) Decode(m session.Inbound) session.Command {
	if m.Kind != session.Text {
		return &session.Invalid{Err: apierr.Errorf(protocol.CodeBadFrame, "binary frames are not part of carrier.v1: send JSON text frames")}
	}
	req, err := decodeFrame(m.Data, c.lim)
	if err != nil {
		inv := &session.Invalid{Err: err}
		if req != nil {
			inv.ID = req.ID
		}
		return inv
	}
	return req.command()
}

// EncodeReply writes r as one text frame.
func (c *Codec) EncodeReply(w session.FrameWriter, r *session.Reply) error {
	e := encoders.Get().(*frameEncoder)
	defer e.release()
	replyFrame(&e.frame, r)
	b, err := e.encode(&e.frame)
	if err != nil {
		return err
	}
	return w.WriteFrame(session.Text, b)
}

// EncodeDelivery writes d as one "message" frame, through the shared cache
// for tails.
func (c *Codec) EncodeDelivery(w session.FrameWriter, d *session.Delivery) error {
	e := encoders.Get().(*frameEncoder)
	defer e.release()
	b, err := e.encodeMsg(&c.msgs, d)
	if err != nil {
		return err
	}
	return w.WriteFrame(session.Text, b)
}

// replyFrame renders a reply as its frame into f, which is zero.
func replyFrame(f *protocol.Frame, r *session.Reply) {
	f.ID, f.Sub = r.ID, r.Sub
	switch r.Kind {
	case session.ReplyPong:
		f.Type = protocol.TypePong
	case session.ReplyPublished:
		publishedFrame(f, r)
	case session.ReplySubscribed:
		f.Type, f.Queue, f.Group, f.Seq = protocol.TypeSubscribed, r.Queue, r.Group, r.Seq
	case session.ReplyUnsubscribed:
		f.Type = protocol.TypeUnsubscribed
	case session.ReplyAcked, session.ReplyNacked:
		f.Type, f.Seqs = protocol.TypeAcked, r.Seqs
		if r.Kind == session.ReplyNacked {
			f.Type = protocol.TypeNacked
		}
	case session.ReplyError:
		f.Type, f.Code, f.Message, f.Seqs = protocol.TypeError, r.Err.Code, r.Err.Message, r.Seqs
	}
}

// publishedFrame fills a "published" frame: the outcome of one message
// inline, or one result per message of a batch.
func publishedFrame(f *protocol.Frame, r *session.Reply) {
	f.Type, f.Queue = protocol.TypePublished, r.Queue
	if r.Batch {
		f.Results = Results(r.Acks)
		return
	}
	a := r.Acks[0]
	f.Seq, f.MsgID, f.Duplicate = a.Seq, a.ID, a.Duplicate
}

// messageFrame renders a delivery; data is shared with the stored message.
func messageFrame(d *session.Delivery) *protocol.Frame {
	m := d.Msg
	f := &protocol.Frame{Type: protocol.TypeMessage, Sub: d.Sub, Queue: d.Queue, Group: d.Group,
		Seq: m.Seq, MsgID: m.ID, Event: m.Event, Headers: m.Headers, Time: FormatTime(m.Time),
		DeliverAt: FormatTime(m.DeliverAt), Attempt: d.Attempt}
	if m.Binary {
		f.Binary = m.Data
	} else if len(m.Data) > 0 {
		f.Data = m.Data
	}
	return f
}

// frameEncoder encodes frames. Encoders are pooled, so an idle session
// holds no encoding buffers. Not safe for concurrent use.
type frameEncoder struct {
	buf   bytes.Buffer
	enc   *json.Encoder  // into buf
	fast  []byte         // a frame written by a fast path
	frame protocol.Frame // the reply being encoded
}

var encoders = sync.Pool{New: func() any {
	e := &frameEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// encode returns f's JSON, valid until the next call.
func (e *frameEncoder) encode(f *protocol.Frame) ([]byte, error) {
	var ok bool
	if e.fast, ok = appendPublishedFast(e.fast[:0], f); ok {
		return e.fast, nil
	}
	e.buf.Reset()
	if err := e.enc.Encode(f); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(e.buf.Bytes(), []byte("\n")), nil
}

// release returns e to the pool unless a large frame grew its buffers.
func (e *frameEncoder) release() {
	e.frame = protocol.Frame{}
	if e.buf.Cap() <= 64<<10 && cap(e.fast) <= 64<<10 {
		encoders.Put(e)
	}
}
