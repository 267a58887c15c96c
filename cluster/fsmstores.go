package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/carriermq/carrier/queue"
	"github.com/carriermq/carrier/queue/diskstore"
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

// Message store kinds (Config.Store).
const (
	StoreDisk   = "disk"   // message bodies in segment files (queue/diskstore)
	StoreMemory = "memory" // every message on the heap; for tests and small setups
)

// stateStores returns how the FSM opens the message stores of the group
// whose Raft directory is dir.
func (c Config) stateStores(dir string) (stateStores, error) {
	if c.stores != nil {
		return c.stores, nil
	}
	if c.Store != StoreDisk {
		return memoryStates{}, nil
	}
	return newDiskStates(filepath.Join(dir, "store"), c.logger())
}

// diskStates keeps each State's stores in a directory of its own under
// root: gen-1 for the state the node starts with, then one per restored
// snapshot. The state is rebuilt from the Raft snapshot and log at every
// start, so the stores of an earlier run are stale and removed at start:
// whatever a crash left in them (a torn tail, a damaged or missing file)
// is never served.
type diskStates struct {
	root string
	log  *slog.Logger
	gen  int
}

func newDiskStates(root string, log *slog.Logger) (*diskStates, error) {
	if _, err := os.Stat(root); err == nil {
		log.Info("removing the message stores of the previous run: the state is rebuilt from the Raft snapshot and log", "dir", root)
	}
	if err := os.RemoveAll(root); err != nil {
		return nil, fmt.Errorf("remove old message stores: %w", err)
	}
	return &diskStates{root: root, log: log}, nil
}

func (d *diskStates) open() (queue.Stores, error) {
	d.gen++
	st, err := diskstore.New(filepath.Join(d.root, fmt.Sprintf("gen-%d", d.gen)), diskstore.Options{Log: d.log})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (d *diskStates) discard(st queue.Stores) error {
	ds, ok := st.(*diskstore.Stores)
	if !ok {
		return fmt.Errorf("discard message stores: %T is not a disk store", st)
	}
	if err := os.RemoveAll(ds.Dir()); err != nil {
		return fmt.Errorf("discard message stores: %w", err)
	}
	return nil
}
