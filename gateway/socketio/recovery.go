package socketio

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/carriermq/carrier/queue"
)

// Connection-state recovery without state on the node. socket.io's own
// server keeps a session's missed packets in its memory under a private id
// (pid); here the pid names what the socket consumes and the offset is the
// seq of the last message it received, so any node can resume it from the
// replicated queue:
//
//   - a tail's pid names its queue and the first seq it was to receive;
//     a reconnect resumes at offset+1, or at that first seq when the client
//     never received an event (socket.io-client then sends no offset);
//   - a group member's pid names its queue and group: the group itself
//     keeps what the member has not acked, and delivers it again.
//
// The pid carries no secret: it is base64url text, checked like any other
// client input.
type pid struct {
	queue string
	group string // "" for a tail
	start uint64 // a tail's first seq
}

const pidSep = "\x1f"

func (p pid) String() string {
	var s string
	if p.group != "" {
		s = "g" + pidSep + p.queue + pidSep + p.group
	} else {
		s = "t" + pidSep + p.queue + pidSep + strconv.FormatUint(p.start, 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// parsePID reads a pid this codec made; ok is false for anything else.
func parsePID(s string) (p pid, ok bool) {
	if len(s) > 512 {
		return pid{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pid{}, false
	}
	parts := strings.Split(string(b), pidSep)
	if len(parts) != 3 || queue.ValidateName(parts[1]) != nil {
		return pid{}, false
	}
	p.queue = parts[1]
	switch parts[0] {
	case "g":
		p.group = parts[2]
		return p, queue.ValidateName(p.group) == nil
	case "t":
		p.start, err = strconv.ParseUint(parts[2], 10, 64)
		return p, err == nil && p.start > 0
	}
	return pid{}, false
}

// parseOffset reads an offset this codec sent (a seq); ok is false otherwise.
func parseOffset(s string) (uint64, bool) {
	seq, err := strconv.ParseUint(s, 10, 64)
	return seq, err == nil && seq > 0 && len(s) <= 20
}

// offset is the offset of a delivered message.
func offset(seq uint64) string { return strconv.FormatUint(seq, 10) }
