package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/carriermq/carrier/queue"
)

// Status of one forwarded command, the first byte of its outcome on the
// wire. It says what the follower's proposer learns; the values are part of
// the node-to-node protocol (nodes of two versions talk during a rolling
// upgrade): ONLY ADD TO THE END.
const (
	statusOK          byte = 0 // committed and applied on the leader; a Result and the index follow
	statusNotLeader   byte = 1 // definitely not proposed (ErrNotLeader)
	statusUnknown     byte = 2 // maybe committed (ErrUnknownOutcome)
	statusUnavailable byte = 3 // raft failed to store or commit it (ErrUnavailable)
	statusRejected    byte = 4 // not proposed: the command is invalid (a *queue.Error)
)

// errLeaderRefused marks a not-leader outcome that the node named leader
// answered: the command was not proposed, and the follower may send it
// again to the next leader.
var errLeaderRefused = errors.New("refused by the former leader")

// Error kinds inside a Result.
const (
	errNone  byte = 0
	errQueue byte = 1 // *queue.Error: code and message
	errOther byte = 2 // any other error: message only
)

// appendOutcome encodes one outcome of the leader's batcher as the follower
// will see it. Errors are reduced to their status and message: the chain of
// wrapped errors does not cross the wire, the status carries its meaning.
func appendOutcome(b []byte, o outcome) []byte {
	status := outcomeStatus(o.err)
	b = append(b, status)
	switch status {
	case statusOK:
		b = binary.AppendUvarint(b, o.index)
		return appendResult(b, o.res)
	case statusRejected:
		return appendError(b, o.err)
	default:
		return appendString(b, o.err.Error())
	}
}

// outcomeStatus classifies a Propose error on the leader. Unknown outcome
// is checked first: a closing leader's error carries ErrClosed and
// ErrUnknownOutcome when the command was already in raft. A leader closing
// before proposing, or one whose connection context ended, did not propose:
// the follower may retry with the next leader.
func outcomeStatus(err error) byte {
	var qe *queue.Error
	switch {
	case err == nil:
		return statusOK
	case errors.Is(err, ErrUnknownOutcome):
		return statusUnknown
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrClosed):
		return statusNotLeader
	case errors.As(err, &qe):
		return statusRejected
	case errors.Is(err, ErrUnavailable):
		return statusUnavailable
	default:
		return statusNotLeader // ctx ended before the command was queued
	}
}

func appendResult(b []byte, r queue.Result) []byte {
	b = appendError(b, r.Err)
	b = binary.AppendUvarint(b, uint64(len(r.Published)))
	for _, a := range r.Published {
		b = binary.AppendUvarint(b, a.Seq)
		b = appendString(b, a.ID)
		b = appendBool(b, a.Duplicate)
		b = appendError(b, a.Err)
	}
	b = binary.AppendVarint(b, int64(r.Count))
	return appendQueueInfo(b, r.Queue)
}

func appendError(b []byte, err error) []byte {
	var qe *queue.Error
	switch {
	case err == nil:
		return append(b, errNone)
	case errors.As(err, &qe):
		b = append(b, errQueue)
		b = appendString(b, string(qe.Code))
		return appendString(b, qe.Message)
	default:
		return appendString(append(b, errOther), err.Error())
	}
}

// appendQueueInfo encodes the queue description of admin results as JSON:
// it is rare (create, update, create group), every field has a JSON name,
// and JSON keeps this codec from repeating the whole queue config layout.
func appendQueueInfo(b []byte, q *queue.QueueInfo) []byte {
	if q == nil {
		return append(b, 0)
	}
	js, err := json.Marshal(q)
	if err != nil { // cannot happen: QueueInfo has only plain fields
		return append(b, 0)
	}
	b = append(b, 1)
	return appendBytes(b, js)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// resultReader decodes what append* wrote. The first error sticks; later
// reads return zero values.
type resultReader struct {
	buf []byte
	err error
}

// decodeOutcomes decodes n outcomes, as the follower's proposers get them.
// notLeader names the leader in the not-leader errors.
func decodeOutcomes(b []byte, n int, leader string) ([]outcome, error) {
	r := &resultReader{buf: b}
	out := make([]outcome, n)
	for i := range out {
		out[i] = r.outcome(leader)
	}
	if r.err == nil && len(r.buf) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.buf))
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode forward response: %w", r.err)
	}
	return out, nil
}

func (r *resultReader) outcome(leader string) outcome {
	switch status := r.byte(); status {
	case statusOK:
		idx := r.uvarint()
		return outcome{index: idx, res: r.result()}
	case statusRejected:
		return outcome{err: r.error()}
	case statusNotLeader:
		return outcome{err: fmt.Errorf("%w (%w): forwarded to %s: %s", ErrNotLeader, errLeaderRefused, leader, r.string())}
	case statusUnknown:
		return outcome{err: fmt.Errorf("%w: forwarded to %s: %s", ErrUnknownOutcome, leader, r.string())}
	case statusUnavailable:
		return outcome{err: fmt.Errorf("%w: forwarded to %s: %s", ErrUnavailable, leader, r.string())}
	default:
		r.fail("unknown outcome status %d", status)
		return outcome{}
	}
}

func (r *resultReader) result() queue.Result {
	res := queue.Result{Err: r.error()}
	n := r.count()
	if n > 0 {
		res.Published = make([]queue.PublishAck, n)
	}
	for i := range res.Published {
		a := &res.Published[i]
		a.Seq = r.uvarint()
		a.ID = r.string()
		a.Duplicate = r.byte() == 1
		a.Err = r.error()
	}
	res.Count = int(r.varint())
	res.Queue = r.queueInfo()
	return res
}

func (r *resultReader) error() error {
	switch kind := r.byte(); kind {
	case errNone:
		return nil
	case errQueue:
		code := r.string()
		return &queue.Error{Code: queue.Code(code), Message: r.string()}
	case errOther:
		return errors.New(r.string())
	default:
		r.fail("unknown error kind %d", kind)
		return nil
	}
}

func (r *resultReader) queueInfo() *queue.QueueInfo {
	if r.byte() == 0 {
		return nil
	}
	js := r.bytes()
	if r.err != nil {
		return nil
	}
	var q queue.QueueInfo
	if err := json.Unmarshal(js, &q); err != nil {
		r.fail("queue info: %v", err)
		return nil
	}
	return &q
}

func (r *resultReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
	r.buf = nil
}

func (r *resultReader) byte() byte {
	if r.err != nil || len(r.buf) == 0 {
		r.fail("truncated")
		return 0
	}
	v := r.buf[0]
	r.buf = r.buf[1:]
	return v
}

func (r *resultReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *resultReader) varint() int64 {
	v, n := binary.Varint(r.buf)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

// count reads a length that must fit in what is left (each item takes at
// least one byte), so a corrupt length cannot make a huge allocation.
func (r *resultReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.buf)) {
		r.fail("count %d exceeds the %d bytes left", n, len(r.buf))
		return 0
	}
	return int(n)
}

func (r *resultReader) bytes() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	v := r.buf[:n:n]
	r.buf = r.buf[n:]
	return v
}

func (r *resultReader) string() string { return string(r.bytes()) }
