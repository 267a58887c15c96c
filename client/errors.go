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

// retryableCodes are the codes after which the same request may be sent
// again at once, to the same node after a backoff or to another one; Publish
// does so by itself. A publish retried with the same message id never
// creates a second copy. queue_full is left out on purpose: it is
// backpressure (discard "new"), returned to the caller at once.
var retryableCodes = map[string]bool{
	protocol.CodeNotLeader:      true,
	protocol.CodeUnavailable:    true,
	protocol.CodeUnknownOutcome: true,
	protocol.CodeTimeout:        true,
	protocol.CodeTooManyConns:   true,
	protocol.CodeSlowConsumer:   true,
}

// IsRetryable reports whether the request that failed with err may be sent
// again: the server said so by its code (no leader, no quorum, unknown
// outcome, timeout) or the connection dropped before the reply.
func IsRetryable(err error) bool {
	if errors.Is(err, ErrDisconnected) {
		return true
	}
	return retryableCodes[CodeOf(err)]
}

// errorFromFrame turns an "error" frame or body into an *Error.
func errorFromFrame(f *protocol.Frame) *Error {
	return &Error{Code: f.Code, Message: f.Message}
}
