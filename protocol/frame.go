// Package protocol defines the carrier.v1 wire format shared by the gateway
// and the Go client: WebSocket frames, HTTP bodies and error codes. It is a
// compatibility contract (docs/protocol.md): fields and codes are only added.
package protocol

import "encoding/json"

// Subprotocol is the WebSocket subprotocol name clients must offer.
const Subprotocol = "carrier.v1"

// Frame types, client to server.
const (
	TypePublish     = "publish"
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypeAck         = "ack"
	TypeNack        = "nack"
	TypePing        = "ping"
)

// Frame types, server to client.
const (
	TypePublished    = "published"
	TypeSubscribed   = "subscribed"
	TypeUnsubscribed = "unsubscribed"
	TypeAcked        = "acked"
	TypeNacked       = "nacked"
	TypeMessage      = "message"
	TypeError        = "error"
	TypePong         = "pong"
)

// Frame is every carrier.v1 frame: a JSON object with a "type". Fields not
// used by a type are omitted. Id pairs a request with its reply: every
// request that carries an id gets exactly one reply (its success type or
// "error") with the same id; a request without an id is answered only when
// it fails, except subscribe and ping, which are always answered (the
// "subscribed" frame carries the server-chosen subscription id, Sub).
type Frame struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`

	// publish, subscribe, message
	Queue string `json:"queue,omitempty"`

	// publish (one message inline, or Messages), message
	MsgID     string            `json:"msgId,omitempty"`
	Event     string            `json:"event,omitempty"`
	Data      json.RawMessage   `json:"data,omitempty"`
	Binary    []byte            `json:"binary,omitempty"` // base64 in JSON; opaque bytes instead of data
	Headers   map[string]string `json:"headers,omitempty"`
	DeliverAt string            `json:"deliverAt,omitempty"` // RFC 3339; delayed delivery to groups
	Messages  []Message         `json:"messages,omitempty"`  // publish: a batch

	// published
	Seq       uint64      `json:"seq,omitempty"`
	Duplicate bool        `json:"duplicate,omitempty"`
	Results   []Published `json:"results,omitempty"` // one per message of a batch

	// subscribe
	Group       string `json:"group,omitempty"`
	From        string `json:"from,omitempty"`     // tail: "new" (default), "first"
	FromSeq     uint64 `json:"fromSeq,omitempty"`  // tail: start at this seq
	FromTime    string `json:"fromTime,omitempty"` // tail: RFC 3339
	AckWait     string `json:"ackWait,omitempty"`  // group settings for a new group (Go duration)
	MaxDeliver  int    `json:"maxDeliver,omitempty"`
	MaxInFlight int    `json:"maxInFlight,omitempty"`

	// subscribed, unsubscribe, message, ack, nack
	Sub string `json:"sub,omitempty"`

	// message
	Time    string `json:"time,omitempty"` // RFC 3339 with nanoseconds
	Attempt int    `json:"attempt,omitempty"`

	// ack, nack
	Seqs  []uint64 `json:"seqs,omitempty"`
	Delay string   `json:"delay,omitempty"` // nack: Go duration

	// error
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Message is one message as published or read over HTTP.
type Message struct {
	Seq       uint64            `json:"seq,omitempty"`
	MsgID     string            `json:"msgId,omitempty"`
	Event     string            `json:"event,omitempty"`
	Data      json.RawMessage   `json:"data,omitempty"`
	Binary    []byte            `json:"binary,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Time      string            `json:"time,omitempty"`
	DeliverAt string            `json:"deliverAt,omitempty"`
}

// Published is the outcome of one message of a publish.
type Published struct {
	Seq       uint64     `json:"seq,omitempty"`
	MsgID     string     `json:"msgId"`
	Duplicate bool       `json:"duplicate,omitempty"`
	Error     *ErrorBody `json:"error,omitempty"`
}

// ErrorBody is the error object of HTTP responses ({"error": {...}}) and of
// per-message publish results.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
