package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/carriermq/carrier/cluster"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// wireError is a failure with a stable protocol code (docs/protocol.md). It
// becomes an "error" frame on a WebSocket and an {"error": …} body over HTTP.
type wireError struct {
	Code    string
	Message string
}

func (e *wireError) Error() string { return e.Code + ": " + e.Message }

// errf makes a wireError with a formatted message.
func errf(code, format string, args ...any) *wireError {
	return &wireError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// toWire maps an error from the backend, the state machine or the gateway to
// its protocol code. Unknown errors become "internal".
func toWire(err error) *wireError {
	var we *wireError
	if errors.As(err, &we) {
		return we
	}
	var qe *queue.Error
	if errors.As(err, &qe) {
		return &wireError{Code: string(qe.Code), Message: qe.Message}
	}
	switch {
	// Checked first: a write already handed to Raft when the node loses
	// leadership or shuts down carries ErrUnknownOutcome alongside the cause,
	// and the client must learn that it may have been applied.
	case errors.Is(err, cluster.ErrUnknownOutcome):
		return &wireError{Code: protocol.CodeUnknownOutcome, Message: err.Error()}
	case errors.Is(err, cluster.ErrNotLeader):
		return &wireError{Code: protocol.CodeNotLeader, Message: err.Error()}
	case errors.Is(err, cluster.ErrUnavailable), errors.Is(err, cluster.ErrClosed):
		return &wireError{Code: protocol.CodeUnavailable, Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return &wireError{Code: protocol.CodeTimeout, Message: "the request deadline passed; the outcome is unknown"}
	case errors.Is(err, context.Canceled):
		return &wireError{Code: protocol.CodeUnavailable, Message: "the request was abandoned (connection or server closing)"}
	}
	return &wireError{Code: protocol.CodeInternal, Message: err.Error()}
}

// definite reports whether err says for sure that a write was not applied
// (a rejection by the state machine or a validation failure), as opposed to
// a timeout or lost leadership after which it may have been.
func definite(err error) bool {
	var qe *queue.Error
	var we *wireError
	return errors.As(err, &qe) || errors.As(err, &we) || errors.Is(err, cluster.ErrNotLeader)
}

// httpStatus is the HTTP status that goes with a protocol code (the catalogue's).
func httpStatus(code string) int { return protocol.HTTPStatus(code) }
