package queue

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code. Codes are part of the public
// protocol (docs/protocol.md): never rename one, only add.
type Code string

// Codes produced by the state machine.
const (
	CodeBadName            Code = "bad_name"            // queue or group name not allowed
	CodeBadConfig          Code = "bad_config"          // invalid queue or group settings
	CodeQueueNotFound      Code = "queue_not_found"     // no such queue (and auto-create is off)
	CodeQueueExists        Code = "queue_exists"        // create of a queue that exists with other settings
	CodeGroupNotFound      Code = "group_not_found"     // no such consumer group
	CodeQueueFull          Code = "queue_full"          // a limit is hit and discard is "new"
	CodeMessageTooBig      Code = "message_too_large"   // message larger than the queue's MaxMessageSize
	CodeNotPending         Code = "not_pending"         // ack/nack of a seq this group is not awaiting
	CodeNotMember          Code = "not_member"          // the member is not (or no longer) in the group
	CodeTooManyQueues      Code = "too_many_queues"     // the cluster's queue limit is reached
	CodeStorageFull        Code = "storage_full"        // the node's budget for stored bytes (all queues) is used up
	CodeBadCommand         Code = "bad_command"         // a command that cannot be applied as given
	CodeGroupExists        Code = "group_exists"        // create of a group that exists with other settings
	CodeTooManyGroups      Code = "too_many_groups"     // the queue has MaxGroupsPerQueue groups
	CodeTooManyMembers     Code = "too_many_members"    // the group has MaxMembersPerGroup members
	CodePreconditionFailed Code = "precondition_failed" // an update named a settings version (ETag) that is no longer current
)

// Error is an error with a stable code. Rejections returned by Apply are
// always *Error; use errors.As or CodeOf to read the code.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf makes an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err, or "" when err carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
