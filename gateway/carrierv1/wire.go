package carrierv1

import (
	"time"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// The JSON shapes that carrier.v1 frames and the HTTP API share
// (protocol's types, with RFC 3339 times): the HTTP API renders publish
// outcomes and stored messages as the frames do, and reads messages,
// positions and durations as they are spelled there (Messages, Position
// and ParseDuration in decode.go).

// FormatTime renders unix nanoseconds as RFC 3339 in UTC; 0 is "".
func FormatTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// Published renders the outcome of one published message.
func Published(a queue.PublishAck) protocol.Published {
	p := protocol.Published{Seq: a.Seq, MsgID: a.ID, Duplicate: a.Duplicate}
	if a.Err != nil {
		e := apierr.From(a.Err)
		p.Error = &protocol.ErrorBody{Code: e.Code, Message: e.Message}
	}
	return p
}

// Results renders the outcomes of a batch, one per message.
func Results(acks []queue.PublishAck) []protocol.Published {
	results := make([]protocol.Published, len(acks))
	for i, a := range acks {
		results[i] = Published(a)
	}
	return results
}
