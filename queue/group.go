package queue

import (
	"slices"
	"sort"
)

// entryState is where a message stands in one group once the group's
// cursor has passed it.
type entryState uint8

const (
	stateReady     entryState = 1 // waiting for a member, delivered in seq order
	statePending   entryState = 2 // delivered to member, awaiting ack until at
	stateScheduled entryState = 3 // waiting until at (deliverAt or nack delay)
)

// entry is the per-group state of one message the group has not finished.
// A message the group finished (acked, dead-lettered, dropped by retention)
// has no entry; a message at or past the cursor has none yet.
type entry struct {
	seq      uint64
	msg      *Message // payload carried by a redriven dead letter; nil: read it from the store
	state    entryState
	member   *member // statePending only
	at       int64   // statePending: ack deadline; stateScheduled: due time
	attempts int     // deliveries since creation or redrive
	history  []DeliveryRecord
	pos      [2]int // heap positions: [0] live or carried, [1] ready, acks or sched
}

// member is one live member of a group.
type member struct {
	ref     MemberRef
	pending map[uint64]*entry // delivered to this member, unacked
}

// group is a durable consumer group of one queue.
//
// Invariants: every entry has seq < cursor; entries holds exactly the
// entries of live ∪ carried, and of ready ∪ acks ∪ sched; open counts the
// members with fewer than MaxInFlight pending entries.
type group struct {
	name        string
	config      GroupConfig
	cursor      uint64 // next seq never yet delivered to this group
	entries     map[uint64]*entry
	live        entryHeap // by seq: entries whose payload is in the store
	carried     entryHeap // by seq: entries carrying their payload (redriven)
	ready       entryHeap // by seq
	acks        entryHeap // by (ack deadline, seq)
	sched       entryHeap // by (due time, seq)
	members     []*member // join order
	byID        map[string]*member
	rr          int // index in members where the round-robin resumes
	open        int
	redelivered int64
}

func newGroup(name string, cfg GroupConfig, cursor uint64) *group {
	return &group{
		name:    name,
		config:  cfg,
		cursor:  cursor,
		entries: make(map[uint64]*entry),
		live:    entryHeap{slot: 0},
		carried: entryHeap{slot: 0},
		ready:   entryHeap{slot: 1},
		acks:    entryHeap{slot: 1, byAt: true},
		sched:   entryHeap{slot: 1, byAt: true},
		byID:    make(map[string]*member),
	}
}

// addEntry creates the entry for seq (carrying msg when not nil) in no
// state heap yet; the caller places it.
func (g *group) addEntry(seq uint64, msg *Message) *entry {
	e := &entry{seq: seq, msg: msg, pos: [2]int{-1, -1}}
	g.entries[seq] = e
	if msg != nil {
		g.carried.Push(e)
	} else {
		g.live.Push(e)
	}
	return e
}

// stateHeap is the heap that holds entries in state st.
func (g *group) stateHeap(st entryState) *entryHeap {
	switch st {
	case stateReady:
		return &g.ready
	case statePending:
		return &g.acks
	default:
		return &g.sched
	}
}

// detach takes e out of its state (and its member's pending set).
func (g *group) detach(e *entry) {
	if e.state == 0 {
		return
	}
	g.stateHeap(e.state).Remove(e)
	if e.state == statePending {
		g.unassign(e)
	}
	e.state, e.at = 0, 0
}

func (g *group) unassign(e *entry) {
	m := e.member
	if len(m.pending) == g.config.MaxInFlight {
		g.open++
	}
	delete(m.pending, e.seq)
	e.member = nil
}

// drop forgets e: the group is done with its message.
func (g *group) drop(e *entry) {
	g.detach(e)
	if e.msg != nil {
		g.carried.Remove(e)
	} else {
		g.live.Remove(e)
	}
	delete(g.entries, e.seq)
}

func (g *group) toReady(e *entry) {
	g.detach(e)
	e.state = stateReady
	g.ready.Push(e)
}

func (g *group) toScheduled(e *entry, at int64) {
	g.detach(e)
	e.state, e.at = stateScheduled, at
	g.sched.Push(e)
}

func (g *group) toPending(e *entry, m *member, deadline int64) {
	g.detach(e)
	e.state, e.at, e.member = statePending, deadline, m
	g.acks.Push(e)
	m.pending[e.seq] = e
	if len(m.pending) == g.config.MaxInFlight {
		g.open--
	}
}

// setConfig replaces the group's settings and recounts the members with
// room under the new MaxInFlight. A member above a lowered limit keeps its
// pending entries; it counts as full until it is below the limit again.
func (g *group) setConfig(cfg GroupConfig) {
	g.config = cfg
	g.open = 0
	for _, m := range g.members {
		if len(m.pending) < cfg.MaxInFlight {
			g.open++
		}
	}
}

// addMember appends a member in join order.
func (g *group) addMember(ref MemberRef) *member {
	m := &member{ref: ref, pending: make(map[uint64]*entry)}
	g.members = append(g.members, m)
	g.byID[ref.ID] = m
	g.open++
	return m
}

// removeMember takes m out of the member list; m has no pending entries.
func (g *group) removeMember(m *member) {
	i := slices.Index(g.members, m)
	g.members = slices.Delete(g.members, i, i+1)
	delete(g.byID, m.ref.ID)
	g.open--
	if i < g.rr {
		g.rr--
	}
	if g.rr >= len(g.members) {
		g.rr = 0
	}
}

// nextMember picks the next member with room, round-robin in join order
// from rr, and moves rr past it. The caller checked open > 0.
func (g *group) nextMember() *member {
	n := len(g.members)
	for k := 0; k < n; k++ {
		i := (g.rr + k) % n
		if m := g.members[i]; len(m.pending) < g.config.MaxInFlight {
			g.rr = (i + 1) % n
			return m
		}
	}
	panic("queue: group open count out of sync with members")
}

// floor is the ack floor: every seq <= floor is done for this group.
func (g *group) floor() uint64 {
	f := g.cursor
	if e := g.live.Min(); e != nil && e.seq < f {
		f = e.seq
	}
	if e := g.carried.Min(); e != nil && e.seq < f {
		f = e.seq
	}
	return f - 1
}

// dropStoredBelow forgets the live entries below seq (their messages left
// the store) and moves the cursor up to seq.
func (g *group) dropStoredBelow(seq uint64) {
	for e := g.live.Min(); e != nil && e.seq < seq; e = g.live.Min() {
		g.drop(e)
	}
	g.cursor = max(g.cursor, seq)
}

// clear forgets every entry (purge).
func (g *group) clear() {
	for _, h := range []*entryHeap{&g.live, &g.carried} {
		for h.Len() > 0 {
			g.drop(h.Min())
		}
	}
}

// pendingSeqs returns m's pending seqs in order.
func (m *member) pendingSeqs() []uint64 {
	seqs := make([]uint64, 0, len(m.pending))
	for seq := range m.pending {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	return seqs
}

// nextTimer is the earliest ack deadline or due time of the group.
func (g *group) nextTimer() (int64, bool) {
	at, ok := int64(0), false
	for _, h := range []*entryHeap{&g.acks, &g.sched} {
		if e := h.Min(); e != nil && (!ok || e.at < at) {
			at, ok = e.at, true
		}
	}
	return at, ok
}

// insertSorted inserts s into the sorted slice names.
func insertSorted(names []string, s string) []string {
	i := sort.SearchStrings(names, s)
	return slices.Insert(names, i, s)
}

// removeSorted removes s from the sorted slice names.
func removeSorted(names []string, s string) []string {
	i := sort.SearchStrings(names, s)
	if i < len(names) && names[i] == s {
		return slices.Delete(names, i, i+1)
	}
	return names
}
