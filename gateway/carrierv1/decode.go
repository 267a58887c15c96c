package carrierv1

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// request is a decoded and validated client frame: the frame and what
// validating it made of it, the session command of its type (command). The
// hot one, publish, lives in the request itself (no allocation of its own).
type request struct {
	protocol.Frame
	publish   session.Publish    // publish: validated messages (ID may be empty: the node fills it)
	subscribe *session.Subscribe // subscribe: where a tail starts, or the group and its settings
	ack       *session.Ack       // ack, nack
}

// command returns the session command of a valid request; a publish
// command points into r.
func (r *request) command() session.Command {
	switch r.Type {
	case protocol.TypePing:
		return &session.Ping{ID: r.ID}
	case protocol.TypePublish:
		r.publish.ID, r.publish.Queue = r.ID, r.Queue
		return &r.publish
	case protocol.TypeSubscribe:
		r.subscribe.ID, r.subscribe.Queue, r.subscribe.Group = r.ID, r.Queue, r.Group
		return r.subscribe
	case protocol.TypeUnsubscribe:
		return &session.Unsubscribe{ID: r.ID, Sub: r.Sub}
	}
	r.ack.ID, r.ack.Sub, r.ack.Nack = r.ID, r.Sub, r.Type == protocol.TypeNack
	return r.ack
}

// decodeFrame parses and validates one client text frame. On failure it
// returns an error with one of the codes bad_frame, unknown_type,
// bad_request, bad_name or message_too_large, and a request that carries
// the frame's id when the frame was readable. It never panics and keeps no
// reference to b.
func decodeFrame(b []byte, lim session.Limits) (*request, *apierr.Error) {
	if !utf8.Valid(b) {
		return nil, apierr.Errorf(protocol.CodeBadFrame, "the frame is not valid UTF-8")
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, apierr.Errorf(protocol.CodeBadFrame, "a frame must be a JSON object")
	}
	req := &request{}
	if !decodePublishFast(b, &req.Frame) {
		if err := json.Unmarshal(b, &req.Frame); err != nil {
			return &request{Frame: protocol.Frame{ID: readableID(b)}}, apierr.Errorf(protocol.CodeBadFrame, "invalid JSON: %v", err)
		}
	}
	if len(req.ID) > session.MaxIDBytes {
		return req, apierr.Errorf(protocol.CodeBadRequest, "id is longer than %d bytes", session.MaxIDBytes)
	}
	if req.Type == protocol.TypeSubscribe && req.FromSeq == 0 && hasField(b, "fromSeq") {
		return req, apierr.Errorf(protocol.CodeBadRequest, `fromSeq starts at 1 (seq 0 does not exist); "from":"first" is the oldest stored message`)
	}
	if err := req.validate(lim); err != nil {
		return req, err
	}
	return req, nil
}

// hasField reports whether the JSON object b has the key name with a value
// other than null. The decoded Frame cannot tell an absent number from 0.
func hasField(b []byte, name string) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) != nil {
		return false
	}
	v, ok := fields[name]
	return ok && string(v) != "null"
}

// readableID is the id of a frame that did not decode as a whole (a field of
// the wrong type), so that its error still pairs with the request: the id
// when the frame is a syntactically valid JSON object whose "id" is a
// string, "" otherwise.
func readableID(b []byte) string {
	var fields struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(b, &fields) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(fields.ID, &id) != nil {
		return ""
	}
	return id
}

// validate checks the fields of the request's type.
func (r *request) validate(lim session.Limits) *apierr.Error {
	switch r.Type {
	case protocol.TypePublish:
		return r.validatePublish(lim)
	case protocol.TypeSubscribe:
		return r.validateSubscribe()
	case protocol.TypeUnsubscribe:
		return requireSub(r.Sub)
	case protocol.TypeAck, protocol.TypeNack:
		return r.validateAck()
	case protocol.TypePing:
		return nil
	case "":
		return apierr.Errorf(protocol.CodeBadRequest, "a frame needs a type")
	}
	return apierr.Errorf(protocol.CodeUnknownType, "unknown request type %q", apierr.Clip(r.Type))
}

func (r *request) validatePublish(lim session.Limits) *apierr.Error {
	if err := session.CheckName("queue", r.Queue); err != nil {
		return err
	}
	inline := protocol.Message{MsgID: r.MsgID, Event: r.Event, Data: r.Data, Binary: r.Binary,
		Headers: r.Headers, DeliverAt: r.DeliverAt}
	msgs, batch, err := Messages(inline, r.Messages, lim)
	r.publish.Msgs, r.publish.Batch = msgs, batch
	return err
}

// Messages validates one inline message or a batch (not both), as a
// publish frame or an HTTP publish body carries them.
func Messages(inline protocol.Message, batch []protocol.Message, lim session.Limits) ([]*queue.Message, bool, *apierr.Error) {
	if batch == nil {
		m, err := toQueueMessage(&inline, lim)
		if err != nil {
			return nil, false, err
		}
		return []*queue.Message{m}, false, nil
	}
	if !emptyMessage(&inline) {
		return nil, true, apierr.Errorf(protocol.CodeBadRequest, "give one message inline or a batch in messages, not both")
	}
	if err := lim.CheckBatch(len(batch)); err != nil {
		return nil, true, err
	}
	msgs := make([]*queue.Message, len(batch))
	for i := range batch {
		m, err := toQueueMessage(&batch[i], lim)
		if err != nil {
			err.Message = "messages[" + strconv.Itoa(i) + "]: " + err.Message
			return nil, true, err
		}
		msgs[i] = m
	}
	return msgs, true, nil
}

func emptyMessage(m *protocol.Message) bool {
	return m.MsgID == "" && m.Event == "" && m.Data == nil && m.Binary == nil &&
		m.Headers == nil && m.DeliverAt == ""
}

// toQueueMessage validates a message as published and converts it.
func toQueueMessage(pm *protocol.Message, lim session.Limits) (*queue.Message, *apierr.Error) {
	if pm.Data != nil && pm.Binary != nil {
		return nil, apierr.Errorf(protocol.CodeBadRequest, "give data or binary, not both")
	}
	if pm.Data != nil && !json.Valid(pm.Data) {
		return nil, apierr.Errorf(protocol.CodeBadRequest, "data is not JSON")
	}
	if err := session.CheckLabels(pm.MsgID, pm.Event); err != nil {
		return nil, err
	}
	m := &queue.Message{ID: pm.MsgID, Event: pm.Event, Data: pm.Data, Headers: pm.Headers}
	if pm.Binary != nil {
		m.Data, m.Binary = pm.Binary, true
	}
	if pm.DeliverAt != "" {
		t, err := time.Parse(time.RFC3339Nano, pm.DeliverAt)
		if err != nil {
			return nil, apierr.Errorf(protocol.CodeBadRequest, "deliverAt is not an RFC 3339 time")
		}
		m.DeliverAt = t.UnixNano()
	}
	if err := lim.CheckSize(m); err != nil {
		return nil, err
	}
	return m, nil
}

func (r *request) validateSubscribe() *apierr.Error {
	if err := session.CheckName("queue", r.Queue); err != nil {
		return err
	}
	pos, err := Position(&r.Frame)
	if err != nil {
		return err
	}
	r.subscribe = &session.Subscribe{Pos: pos}
	if r.Group == "" {
		if r.AckWait != "" || r.MaxDeliver != 0 || r.MaxInFlight != 0 {
			return apierr.Errorf(protocol.CodeBadRequest, "ackWait, maxDeliver and maxInFlight need a group")
		}
		return nil
	}
	if err := session.CheckName("group", r.Group); err != nil {
		return err
	}
	return r.validateGroupConfig()
}

func (r *request) validateGroupConfig() *apierr.Error {
	ackWait, err := ParseDuration("ackWait", r.AckWait)
	if err != nil {
		return err
	}
	if r.MaxDeliver < 0 || r.MaxInFlight < 0 {
		return apierr.Errorf(protocol.CodeBadRequest, "maxDeliver and maxInFlight must not be negative")
	}
	cfg := queue.GroupConfig{AckWait: ackWait, MaxDeliver: r.MaxDeliver, MaxInFlight: r.MaxInFlight}
	if r.From != "" || r.FromSeq != 0 || r.FromTime != "" {
		cfg.Start = r.subscribe.Pos
	}
	r.subscribe.Config = cfg
	return nil
}

// Position reads from, fromSeq and fromTime of a subscribe frame (or of
// what the HTTP API reads as they); the default is "new".
func Position(f *protocol.Frame) (queue.Position, *apierr.Error) {
	kind := queue.PositionKind(f.From)
	switch {
	case f.FromSeq != 0 && f.FromTime != "":
		return queue.Position{}, apierr.Errorf(protocol.CodeBadRequest, "give fromSeq or fromTime, not both")
	case f.FromSeq != 0 && (kind == "" || kind == queue.FromSeq):
		return queue.Position{Kind: queue.FromSeq, Seq: f.FromSeq}, nil
	case f.FromTime != "" && (kind == "" || kind == queue.FromTime):
		t, err := time.Parse(time.RFC3339Nano, f.FromTime)
		if err != nil {
			return queue.Position{}, apierr.Errorf(protocol.CodeBadRequest, "fromTime is not an RFC 3339 time")
		}
		return queue.Position{Kind: queue.FromTime, Time: t.UnixNano()}, nil
	case f.FromSeq == 0 && f.FromTime == "" && (kind == "" || kind == queue.FromNew):
		return queue.Position{Kind: queue.FromNew}, nil
	case f.FromSeq == 0 && f.FromTime == "" && kind == queue.FromFirst:
		return queue.Position{Kind: queue.FromFirst}, nil
	}
	return queue.Position{}, apierr.Errorf(protocol.CodeBadRequest,
		`from must be "new", "first", "seq" with fromSeq, or "time" with fromTime`)
}

func (r *request) validateAck() *apierr.Error {
	if err := requireSub(r.Sub); err != nil {
		return err
	}
	r.ack = &session.Ack{}
	switch {
	case r.Seq != 0 && len(r.Seqs) != 0:
		return apierr.Errorf(protocol.CodeBadRequest, "give seq or seqs, not both")
	case r.Seq != 0:
		r.ack.Seqs = []uint64{r.Seq}
	case len(r.Seqs) == 0 || len(r.Seqs) > session.MaxAckSeqs:
		return apierr.Errorf(protocol.CodeBadRequest, "give seq, or seqs with 1 to %d seqs", session.MaxAckSeqs)
	default:
		r.ack.Seqs = r.Seqs
	}
	for _, s := range r.ack.Seqs {
		if s == 0 {
			return apierr.Errorf(protocol.CodeBadRequest, "seq 0 does not exist")
		}
	}
	if r.Type == protocol.TypeAck && r.Delay != "" {
		return apierr.Errorf(protocol.CodeBadRequest, "delay is for nack")
	}
	d, err := ParseDuration("delay", r.Delay)
	r.ack.Delay = d
	return err
}

func requireSub(sub string) *apierr.Error {
	if sub == "" {
		return apierr.Errorf(protocol.CodeBadRequest, "sub is required")
	}
	return nil
}

// ParseDuration parses an optional, non-negative Go duration, as frames
// and the HTTP API's settings spell them.
func ParseDuration(field, s string) (time.Duration, *apierr.Error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, apierr.Errorf(protocol.CodeBadRequest, "%s must be a non-negative Go duration such as \"30s\"", field)
	}
	return d, nil
}
