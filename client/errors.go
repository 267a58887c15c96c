package client

import (
	"errors"

	"github.com/carriermq/carrier/protocol"
)

// Error is a failure reported by the server: Code is the stable,
// machine-readable code of the carrier.v1 catalogue (docs/protocol.md),
// Message the human explanation. Use errors.As, CodeOf or IsRetryable.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errors made by the client itself.
var (
	// ErrClosed: the client was closed; nothing more will be sent or received.
	ErrClosed = errors.New("client closed")
	// ErrDisconnected: the connection dropped before the server replied to a
	// request that is not re-sent on its own (ack, nack, unsubscribe). For an
	// ack this means the message will be redelivered.
	ErrDisconnected = errors.New("connection lost before the reply")
	// ErrStaleDelivery: the delivery arrived on a connection that has since
	// dropped; the server already handed the message back to the group, so it
	// cannot be acked or nacked any more and will be delivered again.
	ErrStaleDelivery = errors.New("delivery belongs to a lost connection")
	// ErrNotConnected: Dial could reach none of the URLs.
	ErrNotConnected = errors.New("no server reachable")
)

// CodeOf returns the server's error code carried by err, or "" when err is
// not (and does not wrap) an *Error.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Retryable reports whether the server called the failure transient (retry
// "yes" in the catalogue, protocol.Codes): the same request may be sent again
// after a backoff, to this node or another; Publish does so by itself, and a
// publish retried with the same message id never creates a second copy.
// queue_full is "later", not transient: it is backpressure (discard "new"),
// returned to the caller at once.
func (e *Error) Retryable() bool { return protocol.IsTransient(e.Code) }

// HTTPStatus is the HTTP status the server answers with this code.
func (e *Error) HTTPStatus() int { return protocol.HTTPStatus(e.Code) }

// IsRetryable reports whether the request that failed with err may be sent
// again: the server said so by its code (no leader, no quorum, unknown
// outcome, timeout, …) or the connection dropped before the reply.
func IsRetryable(err error) bool {
	if errors.Is(err, ErrDisconnected) {
		return true
	}
	var e *Error
	return errors.As(err, &e) && e.Retryable()
}

// errorFromFrame turns an "error" frame or body into an *Error.
func errorFromFrame(f *protocol.Frame) *Error {
	return &Error{Code: f.Code, Message: f.Message}
}
