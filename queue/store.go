package queue

import (
	"errors"
	"fmt"
)

// ErrNotStored is returned by Store.Get for a seq outside
// [FirstSeq, LastSeq].
var ErrNotStored = errors.New("message not stored")

// Store holds one queue's messages in seq order. Implementations: the
// in-memory store now; an on-disk segment store later.
//
// The stored seqs are always contiguous: FirstSeq..LastSeq with no gap.
// Append to an empty store accepts any seq (after a purge the queue's next
// seq jumps past the dropped ones); Append to a non-empty store accepts only
// LastSeq+1.
//
// The state machine is the only writer and calls the mutating methods
// (Append, DropThrough) from one goroutine, never concurrently with any
// other method. The read methods (Get, Read, FirstSeq, LastSeq, Len, Bytes,
// Capture) may run concurrently with each other. A mutating method that
// returns an error leaves the replica unable to continue: the state machine
// panics rather than let replicas diverge.
type Store interface {
	// Append stores m, whose Seq is set. m is immutable from now on.
	Append(m *Message) error
	// Get returns the message with seq, or ErrNotStored.
	Get(seq uint64) (*Message, error)
	// FirstSeq is the oldest stored seq, 0 when empty.
	FirstSeq() uint64
	// LastSeq is the newest stored seq, 0 when empty.
	LastSeq() uint64
	// Len is the number of stored messages.
	Len() int64
	// Bytes is the sum of the stored messages' Size.
	Bytes() int64
	// DropThrough removes every message with Seq <= seq and returns how
	// many it removed.
	DropThrough(seq uint64) (int64, error)
	// Read returns up to limit messages with Seq >= from, in order.
	Read(from uint64, limit int) ([]*Message, error)
	// Capture returns a view of the messages stored now. The view does not
	// change when the store is appended to or dropped from afterwards, and
	// may be read from another goroutine while the state machine keeps
	// applying (snapshots). Capture must be cheap: no payload copies.
	Capture() MessageView
}

// MessageView is a frozen sequence of messages in seq order (see
// Store.Capture). Its methods may be called from any goroutine.
type MessageView interface {
	Len() int64
	// Each calls fn for every message in order and stops at the first error.
	Each(fn func(*Message) error) error
}

// memoryStore keeps messages in a slice. Dropping from the front reslices
// and appending never writes below the current length, so a captured slice
// header stays valid and unchanged (copy-free snapshots). Dropped messages
// stay reachable through the backing array until append reallocates it,
// which bounds that slack to the slice's growth factor.
type memoryStore struct {
	msgs  []*Message // msgs[i].Seq == first+i
	bytes int64
}

// NewMemoryStore returns an in-memory Store.
func NewMemoryStore() Store { return &memoryStore{} }

func (s *memoryStore) Append(m *Message) error {
	if n := len(s.msgs); n > 0 && m.Seq != s.msgs[n-1].Seq+1 {
		return fmt.Errorf("append seq %d after %d: seqs must be contiguous", m.Seq, s.msgs[n-1].Seq)
	}
	if m.Seq == 0 {
		return errors.New("append seq 0")
	}
	s.msgs = append(s.msgs, m)
	s.bytes += m.Size()
	return nil
}

func (s *memoryStore) Get(seq uint64) (*Message, error) {
	i, ok := s.index(seq)
	if !ok {
		return nil, ErrNotStored
	}
	return s.msgs[i], nil
}

func (s *memoryStore) index(seq uint64) (int, bool) {
	if len(s.msgs) == 0 || seq < s.msgs[0].Seq {
		return 0, false
	}
	i := seq - s.msgs[0].Seq
	return int(i), i < uint64(len(s.msgs))
}

func (s *memoryStore) FirstSeq() uint64 {
	if len(s.msgs) == 0 {
		return 0
	}
	return s.msgs[0].Seq
}

func (s *memoryStore) LastSeq() uint64 {
	if len(s.msgs) == 0 {
		return 0
	}
	return s.msgs[len(s.msgs)-1].Seq
}

func (s *memoryStore) Len() int64   { return int64(len(s.msgs)) }
func (s *memoryStore) Bytes() int64 { return s.bytes }

func (s *memoryStore) DropThrough(seq uint64) (int64, error) {
	if len(s.msgs) == 0 || seq < s.msgs[0].Seq {
		return 0, nil
	}
	n := len(s.msgs)
	if last := s.msgs[n-1].Seq; seq < last {
		n = int(seq - s.msgs[0].Seq + 1)
	}
	for _, m := range s.msgs[:n] {
		s.bytes -= m.Size()
	}
	if n == len(s.msgs) {
		s.msgs = nil // release the backing array at once
	} else {
		s.msgs = s.msgs[n:]
	}
	return int64(n), nil
}

func (s *memoryStore) Read(from uint64, limit int) ([]*Message, error) {
	if limit <= 0 || len(s.msgs) == 0 {
		return nil, nil
	}
	i, ok := s.index(max(from, s.msgs[0].Seq))
	if !ok {
		return nil, nil
	}
	end := min(len(s.msgs), i+limit)
	return append([]*Message(nil), s.msgs[i:end]...), nil
}

func (s *memoryStore) Capture() MessageView { return sliceView(s.msgs) }

// sliceView is a MessageView over a slice that nobody writes to.
type sliceView []*Message

func (v sliceView) Len() int64 { return int64(len(v)) }

func (v sliceView) Each(fn func(*Message) error) error {
	for _, m := range v {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}
