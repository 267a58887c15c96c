package queue

import "io"

// CONTRACT STUB: the queue implementation replaces the bodies below; the
// signatures are what cluster/ and gateway/ code against.

// State is the pure, deterministic state machine of every queue in one Raft
// group. It does no IO, starts no goroutines, reads no clock and draws no
// random numbers; map iteration never decides an outcome.
//
// State is not safe for concurrent use: the owner (cluster.Node) serialises
// Apply against readers with a RWMutex. Reader methods may run concurrently
// with each other.
type State struct{}

// New returns an empty state whose queues keep messages in stores made by newStore
// (NewMemoryStore when nil).
func New(newStore func() Store) *State { panic("unimplemented") }

// Apply applies one log entry at index and returns one Result per command
// and the events it caused. It is deterministic: the same sequence of
// (index, entry) gives the same results, events and state on every replica.
func (s *State) Apply(index uint64, e Entry) ([]Result, []Event) { panic("unimplemented") }

// AppliedIndex is the index of the last entry applied (or restored).
func (s *State) AppliedIndex() uint64 { panic("unimplemented") }

// NextDeadline is the earliest time (unix ns) at which a Tick would change
// something; ok is false when no timer is pending.
func (s *State) NextDeadline() (at int64, ok bool) { panic("unimplemented") }

// Queues lists every queue, sorted by name.
func (s *State) Queues() []QueueInfo { panic("unimplemented") }

// Queue describes one queue, or fails with CodeQueueNotFound.
func (s *State) Queue(name string) (QueueInfo, error) { panic("unimplemented") }

// Group describes one consumer group.
func (s *State) Group(queue, group string) (GroupInfo, error) { panic("unimplemented") }

// Read returns up to limit stored messages with Seq >= from, in order.
func (s *State) Read(queue string, from uint64, limit int) ([]*Message, error) {
	panic("unimplemented")
}

// StartSeq resolves p to the first seq a reader starting there should read.
func (s *State) StartSeq(queue string, p Position) (uint64, error) { panic("unimplemented") }

// DeadLetters returns up to limit dead letters with DLSeq >= from, in order.
func (s *State) DeadLetters(queue string, from uint64, limit int) ([]DeadLetter, error) {
	panic("unimplemented")
}

// Snapshot captures the state cheaply (called with Apply excluded); the
// returned Snapshot's WriteTo may then run concurrently with Apply and
// writes the same bytes for the same state on every replica.
func (s *State) Snapshot() *Snapshot { panic("unimplemented") }

// Restore replaces the whole state with one read from r (written by
// Snapshot.WriteTo). On error the state is unchanged.
func (s *State) Restore(r io.Reader) error { panic("unimplemented") }

// Snapshot is a point-in-time capture of a State.
type Snapshot struct{}

// WriteTo writes the snapshot in the versioned snapshot format.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) { panic("unimplemented") }

// EncodeEntry encodes an entry in the versioned log format.
func EncodeEntry(e Entry) ([]byte, error) { panic("unimplemented") }

// DecodeEntry decodes an entry; an unknown version or op, or any malformed
// byte, is an error (the node must stop rather than skip it).
func DecodeEntry(b []byte) (Entry, error) { panic("unimplemented") }

// ValidateName checks a queue or group name: 1–128 characters of
// [A-Za-z0-9_.-], starting with a letter or digit. Fails with CodeBadName.
func ValidateName(name string) error { panic("unimplemented") }

// Store holds one queue's messages in seq order. Implementations: the
// in-memory store now; an on-disk segment store later.
type Store interface{}

// NewMemoryStore returns an in-memory Store.
func NewMemoryStore() Store { panic("unimplemented") }

// DefaultQueueConfig is what a queue gets for every zero field when created.
func DefaultQueueConfig() QueueConfig { panic("unimplemented") }

// WithDefaults fills every zero field of c from d.
func (c QueueConfig) WithDefaults(d QueueConfig) QueueConfig { panic("unimplemented") }
