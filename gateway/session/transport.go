package session

import (
	"errors"
	"time"
)

// Transport carries one session's frames between the gateway and its
// client: today a WebSocket (package ws); an HTTP long-polling transport
// (Engine.IO) is a second implementation, and one that switches between
// the two on an upgrade is still one Transport to the session.
//
// What is decided here, for every transport, and only implemented there:
// the session passes every deadline (WriteTimeout per batch, CloseGrace
// once closing), decides when a slow consumer's writes are cut
// (LimitWrites) and when the connection ends (Abort). A transport adds no
// buffering of its own beyond one batch: the outbound budget, which
// counts what is queued and what is being written, is the session's.
//
// Threading: Receive and Drain are called by the session's reader
// goroutine only. Begin, WriteFrame, Flush, Ping and WriteClose are called
// by the session's writer only, one at a time; a transport that answers
// control frames of its own (a WebSocket pong or close reply) serialises
// them with the writer's batches so that bytes never interleave.
// LimitWrites and Abort may be called from any goroutine at any time,
// also while a write is blocked, which they must then end.
type Transport interface {
	FrameWriter

	// Receive blocks until the next inbound message and calls handle with
	// it; m.Data is valid only during the call, and Receive returns after
	// handle. A message over the transport's size limit is not handed over:
	// Receive returns ErrTooLarge, having held at most the limit plus one
	// byte of it. It returns an error wrapping io.EOF when the client ended
	// the connection normally, and another error when it failed; a
	// client silent for longer than the transport's idle limit is a
	// failure. After an error the session calls Receive no more.
	Receive(handle func(m Inbound)) error

	// Drain reads and discards what the client still sends until it
	// answers the close, fails, or deadline passes. The session calls it
	// after queueing a close for a message that was too large, so that the
	// client reads the reason before the connection goes.
	Drain(deadline time.Time)

	// Begin starts a batch: frames written until Flush are sent together.
	Begin()
	// Flush sends the batch, giving up at deadline (or earlier, after
	// LimitWrites); an error ends the session.
	Flush(deadline time.Time) error

	// Ping writes a heartbeat the client must answer (the answer counts as
	// traffic for the idle limit). Outside a batch; it writes at once.
	Ping(deadline time.Time) error

	// WriteClose writes the close that ends the session, within a batch.
	// The transport renders reason in its own terms (a WebSocket close code).
	WriteClose(reason CloseReason, deadline time.Time) error

	// LimitWrites makes t the latest deadline of every write from now on,
	// at once and for good: a write blocked on a client that does not read
	// ends by t.
	LimitWrites(t time.Time)

	// Abort closes the connection at once: a blocked Receive or write
	// fails. It may be called more than once.
	Abort()
}

// FrameWriter is where a codec writes the frames of one item, inside a
// batch (Transport.Begin … Flush). b may be reused once WriteFrame returns.
type FrameWriter interface {
	WriteFrame(kind Kind, b []byte) error
}

// Kind is the kind of a frame: text or binary.
type Kind uint8

const (
	Text Kind = iota + 1
	Binary
)

// Inbound is one message the client sent.
type Inbound struct {
	Kind Kind
	Data []byte
}

// ErrTooLarge is what Transport.Receive returns for a message over the
// size limit; the session then answers frame_too_large and closes.
var ErrTooLarge = errors.New("message over the size limit")

// CloseReason says why the server ends a session. Each transport renders it
// its own way (WebSocket: close codes 1001, 1008, 1009).
type CloseReason uint8

const (
	// CloseGoingAway: the server is shutting down; reconnect to any node.
	CloseGoingAway CloseReason = iota + 1
	// CloseSlowConsumer: the client did not read what it was sent.
	CloseSlowConsumer
	// CloseTooLarge: the client sent a message over the size limit.
	CloseTooLarge
	// CloseProtocolError: the client broke the protocol (a codec's
	// Invalid with Close set).
	CloseProtocolError
)
