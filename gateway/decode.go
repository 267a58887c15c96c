package gateway

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// Limits on fields that have no limit of their own in the state machine.
const (
	maxIDBytes    = 256  // msgId and request id
	maxEventBytes = 256  // event name
	maxAckSeqs    = 1000 // seqs in one ack or nack
)

// request is a decoded and validated client frame.
type request struct {
	protocol.Frame
	msgs  []*queue.Message  // publish: validated messages (ID may be empty: the gateway fills it)
	batch bool              // publish: the frame used "messages"
	pos   queue.Position    // subscribe: where a tail starts / where a new group starts
	group queue.GroupConfig // subscribe with a group
	seqs  []uint64          // ack, nack
	delay time.Duration     // nack
}

// decodeLimits are the limits decodeFrame enforces.
type decodeLimits struct {
	maxMessageBytes int64
	maxBatch        int
}

// decodeFrame parses and validates one client text frame. On failure it
// returns an error with one of the codes bad_frame, unknown_type,
// bad_request, bad_name or message_too_large, and a request that carries
// the frame's id when the frame was readable. It never panics and keeps no
// reference to b.
func decodeFrame(b []byte, lim decodeLimits) (*request, *wireError) {
	if !utf8.Valid(b) {
		return nil, errf(protocol.CodeBadFrame, "the frame is not valid UTF-8")
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, errf(protocol.CodeBadFrame, "a frame must be a JSON object")
	}
	req := &request{}
	if !decodePublishFast(b, &req.Frame) {
		if err := json.Unmarshal(b, &req.Frame); err != nil {
			return &request{Frame: protocol.Frame{ID: readableID(b)}}, errf(protocol.CodeBadFrame, "invalid JSON: %v", err)
		}
	}
	if len(req.ID) > maxIDBytes {
		return req, errf(protocol.CodeBadRequest, "id is longer than %d bytes", maxIDBytes)
	}
	if req.Type == protocol.TypeSubscribe && req.FromSeq == 0 && hasField(b, "fromSeq") {
		return req, errf(protocol.CodeBadRequest, `fromSeq starts at 1 (seq 0 does not exist); "from":"first" is the oldest stored message`)
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
func (r *request) validate(lim decodeLimits) *wireError {
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
		return errf(protocol.CodeBadRequest, "a frame needs a type")
	}
	return errf(protocol.CodeUnknownType, "unknown request type %q", clip(r.Type))
}

func (r *request) validatePublish(lim decodeLimits) *wireError {
	if err := validName("queue", r.Queue); err != nil {
		return err
	}
	inline := protocol.Message{MsgID: r.MsgID, Event: r.Event, Data: r.Data, Binary: r.Binary,
		Headers: r.Headers, DeliverAt: r.DeliverAt}
	msgs, batch, err := messagesOf(inline, r.Messages, lim)
	r.msgs, r.batch = msgs, batch
	return err
}

// messagesOf validates one inline message or a batch (not both).
func messagesOf(inline protocol.Message, batch []protocol.Message, lim decodeLimits) ([]*queue.Message, bool, *wireError) {
	if batch == nil {
		m, err := toQueueMessage(&inline, lim.maxMessageBytes)
		if err != nil {
			return nil, false, err
		}
		return []*queue.Message{m}, false, nil
	}
	if !emptyMessage(&inline) {
		return nil, true, errf(protocol.CodeBadRequest, "give one message inline or a batch in messages, not both")
	}
	if len(batch) == 0 || len(batch) > lim.maxBatch {
		return nil, true, errf(protocol.CodeBadRequest, "messages must hold 1 to %d messages", lim.maxBatch)
	}
	msgs := make([]*queue.Message, len(batch))
	for i := range batch {
		m, err := toQueueMessage(&batch[i], lim.maxMessageBytes)
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
func toQueueMessage(pm *protocol.Message, maxBytes int64) (*queue.Message, *wireError) {
	if pm.Data != nil && pm.Binary != nil {
		return nil, errf(protocol.CodeBadRequest, "give data or binary, not both")
	}
	if pm.Data != nil && !json.Valid(pm.Data) {
		return nil, errf(protocol.CodeBadRequest, "data is not JSON")
	}
	if len(pm.MsgID) > maxIDBytes || len(pm.Event) > maxEventBytes {
		return nil, errf(protocol.CodeBadRequest, "msgId and event are limited to %d bytes", maxIDBytes)
	}
	m := &queue.Message{ID: pm.MsgID, Event: pm.Event, Data: pm.Data, Headers: pm.Headers}
	if pm.Binary != nil {
		m.Data, m.Binary = pm.Binary, true
	}
	if pm.DeliverAt != "" {
		t, err := time.Parse(time.RFC3339Nano, pm.DeliverAt)
		if err != nil {
			return nil, errf(protocol.CodeBadRequest, "deliverAt is not an RFC 3339 time")
		}
		m.DeliverAt = t.UnixNano()
	}
	if size := m.Size(); size > maxBytes {
		return nil, errf(protocol.CodeMessageTooLarge, "the message has %d bytes, the limit is %d", size, maxBytes)
	}
	return m, nil
}

func (r *request) validateSubscribe() *wireError {
	if err := validName("queue", r.Queue); err != nil {
		return err
	}
	pos, err := positionOf(&r.Frame)
	if err != nil {
		return err
	}
	r.pos = pos
	if r.Group == "" {
		if r.AckWait != "" || r.MaxDeliver != 0 || r.MaxInFlight != 0 {
			return errf(protocol.CodeBadRequest, "ackWait, maxDeliver and maxInFlight need a group")
		}
		return nil
	}
	if err := validName("group", r.Group); err != nil {
		return err
	}
	return r.validateGroupConfig()
}

func (r *request) validateGroupConfig() *wireError {
	ackWait, err := parseDuration("ackWait", r.AckWait)
	if err != nil {
		return err
	}
	if r.MaxDeliver < 0 || r.MaxInFlight < 0 {
		return errf(protocol.CodeBadRequest, "maxDeliver and maxInFlight must not be negative")
	}
	r.group = queue.GroupConfig{AckWait: ackWait, MaxDeliver: r.MaxDeliver, MaxInFlight: r.MaxInFlight}
	if r.From != "" || r.FromSeq != 0 || r.FromTime != "" {
		r.group.Start = r.pos
	}
	return nil
}

// positionOf reads from, fromSeq and fromTime; the default is "new".
func positionOf(f *protocol.Frame) (queue.Position, *wireError) {
	kind := queue.PositionKind(f.From)
	switch {
	case f.FromSeq != 0 && f.FromTime != "":
		return queue.Position{}, errf(protocol.CodeBadRequest, "give fromSeq or fromTime, not both")
	case f.FromSeq != 0 && (kind == "" || kind == queue.FromSeq):
		return queue.Position{Kind: queue.FromSeq, Seq: f.FromSeq}, nil
	case f.FromTime != "" && (kind == "" || kind == queue.FromTime):
		t, err := time.Parse(time.RFC3339Nano, f.FromTime)
		if err != nil {
			return queue.Position{}, errf(protocol.CodeBadRequest, "fromTime is not an RFC 3339 time")
		}
		return queue.Position{Kind: queue.FromTime, Time: t.UnixNano()}, nil
	case f.FromSeq == 0 && f.FromTime == "" && (kind == "" || kind == queue.FromNew):
		return queue.Position{Kind: queue.FromNew}, nil
	case f.FromSeq == 0 && f.FromTime == "" && kind == queue.FromFirst:
		return queue.Position{Kind: queue.FromFirst}, nil
	}
	return queue.Position{}, errf(protocol.CodeBadRequest,
		`from must be "new", "first", "seq" with fromSeq, or "time" with fromTime`)
}

func (r *request) validateAck() *wireError {
	if err := requireSub(r.Sub); err != nil {
		return err
	}
	switch {
	case r.Seq != 0 && len(r.Seqs) != 0:
		return errf(protocol.CodeBadRequest, "give seq or seqs, not both")
	case r.Seq != 0:
		r.seqs = []uint64{r.Seq}
	case len(r.Seqs) == 0 || len(r.Seqs) > maxAckSeqs:
		return errf(protocol.CodeBadRequest, "give seq, or seqs with 1 to %d seqs", maxAckSeqs)
	default:
		r.seqs = r.Seqs
	}
	for _, s := range r.seqs {
		if s == 0 {
			return errf(protocol.CodeBadRequest, "seq 0 does not exist")
		}
	}
	if r.Type == protocol.TypeAck && r.Delay != "" {
		return errf(protocol.CodeBadRequest, "delay is for nack")
	}
	d, err := parseDuration("delay", r.Delay)
	r.delay = d
	return err
}

func requireSub(sub string) *wireError {
	if sub == "" {
		return errf(protocol.CodeBadRequest, "sub is required")
	}
	return nil
}

// validName checks a queue or group name with the state machine's rule.
func validName(what, name string) *wireError {
	if name == "" {
		return errf(protocol.CodeBadRequest, "%s is required", what)
	}
	if err := queue.ValidateName(name); err != nil {
		return errf(protocol.CodeBadName, "%s name %q is not allowed: 1-128 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit", what, clip(name))
	}
	return nil
}

// parseDuration parses an optional, non-negative Go duration.
func parseDuration(field, s string) (time.Duration, *wireError) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errf(protocol.CodeBadRequest, "%s must be a non-negative Go duration such as \"30s\"", field)
	}
	return d, nil
}

// clip shortens client text quoted back in error messages.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}
