package session

import (
	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// The limits every protocol shares (docs/protocol.md, "Limits"). A codec
// checks them while decoding, with the functions below, so that the
// commands it hands over are within them and every protocol refuses the
// same things with the same codes. The limits of a whole session
// (subscriptions, requests in flight, the outbound budget) are the
// session's own, in Config.

// Limits on fields that have no limit of their own in the state machine.
const (
	MaxIDBytes    = 256  // a request id and a message id
	MaxEventBytes = 256  // an event name
	MaxAckSeqs    = 1000 // seqs in one ack or nack
)

// Limits bound one publish.
type Limits struct {
	MaxMessageBytes int64 // queue.Message.Size of one message
	MaxBatch        int   // messages in one publish
}

// CheckName checks a queue or group name with the state machine's rule.
func CheckName(what, name string) *apierr.Error {
	if name == "" {
		return apierr.Errorf(protocol.CodeBadRequest, "%s is required", what)
	}
	if err := queue.ValidateName(name); err != nil {
		return apierr.Errorf(protocol.CodeBadName, "%s name %q is not allowed: 1-128 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit", what, apierr.Clip(name))
	}
	return nil
}

// CheckLabels checks the lengths of a message's id and event name.
func CheckLabels(msgID, event string) *apierr.Error {
	if len(msgID) > MaxIDBytes || len(event) > MaxEventBytes {
		return apierr.Errorf(protocol.CodeBadRequest, "msgId and event are limited to %d bytes", MaxIDBytes)
	}
	return nil
}

// CheckSize checks the size of a message as it will be stored.
func (l Limits) CheckSize(m *queue.Message) *apierr.Error {
	if size := m.Size(); size > l.MaxMessageBytes {
		return apierr.Errorf(protocol.CodeMessageTooLarge, "the message has %d bytes, the limit is %d", size, l.MaxMessageBytes)
	}
	return nil
}

// CheckBatch checks the number of messages of a batch.
func (l Limits) CheckBatch(n int) *apierr.Error {
	if n == 0 || n > l.MaxBatch {
		return apierr.Errorf(protocol.CodeBadRequest, "messages must hold 1 to %d messages", l.MaxBatch)
	}
	return nil
}
