package protocol

// Error codes of the gateway and cluster. The state machine's codes
// (queue.Code*) are part of the same catalogue; docs/protocol.md lists all.
// Never rename a code, only add.
const (
	CodeBadFrame         = "bad_frame"       // not a JSON object, invalid UTF-8, or a field of the wrong type
	CodeUnknownType      = "unknown_type"    // a frame type the server does not know
	CodeBadRequest       = "bad_request"     // a field is missing or out of range
	CodeFrameTooLarge    = "frame_too_large" // frame over the size limit (the connection closes with 1009)
	CodeTooManySubs      = "too_many_subscriptions"
	CodeUnknownSub       = "unknown_subscription"
	CodeSlowConsumer     = "slow_consumer" // outbound buffer overflowed; the connection is closed
	CodeTooManyConns     = "too_many_connections"
	CodeNotLeader        = "not_leader"      // no leader reachable now; retry
	CodeUnavailable      = "unavailable"     // no quorum or shutting down; retry
	CodeUnknownOutcome   = "unknown_outcome" // may have been applied; retry with the same msgId is safe
	CodeTimeout          = "timeout"         // the request's deadline passed; outcome unknown for writes
	CodeNotFound         = "not_found"       // no such HTTP route
	CodeMethodNotAllowed = "method_not_allowed"
	CodeInternal         = "internal"
	CodeBodyTooLarge     = "body_too_large" // HTTP request body over the size limit (413)
)
