// Package apierr is the failure a client is told about: a stable code from
// the protocol's catalogue (protocol.Codes, docs/protocol.md) and a message
// for people. A session's codec turns it into an error frame, the HTTP API
// into an {"error": …} body; both take it from here, so a failure has the
// same code whichever way the client came.
package apierr

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/carriermq/carrier/cluster"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// Error is a failure with a code of protocol.Codes.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf makes an Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// From maps an error of the node, the state machine or the gateway to its
// code. An *Error anywhere in err's chain is returned as it is; unknown
// errors become "internal".
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var qe *queue.Error
	if errors.As(err, &qe) {
		return &Error{Code: string(qe.Code), Message: qe.Message}
	}
	switch {
	// Checked first: a write already handed to Raft when the node loses
	// leadership or shuts down carries ErrUnknownOutcome alongside the cause,
	// and the client must learn that it may have been applied.
	case errors.Is(err, cluster.ErrUnknownOutcome):
		return &Error{Code: protocol.CodeUnknownOutcome, Message: err.Error()}
	case errors.Is(err, cluster.ErrNotLeader):
		return &Error{Code: protocol.CodeNotLeader, Message: err.Error()}
	case errors.Is(err, cluster.ErrUnavailable), errors.Is(err, cluster.ErrClosed):
		return &Error{Code: protocol.CodeUnavailable, Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: protocol.CodeTimeout, Message: "the request deadline passed; the outcome is unknown"}
	case errors.Is(err, context.Canceled):
		return &Error{Code: protocol.CodeUnavailable, Message: "the request was abandoned (connection or server closing)"}
	}
	return &Error{Code: protocol.CodeInternal, Message: err.Error()}
}

// Definite reports whether err says for sure that a write was not applied
// (a rejection by the state machine or a validation failure), as opposed to
// a timeout or lost leadership after which it may have been.
func Definite(err error) bool {
	var qe *queue.Error
	var e *Error
	return errors.As(err, &qe) || errors.As(err, &e) || errors.Is(err, cluster.ErrNotLeader)
}

// Clip shortens client text quoted back in an error message to 64 bytes
// and an ellipsis, cut at a character boundary.
func Clip(s string) string {
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
