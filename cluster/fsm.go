package cluster

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
)

// fsm adapts a queue.State to raft.BatchingFSM.
//
// Locking: mu serialises Apply and Restore (write lock) against readers
// (View, Snapshot, NextDeadline: read lock). Observers are called under the
// write lock, in log order, so an observer never sees the state of a later
// entry before the events of an earlier one. observers is also guarded by mu.
//
// raft calls ApplyBatch, Apply, Snapshot and Restore from its single FSM
// goroutine, never concurrently with each other.
type fsm struct {
	log     *slog.Logger
	stores  stateStores
	onApply func() // called after each batch, outside the lock; must not block
	// failed receives the state's store failure, once (capacity 1); the
	// group stops raft on it (failStop).
	failed chan error

	mu         sync.RWMutex
	state      *queue.State     // guarded by mu
	observers  []observerRecord // guarded by mu; in registration order
	nextObs    uint64           // guarded by mu
	dropWarned map[string]bool  // guarded by mu; queues whose limit drops were logged (drops.go)

	// Invariant: applied is the index of the last log handed to the FSM
	// (command or configuration) and reflected in state.
	applied  atomic.Uint64
	entries  atomic.Uint64 // command entries applied
	commands atomic.Uint64 // commands applied
}

type observerRecord struct {
	id uint64
	o  Observer
}

var _ raft.BatchingFSM = (*fsm)(nil)

// newFSM returns an FSM over an empty state whose stores come from stores
// (in memory when nil).
func newFSM(stores stateStores, log *slog.Logger, onApply func()) (*fsm, error) {
	if stores == nil {
		stores = memoryStates{}
	}
	st, err := stores.open()
	if err != nil {
		return nil, fmt.Errorf("open message stores: %w", err)
	}
	return &fsm{log: log, stores: stores, onApply: onApply, failed: make(chan error, 1), state: queue.New(st)}, nil
}

// decodeLog decodes the entry a command log carries. Any error means this
// node cannot apply the log the way its peers do.
func decodeLog(l *raft.Log) (queue.Entry, error) {
	e, err := queue.DecodeEntry(l.Data)
	if err != nil {
		return queue.Entry{}, fmt.Errorf("decode raft log %d (term %d, %d bytes): %w", l.Index, l.Term, len(l.Data), err)
	}
	return e, nil
}

// decodeBatch decodes every command log of a batch before any is applied.
// The returned slice is indexed like logs; non-command logs get a zero Entry.
func decodeBatch(logs []*raft.Log) ([]queue.Entry, error) {
	out := make([]queue.Entry, len(logs))
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		e, err := decodeLog(l)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// ApplyBatch applies committed logs in order. The response for a command log
// is its []queue.Result (one per command of the entry); nil for others.
//
// A log that does not decode (corruption, or an op this build does not know)
// stops the node: it is logged at error and ApplyBatch panics, which ends the
// process. Skipping it would make this replica diverge from its peers; a
// replica that stops can be repaired (upgraded, or re-synced from peers).
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	entries, err := decodeBatch(logs)
	if err != nil {
		f.log.Error("refusing to apply an undecodable raft log: stopping the node", "err", err)
		panic(fmt.Sprintf("carrier: %v", err))
	}
	out := make([]any, len(logs))
	f.mu.Lock()
	for i, l := range logs {
		if err := f.state.Err(); err != nil {
			out[i] = err // not applied: the proposer learns the outcome is unknown
			continue
		}
		if l.Type == raft.LogCommand {
			out[i] = f.applyEntry(l.Index, entries[i])
		}
		if err := f.state.Err(); err != nil {
			out[i] = f.storeFailed(err)
			continue
		}
		f.applied.Store(l.Index)
	}
	f.mu.Unlock()
	if f.onApply != nil {
		f.onApply()
	}
	return out
}

// applyEntry applies one entry and tells the observers. mu must be held for writing.
func (f *fsm) applyEntry(index uint64, e queue.Entry) []queue.Result {
	results, events := f.state.Apply(index, e)
	f.warnDrops(events)
	f.entries.Add(1)
	f.commands.Add(uint64(len(e.Commands)))
	if len(events) > 0 {
		for _, r := range f.observers {
			r.o.OnApply(events)
		}
	}
	return results
}

// storeFailed reports the state's first store failure (a full disk, a
// damaged file) and returns it as the entry's response. The state is half
// applied: nothing more is applied, and the group stops raft (failStop).
// mu must be held for writing.
func (f *fsm) storeFailed(err error) error {
	f.log.Error("the message store failed: this node stops applying the log; start it again once the disk is fixed", "err", err)
	select {
	case f.failed <- err:
	default:
	}
	return err
}

// Apply applies a single log (raft uses ApplyBatch; this completes raft.FSM).
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// Snapshot captures the state under the read lock; the capture is written
// out later by Persist, concurrently with Apply.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if err := f.state.Err(); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &fsmSnapshot{snap: f.state.Snapshot()}, nil
}

// Restore replaces the state with the snapshot in rc. The new state is read
// outside the lock and swapped in atomically; on error the old state stays.
//
// The new state gets its own Stores (stateStores.open), so the restore
// never touches the stores of the state it replaces; those are closed and
// discarded after the swap.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	st, err := f.stores.open()
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	s := queue.New(st)
	if err := s.Restore(rc); err != nil {
		return errors.Join(fmt.Errorf("restore snapshot: %w", err), f.stores.discard(st))
	}
	f.mu.Lock()
	old := f.state
	f.state = s
	f.applied.Store(s.AppliedIndex())
	for _, r := range f.observers {
		if ro, ok := r.o.(RestoreObserver); ok {
			ro.OnRestore()
		}
	}
	f.mu.Unlock()
	return f.release(old)
}

// release closes the stores of a state given up and discards its Stores.
func (f *fsm) release(old *queue.State) error {
	err := errors.Join(old.Close(), f.stores.discard(old.Stores()))
	if err != nil {
		f.log.Error("the message stores of the state a snapshot replaced were not released", "err", err)
	}
	return nil // the restore itself succeeded
}

// close closes the live state's stores (raft must be shut down).
func (f *fsm) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.state.Close(); err != nil {
		return fmt.Errorf("close message stores: %w", err)
	}
	return nil
}

// view runs fn under the read lock.
func (f *fsm) view(fn func(s *queue.State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.state)
}

// nextDeadline is the state's next timer, read under the read lock.
func (f *fsm) nextDeadline() (int64, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state.NextDeadline()
}

// observe registers o; the returned function removes it (idempotent).
// Both wait for an apply in progress to finish.
func (f *fsm) observe(o Observer) func() {
	f.mu.Lock()
	f.nextObs++
	id := f.nextObs
	f.observers = append(f.observers, observerRecord{id: id, o: o})
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.observers = slices.DeleteFunc(f.observers, func(r observerRecord) bool { return r.id == id })
		})
	}
}

// fsmSnapshot writes a captured state to raft's snapshot sink.
type fsmSnapshot struct {
	snap *queue.Snapshot
}

// Persist writes the snapshot and closes the sink, or cancels it on error.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.snap.WriteTo(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("close snapshot: %w", err)
	}
	return nil
}

// Release releases what the capture holds (the stores' views).
func (s *fsmSnapshot) Release() { _ = s.snap.Close() }
