package cluster

import (
	"errors"

	"github.com/carriermq/carrier/queue"
)

// ErrStoreFailed: the message store failed a write (disk full, I/O error,
// a damaged file) while the state machine applied an entry. The state is
// half applied, so the node stopped Raft: it neither applies nor votes. The
// entry's proposers got ErrUnknownOutcome (it is committed, and the peers
// apply it), never a confirmation from this node. The owner must close the
// node and start it again, which rebuilds the state from the snapshot and
// the log (carrier serve exits with code 3).
var ErrStoreFailed = errors.New("message store failed; the node must restart")

// stateStores makes the queue.Stores of each State the FSM holds: the live
// one and each restored snapshot's. Each State gets Stores of its own, so a
// restore never opens a queue's store while the state it replaces holds the
// same queue's, and a state given up is discarded whole.
//
// The FSM calls both methods from raft's FSM goroutine (open also once from
// newFSM), never concurrently.
type stateStores interface {
	// open returns the Stores for a new State.
	open() (queue.Stores, error)
	// discard deletes everything st holds; the stores opened with st are
	// closed already.
	discard(st queue.Stores) error
}

// memoryStates keeps every message in memory (queue.MemoryStores).
type memoryStates struct{}

func (memoryStates) open() (queue.Stores, error) { return queue.MemoryStores{}, nil }
func (memoryStates) discard(queue.Stores) error  { return nil }

// stateStores returns how the FSM opens the message stores of the group
// whose Raft directory is dir: nil for memory.
func (c Config) stateStores(dir string) stateStores { return nil }
