package queue

import (
	"errors"
	"fmt"
)

// ErrNotStored is returned by Store.Get for a seq outside
// [FirstSeq, LastSeq].
var ErrNotStored = errors.New("message not stored")

// QueueID identifies one queue of a Raft group to its store: the queue's
// name and the effective time it was created. A queue deleted and created
// again under the same name is another queue; its old store is removed
// (DeleteQueue) before the new one is opened, even within one entry.
type QueueID struct {
	Name    string
	Created int64 // unix nanoseconds (the queue's Created)
}

// Stores opens the message stores of the queues of one State, that is of
// one Raft group. A node that hosts several Raft groups gives each group's
// State its own Stores (its own directory for an on-disk one), so stores of
// different groups never share a file; two States must never share one
// Stores while both hold a queue with the same QueueID (cluster/ gives a
// snapshot's Restore a new State with new Stores for this reason).
//
// Open is called by the state machine from Apply and Restore, never
// concurrently. An error is a store failure (see Store).
type Stores interface {
	// Open returns the store of the queue id, empty when the queue is new.
	Open(id QueueID) (Store, error)
}

// MemoryStores opens in-memory stores (NewMemoryStore).
type MemoryStores struct{}

// Open returns a new, empty in-memory store.
func (MemoryStores) Open(QueueID) (Store, error) { return NewMemoryStore(), nil }

// Store holds one queue's messages in seq order. Implementations: the
// in-memory store here, the on-disk segment store in queue/diskstore.
//
// The stored seqs are always contiguous: FirstSeq..LastSeq with no gap.
// Append to an empty store accepts any seq (after a purge the queue's next
// seq jumps past the dropped ones); Append to a non-empty store accepts only
// LastSeq+1.
//
// Every mutation carries the index of the Raft log entry that caused it;
// the store keeps the last one with its data (Applied), so that a store
// reopened after a restart says which entries it already reflects.
//
// The state machine is the only writer and calls the mutating methods
// (Append, DropThrough, Close, Remove) from one goroutine, never
// concurrently with any other method. The read methods (Get, Read,
// FirstSeq, LastSeq, Len, Bytes, Applied, Capture) may run concurrently
// with each other. An error from a method is a store failure — an expected
// condition such as a full disk (ENOSPC) as much as a damaged file — and
// never a panic inside the store. A mutation that fails may have happened in
// part, so the state machine stops applying (State.Err) rather than let the
// replica diverge; the node then stops and rebuilds its state from its peers
// or its log.
type Store interface {
	// Append stores m, whose Seq is set, for the entry at index. m is
	// immutable from now on.
	Append(index uint64, m *Message) error
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
	// Applied is the index of the last Append, or DropThrough that removed
	// something (0 for a new store): a mutation that changes nothing need
	// not be recorded, replaying it is a no-op. It is stored with the data
	// and survives a reopen with them.
	Applied() uint64
	// DropThrough removes every message with Seq <= seq, for the entry at
	// index, and returns how many it removed.
	DropThrough(index, seq uint64) (int64, error)
	// Read returns up to limit messages with Seq >= from, in order.
	Read(from uint64, limit int) ([]*Message, error)
	// Capture returns a view of the messages stored now. The view does not
	// change when the store is appended to or dropped from afterwards, and
	// may be read from another goroutine while the state machine keeps
	// applying (snapshots), until it is closed — also after the store is
	// closed or removed. Capture must be cheap: no payload copies.
	Capture() MessageView
	// Close releases the store's resources and keeps its data.
	Close() error
	// Remove closes the store and deletes its data (the queue was deleted).
	Remove() error
}

// MessageView is a frozen sequence of messages in seq order (see
// Store.Capture). Its methods may be called from any goroutine, Close once
// after the last of them.
type MessageView interface {
	Len() int64
	// Each calls fn for every message in order and stops at the first error.
	Each(fn func(*Message) error) error
	// Close releases what the view holds (files a drop has removed since).
	Close() error
}

// memoryStore keeps messages in a slice. Dropping from the front reslices
// and appending never writes below the current length, so a captured slice
// header stays valid and unchanged (copy-free snapshots). Dropped messages
// stay reachable through the backing array until append reallocates it,
// which bounds that slack to the slice's growth factor.
type memoryStore struct {
	msgs    []*Message // msgs[i].Seq == first+i
	bytes   int64
	applied uint64
}

// NewMemoryStore returns an in-memory Store.
func NewMemoryStore() Store { return &memoryStore{} }

func (s *memoryStore) Append(index uint64, m *Message) error {
	if n := len(s.msgs); n > 0 && m.Seq != s.msgs[n-1].Seq+1 {
		return fmt.Errorf("append seq %d after %d: seqs must be contiguous", m.Seq, s.msgs[n-1].Seq)
	}
	if m.Seq == 0 {
		return errors.New("append seq 0")
	}
	s.msgs = append(s.msgs, m)
	s.bytes += m.Size()
	s.applied = index
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

func (s *memoryStore) Applied() uint64 { return s.applied }
func (s *memoryStore) Close() error    { return nil }
func (s *memoryStore) Remove() error   { return nil }

func (s *memoryStore) DropThrough(index, seq uint64) (int64, error) {
	if len(s.msgs) == 0 || seq < s.msgs[0].Seq {
		return 0, nil
	}
	s.applied = index
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

func (v sliceView) Len() int64   { return int64(len(v)) }
func (v sliceView) Close() error { return nil }

func (v sliceView) Each(fn func(*Message) error) error {
	for _, m := range v {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}
