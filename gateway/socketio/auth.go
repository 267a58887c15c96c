package socketio

import (
	"encoding/json"
	"time"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// MaxEvents is the most event names one socket's events filter may hold.
const MaxEvents = 100

// auth is the CONNECT payload (socket.io-client's auth option, with the
// pid and offset it adds on a reconnect). Other fields are ignored: apps
// put their own there.
type auth struct {
	Group       string          `json:"group"`
	Events      []string        `json:"events"`
	AutoAck     bool            `json:"autoAck"`
	From        json.RawMessage `json:"from"`
	AckWait     string          `json:"ackWait"`
	MaxInFlight int             `json:"maxInFlight"`
	MaxDeliver  int             `json:"maxDeliver"`
	Token       any             `json:"token"` // reserved for authentication; accepted, unused yet
	PID         any             `json:"pid"`
	Offset      any             `json:"offset"`
}

func badAuth(format string, args ...any) *apierr.Error {
	return apierr.Errorf(protocol.CodeBadRequest, "auth: "+format, args...)
}

// parseAuth decodes and checks a CONNECT payload (nil: none).
func parseAuth(data json.RawMessage) (*auth, *apierr.Error) {
	a := &auth{}
	if data != nil {
		if err := json.Unmarshal(data, a); err != nil {
			return nil, badAuth("%v", err)
		}
	}
	if a.Group != "" {
		if e := session.CheckName("group", a.Group); e != nil {
			return nil, e
		}
	} else if a.AutoAck || a.AckWait != "" || a.MaxInFlight != 0 || a.MaxDeliver != 0 {
		return nil, badAuth("autoAck, ackWait, maxInFlight and maxDeliver need a group")
	}
	if len(a.Events) > MaxEvents {
		return nil, badAuth("events may list at most %d names", MaxEvents)
	}
	for _, e := range a.Events {
		if e == "" || len(e) > session.MaxEventBytes {
			return nil, badAuth("event names are 1 to %d bytes", session.MaxEventBytes)
		}
	}
	if a.MaxInFlight < 0 || a.MaxDeliver < 0 {
		return nil, badAuth("maxInFlight and maxDeliver must not be negative")
	}
	return a, nil
}

// groupConfig is the group's settings should the Join create it.
func (a *auth) groupConfig() (queue.GroupConfig, *apierr.Error) {
	cfg := queue.GroupConfig{MaxInFlight: a.MaxInFlight, MaxDeliver: a.MaxDeliver}
	if a.AckWait != "" {
		d, err := time.ParseDuration(a.AckWait)
		if err != nil || d <= 0 {
			return cfg, badAuth("ackWait is a duration such as \"30s\"")
		}
		cfg.AckWait = d
	}
	if p, e := position(a.From); e != nil {
		return cfg, e
	} else if a.From != nil {
		cfg.Start = p
	}
	return cfg, nil
}

// position reads from: "new" (the default), "first", a seq, or an RFC 3339 time.
func position(from json.RawMessage) (queue.Position, *apierr.Error) {
	if from == nil || string(from) == "null" {
		return queue.Position{Kind: queue.FromNew}, nil
	}
	var seq uint64
	if json.Unmarshal(from, &seq) == nil && seq > 0 {
		return queue.Position{Kind: queue.FromSeq, Seq: seq}, nil
	}
	var s string
	if json.Unmarshal(from, &s) != nil {
		return queue.Position{}, badAuth(`from is "new", "first", a seq or an RFC 3339 time`)
	}
	switch s {
	case "new", "":
		return queue.Position{Kind: queue.FromNew}, nil
	case "first":
		return queue.Position{Kind: queue.FromFirst}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return queue.Position{}, badAuth(`from is "new", "first", a seq or an RFC 3339 time`)
	}
	return queue.Position{Kind: queue.FromTime, Time: t.UnixNano()}, nil
}

// recovery is what a reconnect's pid and offset resume, if they name this
// namespace's queue (and group); ok is false for a fresh session.
func (a *auth) recovery(queueName string) (p pid, pos queue.Position, ok bool) {
	s, isString := a.PID.(string)
	if !isString {
		return pid{}, queue.Position{}, false
	}
	if p, ok = parsePID(s); !ok || p.queue != queueName || p.group != a.Group {
		return pid{}, queue.Position{}, false
	}
	if p.group != "" {
		return p, queue.Position{}, true
	}
	pos = queue.Position{Kind: queue.FromSeq, Seq: p.start}
	if o, isString := a.Offset.(string); isString {
		seq, valid := parseOffset(o)
		if !valid {
			return pid{}, queue.Position{}, false
		}
		pos.Seq = seq + 1
	}
	return p, pos, true
}
