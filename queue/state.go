// Package queue is Carrier's replicated state machine: every queue of one
// Raft group, its messages, de-duplication ids, consumer groups, dead
// letters and timers. It is pure and deterministic (see State and
// DESIGN.md); cluster/ feeds it committed log entries, and the gateway acts
// on the events Apply returns.
package queue

import (
	"errors"
	"fmt"
)

// State is the pure, deterministic state machine of every queue in one Raft
// group. It does no IO, starts no goroutines, reads no clock and draws no
// random numbers; map iteration never decides an outcome.
//
// State is not safe for concurrent use: the owner (cluster.Node) serialises
// Apply and Restore against readers with a RWMutex. Reader methods (Queues,
// Queue, Group, Members, Unacked, Read, StartSeq, DeadLetters, AppliedIndex,
// LastTime, NextDeadline, Snapshot) never mutate and may run concurrently
// with each other.
type State struct {
	stores   Stores
	queues   map[string]*queue
	names    []string // sorted keys of queues
	applied  uint64
	lastTime int64 // effective time of the last entry; never decreases
	timers   queueHeap
	// books is shared with the queues' stores (accountedStore), so
	// Restore's swap of the whole struct keeps them counting into it.
	books *ledger
	// err is the first store failure; once set, Apply does nothing.
	err error
}

// ledger is what a State's stores share with it.
type ledger struct {
	// Invariant: total is the sum of Bytes() of every queue's store (so
	// Publish's store-wide budget costs O(1)).
	total int64
	// index is the log index of the entry being applied (or restored): the
	// index every store mutation is recorded with.
	index uint64
}

// New returns an empty state whose queues keep their messages in stores
// opened by stores (MemoryStores when nil).
func New(stores Stores) *State {
	if stores == nil {
		stores = MemoryStores{}
	}
	return &State{stores: stores, queues: make(map[string]*queue), books: &ledger{}}
}

// Err is the store failure that stopped the state, or nil. Once it is set
// the state is the result of an entry applied in part: Apply refuses every
// entry, and the owner must stop and rebuild the state (from a snapshot and
// the log, or from its peers). Readers still answer from what is there.
func (s *State) Err() error { return s.err }

// Close closes every queue's store (keeping their data) and returns the
// first error. The state must not be used afterwards.
func (s *State) Close() error {
	var errs []error
	for _, name := range s.names {
		if err := s.queues[name].store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store of queue %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// AppliedIndex is the index of the last entry applied (or restored).
func (s *State) AppliedIndex() uint64 { return s.applied }

// LastTime is the effective time of the last entry applied (or restored):
// the largest entry time seen so far.
func (s *State) LastTime() int64 { return s.lastTime }

// Queues lists every queue, sorted by name.
func (s *State) Queues() []QueueInfo {
	out := make([]QueueInfo, 0, len(s.names))
	for _, name := range s.names {
		out = append(out, s.queues[name].info())
	}
	return out
}

// Queue describes one queue, or fails with CodeQueueNotFound.
func (s *State) Queue(name string) (QueueInfo, error) {
	q, err := s.lookup(name)
	if err != nil {
		return QueueInfo{}, err
	}
	return q.info(), nil
}

// Group describes one consumer group; it fails with CodeQueueNotFound or
// CodeGroupNotFound.
func (s *State) Group(queue, group string) (GroupInfo, error) {
	q, g, err := s.lookupGroup(queue, group)
	if err != nil {
		return GroupInfo{}, err
	}
	return q.groupInfo(g), nil
}

// Members lists the members of a group in join order.
func (s *State) Members(queue, group string) ([]MemberRef, error) {
	_, g, err := s.lookupGroup(queue, group)
	if err != nil {
		return nil, err
	}
	refs := make([]MemberRef, len(g.members))
	for i, m := range g.members {
		refs[i] = m.ref
	}
	return refs, nil
}

// Unacked lists, in order, the seqs delivered to member and not yet acked.
// It fails with CodeNotMember when member is not in the group.
func (s *State) Unacked(queue, group, member string) ([]uint64, error) {
	_, g, err := s.lookupGroup(queue, group)
	if err != nil {
		return nil, err
	}
	m, ok := g.byID[member]
	if !ok {
		return nil, Errorf(CodeNotMember, "%q is not a member of group %q", member, group)
	}
	return m.pendingSeqs(), nil
}

// Read returns up to limit stored messages with Seq >= from, in order.
func (s *State) Read(queue string, from uint64, limit int) ([]*Message, error) {
	q, err := s.lookup(queue)
	if err != nil {
		return nil, err
	}
	return must(q.store.Read(from, limit)), nil
}

// StartSeq resolves p to the first seq a reader starting there should read:
// new → LastSeq+1, first → FirstSeq, seq → max(seq, FirstSeq), time → the
// first message with Time >= p.Time, or LastSeq+1. An empty Kind means first.
func (s *State) StartSeq(queue string, p Position) (uint64, error) {
	q, err := s.lookup(queue)
	if err != nil {
		return 0, err
	}
	if p.Kind != "" {
		if err := p.validate(); err != nil {
			return 0, err
		}
	}
	return q.startSeq(p), nil
}

// DeadLetters returns up to limit dead letters with DLSeq >= from, in order.
func (s *State) DeadLetters(queue string, from uint64, limit int) ([]DeadLetter, error) {
	q, err := s.lookup(queue)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	i := q.dead.from(from)
	end := min(len(q.dead.list), i+limit)
	out := make([]DeadLetter, 0, end-i)
	for _, dl := range q.dead.list[i:end] {
		out = append(out, *dl)
	}
	return out, nil
}

func (s *State) lookup(name string) (*queue, error) {
	q, ok := s.queues[name]
	if !ok {
		return nil, Errorf(CodeQueueNotFound, "queue %q not found", name)
	}
	return q, nil
}

func (s *State) lookupGroup(queue, group string) (*queue, *group, error) {
	q, err := s.lookup(queue)
	if err != nil {
		return nil, nil, err
	}
	g, ok := q.groups[group]
	if !ok {
		return nil, nil, Errorf(CodeGroupNotFound, "group %q of queue %q not found", group, queue)
	}
	return q, g, nil
}

func (q *queue) info() QueueInfo {
	groups := make([]GroupInfo, 0, len(q.names))
	for _, name := range q.names {
		groups = append(groups, q.groupInfo(q.groups[name]))
	}
	return QueueInfo{
		Name:        q.name,
		Config:      q.config,
		FirstSeq:    q.store.FirstSeq(),
		LastSeq:     q.lastSeq,
		Messages:    q.store.Len(),
		Bytes:       q.store.Bytes(),
		DeadLetters: int64(len(q.dead.list)),
		Groups:      groups,
		Created:     q.created,
		Dropped:     q.dropped,
		ETag:        q.config.ETag(),
	}
}

func (q *queue) groupInfo(g *group) GroupInfo {
	return GroupInfo{
		Name:        g.name,
		Config:      g.config,
		Members:     len(g.members),
		Pending:     int64(g.ready.Len()) + q.undelivered(g),
		Unacked:     int64(g.acks.Len()),
		Scheduled:   int64(g.sched.Len()),
		AckFloor:    g.floor(),
		Redelivered: g.redelivered,
		ETag:        g.config.ETag(),
	}
}

// undelivered counts the stored messages at or past g's cursor.
func (q *queue) undelivered(g *group) int64 {
	if q.store.Len() == 0 || g.cursor > q.store.LastSeq() {
		return 0
	}
	return int64(q.store.LastSeq() - max(g.cursor, q.store.FirstSeq()) + 1)
}

// addQueue registers q.
func (s *State) addQueue(q *queue) {
	s.queues[q.name] = q
	s.names = insertSorted(s.names, q.name)
}

// openStore opens the store of the queue id, accounted in s.books.
func (s *State) openStore(id QueueID) (accountedStore, error) {
	st, err := s.stores.Open(id)
	if err != nil {
		return accountedStore{}, fmt.Errorf("open store of queue %q: %w", id.Name, err)
	}
	s.books.total += st.Bytes()
	return accountedStore{Store: st, books: s.books}, nil
}

// accountedStore records every mutation of its store with the index of the
// entry being applied and adds every change of its Bytes to the state-wide
// total.
type accountedStore struct {
	Store
	books *ledger
}

// Append stores m and accounts its bytes.
func (a accountedStore) Append(m *Message) error {
	before := a.Store.Bytes()
	err := a.Store.Append(a.books.index, m)
	a.books.total += a.Store.Bytes() - before
	return err
}

// DropThrough drops messages and accounts the bytes freed.
func (a accountedStore) DropThrough(seq uint64) (int64, error) {
	before := a.Store.Bytes()
	n, err := a.Store.DropThrough(a.books.index, seq)
	a.books.total += a.Store.Bytes() - before
	return n, err
}

// removeQueue forgets q (and its bytes) and removes its store's data.
func (s *State) removeQueue(q *queue) {
	s.books.total -= q.store.Bytes()
	must(0, q.store.Remove())
	if q.timerPos >= 0 {
		s.timers.remove(q)
	}
	delete(s.queues, q.name)
	s.names = removeSorted(s.names, q.name)
}

// Stores returns the Stores the state's queues were opened with.
func (s *State) Stores() Stores { return s.stores }
