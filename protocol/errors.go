package protocol

import "net/http"

// Error codes: the one catalogue of every code the server sends, over
// WebSocket ("error" frames, per-message publish results) and HTTP
// ({"error": …} bodies). The state machine's codes (queue.Code*) carry the
// same strings. Never rename a code, only add; adding one means adding its
// row to Codes, and the tests then require its row in docs/protocol.md and a
// place that emits it.
const (
	CodeBadFrame         = "bad_frame"
	CodeUnknownType      = "unknown_type"
	CodeBadRequest       = "bad_request"
	CodeFrameTooLarge    = "frame_too_large"
	CodeBodyTooLarge     = "body_too_large"
	CodeTooManySubs      = "too_many_subscriptions"
	CodeUnknownSub       = "unknown_subscription"
	CodeSlowConsumer     = "slow_consumer"
	CodeTooManyConns     = "too_many_connections"
	CodeNotLeader        = "not_leader"
	CodeUnavailable      = "unavailable"
	CodeUnknownOutcome   = "unknown_outcome"
	CodeTimeout          = "timeout"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeInternal         = "internal"

	// The state machine's codes (queue.Code*).
	CodeBadName            = "bad_name"
	CodeBadConfig          = "bad_config"
	CodeQueueNotFound      = "queue_not_found"
	CodeQueueExists        = "queue_exists"
	CodeGroupNotFound      = "group_not_found"
	CodeGroupExists        = "group_exists"
	CodeQueueFull          = "queue_full"
	CodeStorageFull        = "storage_full"
	CodeMessageTooLarge    = "message_too_large"
	CodeNotPending         = "not_pending"
	CodeNotMember          = "not_member"
	CodeTooManyQueues      = "too_many_queues"
	CodeTooManyGroups      = "too_many_groups"
	CodeTooManyMembers     = "too_many_members"
	CodeBadCommand         = "bad_command"
	CodePreconditionFailed = "precondition_failed"
)

// Retry says whether repeating a failed request may succeed.
type Retry uint8

const (
	// RetryNo: the same request fails again; the client must change it.
	RetryNo Retry = iota
	// RetryYes: a transient failure; the same request may be sent again
	// after a backoff, to this node or another (the Go client does so by
	// itself). Publishes are safe to repeat with the same msgId.
	RetryYes
	// RetryLater: the same request succeeds only once something else
	// changed (consumers caught up, a queue was created, …).
	RetryLater
)

// ErrorCode is one entry of the catalogue.
type ErrorCode struct {
	Code    string
	Status  int    // HTTP status of a response with this code
	Retry   Retry  // whether repeating the request may succeed
	When    string // when a retry succeeds, or what to do instead ("" for none)
	Meaning string // one line: what happened
}

// Codes is the catalogue, in the order of the table in docs/protocol.md.
var Codes = []ErrorCode{
	{CodeBadFrame, http.StatusBadRequest, RetryNo, "fix the client",
		"not a JSON object, invalid UTF-8, a field of the wrong type, or a binary frame"},
	{CodeUnknownType, http.StatusBadRequest, RetryNo, "", "a frame type the server does not know"},
	{CodeBadRequest, http.StatusBadRequest, RetryNo, "", "a field is missing, out of range or in conflict with another"},
	{CodeFrameTooLarge, http.StatusRequestEntityTooLarge, RetryNo, "",
		"frame over the size limit; the connection closes with 1009"},
	{CodeBodyTooLarge, http.StatusRequestEntityTooLarge, RetryNo, "", "HTTP body over the size limit"},
	{CodeTooManySubs, http.StatusTooManyRequests, RetryLater, "after unsubscribing",
		"the connection holds the maximum number of subscriptions"},
	{CodeUnknownSub, http.StatusNotFound, RetryNo, "", "no such `sub` on this connection"},
	{CodeSlowConsumer, http.StatusTooManyRequests, RetryYes, "reconnect and read faster",
		"the outbound buffer overflowed; the connection is closed"},
	{CodeTooManyConns, http.StatusServiceUnavailable, RetryYes, "later or another node",
		"the node serves its maximum number of connections"},
	{CodeNotLeader, http.StatusServiceUnavailable, RetryYes, "", "no leader reachable now (election in progress)"},
	{CodeUnavailable, http.StatusServiceUnavailable, RetryYes, "later or another node",
		"no quorum, or the node is shutting down"},
	{CodeUnknownOutcome, http.StatusGatewayTimeout, RetryYes, "with the same `msgId` for publishes",
		"the write may or may not have been applied (leadership lost)"},
	{CodeTimeout, http.StatusGatewayTimeout, RetryYes, "with the same `msgId` for publishes",
		"the request's deadline passed; for writes the outcome is unknown"},
	{CodeNotFound, http.StatusNotFound, RetryNo, "", "no such HTTP route, or no such cluster member"},
	{CodeMethodNotAllowed, http.StatusMethodNotAllowed, RetryNo, "",
		"the HTTP route exists with other methods (see `Allow`)"},
	{CodeInternal, http.StatusInternalServerError, RetryLater, "if it was transient; please report it", "a server bug"},
	{CodeBadName, http.StatusBadRequest, RetryNo, "", "queue or group name not allowed"},
	{CodeBadConfig, http.StatusBadRequest, RetryNo, "", "invalid queue or group settings"},
	{CodeQueueNotFound, http.StatusNotFound, RetryLater, "after creating it",
		"no such queue (and auto-create is off), or it was deleted"},
	{CodeQueueExists, http.StatusConflict, RetryNo, "", "create of a queue that exists with other settings"},
	{CodeGroupNotFound, http.StatusNotFound, RetryLater, "after creating it", "no such consumer group"},
	{CodeGroupExists, http.StatusConflict, RetryNo, "",
		"create (`PUT /v1/queues/{queue}/groups/{group}`) of a group that exists with other settings"},
	{CodeQueueFull, http.StatusTooManyRequests, RetryLater, "once consumers catch up",
		"a limit is hit and the queue's discard policy is `new`"},
	{CodeStorageFull, http.StatusInsufficientStorage, RetryLater, "once messages are consumed, expire or are purged",
		"the node's limit on bytes stored in all queues together (`--max-store-bytes`, default 1 GiB) is reached; no queue's own discard policy applies to it"},
	{CodeMessageTooLarge, http.StatusRequestEntityTooLarge, RetryNo, "",
		"message over the gateway's or the queue's size limit"},
	{CodeNotPending, http.StatusConflict, RetryNo, "the message was acked or redelivered",
		"ack/nack of seqs this member is not awaiting (listed in `seqs`)"},
	{CodeNotMember, http.StatusConflict, RetryLater, "after the server re-joined the subscription",
		"ack/nack by a subscription whose group member was removed (its group deleted, or its node reset) and not yet re-joined"},
	{CodeTooManyQueues, http.StatusConflict, RetryLater, "after deleting queues", "the cluster's queue limit is reached"},
	{CodeTooManyGroups, http.StatusConflict, RetryLater, "after deleting groups",
		"the queue has the maximum number of groups (1000)"},
	{CodeTooManyMembers, http.StatusConflict, RetryLater, "", "the group has the maximum number of members (10,000)"},
	{CodeBadCommand, http.StatusBadRequest, RetryNo, "", "a command the state machine cannot apply as given"},
	{CodePreconditionFailed, http.StatusPreconditionFailed, RetryNo, "read the object again, re-apply the change, send it with the new version",
		"an update's `If-Match` names a version (`etag`) of the settings that is no longer current: someone changed them meanwhile"},
}

var codeIndex = func() map[string]ErrorCode {
	m := make(map[string]ErrorCode, len(Codes))
	for _, c := range Codes {
		m[c.Code] = c
	}
	return m
}()

// LookupCode returns the catalogue entry of code.
func LookupCode(code string) (ErrorCode, bool) {
	c, ok := codeIndex[code]
	return c, ok
}

// HTTPStatus is the HTTP status that goes with code; 500 for a code the
// catalogue does not list.
func HTTPStatus(code string) int {
	if c, ok := codeIndex[code]; ok {
		return c.Status
	}
	return http.StatusInternalServerError
}

// RetryText is the docs' "retry" column: no, yes or later, then When.
func (c ErrorCode) RetryText() string {
	word := [...]string{RetryNo: "no", RetryYes: "yes", RetryLater: "later"}[c.Retry]
	if c.When == "" {
		return word
	}
	return word + " — " + c.When
}

// IsTransient reports whether a request that failed with code may be sent
// again as it is after a backoff (RetryYes).
func IsTransient(code string) bool {
	return codeIndex[code].Retry == RetryYes
}
