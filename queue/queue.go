package queue

import (
	"fmt"
	"time"
)

// tx is the context of one Apply call: the effective time and the events
// produced so far.
type tx struct {
	now    int64
	events []Event
}

func (t *tx) emit(ev Event) { t.events = append(t.events, ev) }

// queue is one queue's state.
//
// Invariants: store seqs are contiguous and <= lastSeq; names is the sorted
// list of the keys of groups; every group's cursor is >= the store's
// FirstSeq when the store is not empty, and >= lastSeq+1 when it is.
type queue struct {
	name    string
	config  QueueConfig
	created int64
	lastSeq uint64 // last seq ever assigned
	dropped int64  // messages a limit removed (maxMessages, maxBytes, maxAge), never consumed or purged
	store   accountedStore
	dedup   dedupIndex
	groups  map[string]*group
	names   []string
	dead    deadList

	timerPos int   // position in State.timers, -1 when absent
	deadline int64 // when the next timer fires (valid when timerPos >= 0)
}

func newQueue(name string, cfg QueueConfig, created int64, store accountedStore) *queue {
	return &queue{
		name:     name,
		config:   cfg,
		created:  created,
		store:    store,
		dedup:    newDedupIndex(),
		groups:   make(map[string]*group),
		dead:     deadList{next: 1},
		timerPos: -1,
	}
}

// storeFailure is what must panics with; Apply recovers it into State.Err.
type storeFailure struct{ err error }

// must turns a store failure into a storeFailure panic, which unwinds the
// command being applied: the replica cannot continue without diverging
// from the others, and Apply stops the state (State.Err).
func must[T any](v T, err error) T {
	if err != nil {
		panic(storeFailure{fmt.Errorf("queue: store failed: %w", err)})
	}
	return v
}

// message returns the payload of e.
func (q *queue) message(e *entry) *Message {
	if e.msg != nil {
		return e.msg
	}
	return must(q.store.Get(e.seq))
}

// firstStored is the smallest seq that may still be delivered from the
// store: its FirstSeq, or lastSeq+1 when it is empty.
func (q *queue) firstStored() uint64 {
	if q.store.Len() == 0 {
		return q.lastSeq + 1
	}
	return q.store.FirstSeq()
}

// startSeq resolves p against the stored messages.
func (q *queue) startSeq(p Position) uint64 {
	switch p.Kind {
	case FromNew:
		return q.lastSeq + 1
	case FromSeq:
		return max(p.Seq, q.firstStored())
	case FromTime:
		return q.seqAtTime(p.Time)
	default:
		return q.firstStored()
	}
}

// seqAtTime is the first stored seq with Time >= t, or lastSeq+1. Message
// times are non-decreasing in seq order, so this is a binary search.
func (q *queue) seqAtTime(t int64) uint64 {
	lo, hi := q.firstStored(), q.store.LastSeq()+1
	if q.store.Len() == 0 {
		return q.lastSeq + 1
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if must(q.store.Get(mid)).Time < t {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo > q.store.LastSeq() {
		return q.lastSeq + 1
	}
	return lo
}

// publish appends msgs and returns one ack per message. budget caps the
// bytes this queue may hold (the store-wide limit less the other queues'
// bytes); math.MaxInt64 means no cap.
func (q *queue) publish(t *tx, msgs []*Message, budget int64) []PublishAck {
	q.dedup.prune(t.now, q.config.DedupWindow)
	before := q.dropped
	defer q.reportDrops(t, before)
	acks := make([]PublishAck, len(msgs))
	var appended []*Message
	for i, m := range msgs {
		var stored *Message
		acks[i], stored = q.publishOne(t, m, budget)
		if stored != nil {
			appended = append(appended, stored)
		}
	}
	q.afterDrop()
	if len(appended) > 0 {
		t.emit(Event{Kind: EventAppended, Queue: q.name, Messages: appended})
	}
	return acks
}

// publishOne stores one message (a copy of in, stamped with seq and time)
// and returns its ack and the stored message, nil when it was not stored.
func (q *queue) publishOne(t *tx, in *Message, budget int64) (PublishAck, *Message) {
	if in == nil {
		return PublishAck{Err: Errorf(CodeBadCommand, "nil message")}, nil
	}
	ack := PublishAck{ID: in.ID}
	if r, ok := q.dedup.lookup(in.ID, t.now, q.config.DedupWindow); ok && in.ID != "" {
		ack.Seq, ack.Duplicate = r.seq, true
		return ack, nil
	}
	if ack.Err = q.admit(in.Size()); ack.Err != nil {
		return ack, nil
	}
	if q.store.Bytes() > budget-in.Size() { // no overflow: budget-size cannot wrap for sizes >= 0

		ack.Err = Errorf(CodeStorageFull, "storing %d more bytes in queue %q would exceed the node's limit for all queues together", in.Size(), q.name)
		return ack, nil
	}
	m := *in
	m.Seq, m.Time = q.lastSeq+1, t.now
	must(0, q.store.Append(&m))
	q.lastSeq = m.Seq
	if m.ID != "" {
		q.dedup.add(m.ID, m.Seq, t.now)
	}
	ack.Seq = m.Seq
	return ack, &m
}

// admit checks a message of size bytes against the size limit and makes
// room for it; the error is a per-message rejection.
func (q *queue) admit(size int64) error {
	if size > q.config.MaxMessageSize {
		return Errorf(CodeMessageTooBig, "message of %d bytes exceeds maxMessageSize %d", size, q.config.MaxMessageSize)
	}
	return q.makeRoom(size)
}

// makeRoom makes the store able to take one more message of size bytes:
// discard old drops the oldest messages, discard new refuses. Group entries
// of dropped messages are cleaned up later by afterDrop.
func (q *queue) makeRoom(size int64) error {
	c := q.config
	full := func() bool { return q.store.Len()+1 > c.MaxMessages || q.store.Bytes()+size > c.MaxBytes }
	if !full() {
		return nil
	}
	if c.Discard == DiscardNew {
		return Errorf(CodeQueueFull, "queue %q is full (%d messages, %d bytes)", q.name, q.store.Len(), q.store.Bytes())
	}
	for q.store.Len() > 0 && full() {
		q.dropFirst()
	}
	return nil
}

// dropFirst drops the oldest stored message because a limit needs room.
func (q *queue) dropFirst() {
	must(q.store.DropThrough(q.store.FirstSeq()))
	q.dropped++
}

// reportDrops emits EventLimitDropped when limits dropped messages since
// the count was before.
func (q *queue) reportDrops(t *tx, before int64) {
	if n := q.dropped - before; n > 0 {
		t.emit(Event{Kind: EventLimitDropped, Queue: q.name, Seq: q.firstStored() - 1, Count: n})
	}
}

// enforceLimits drops the oldest messages until the store is within
// MaxMessages, MaxBytes and MaxAge (whatever the discard policy).
func (q *queue) enforceLimits(now int64) {
	c := q.config
	for q.store.Len() > c.MaxMessages || q.store.Bytes() > c.MaxBytes {
		q.dropFirst()
	}
	if c.MaxAge > 0 {
		q.dropOlderThan(now, c.MaxAge)
	}
	q.afterDrop()
}

// dropOlderThan drops the messages whose age at now is at least maxAge.
func (q *queue) dropOlderThan(now int64, maxAge time.Duration) {
	for q.store.Len() > 0 {
		first := must(q.store.Get(q.store.FirstSeq()))
		if addDur(first.Time, maxAge) > now {
			return
		}
		q.dropFirst()
	}
}

// afterDrop brings every group in line with the store after messages left
// it: entries of dropped messages go, cursors move past them.
func (q *queue) afterDrop() {
	first := q.firstStored()
	for _, name := range q.names {
		q.groups[name].dropStoredBelow(first)
	}
}

// dropAcked implements workqueue retention: messages every group is done
// with leave the store. A queue without groups keeps its messages.
func (q *queue) dropAcked() {
	if q.config.Retention != RetentionWorkqueue || len(q.names) == 0 || q.store.Len() == 0 {
		return
	}
	floor := q.groups[q.names[0]].floor()
	for _, name := range q.names[1:] {
		floor = min(floor, q.groups[name].floor())
	}
	if floor >= q.store.FirstSeq() {
		must(q.store.DropThrough(floor))
		q.afterDrop()
	}
}

// settle runs after every command that changed q: retention, then
// assignment for the given groups (every group when none is given).
func (q *queue) settle(t *tx, groups ...*group) {
	q.dropAcked()
	if len(groups) == 0 {
		for _, name := range q.names {
			q.assign(t, q.groups[name])
		}
		return
	}
	for _, g := range groups {
		q.assign(t, g)
	}
}

// assign hands out work to members with room, in order: the ready list,
// then from the cursor. Messages whose DeliverAt is in the future are
// scheduled instead. A group with MaxInFlight 1 is in strict order: it has
// at most one unacked message in all, whatever its members — otherwise a
// member that reconnects (a new member) would get the next message while the
// old one still holds the previous.
func (q *queue) assign(t *tx, g *group) {
	for g.open > 0 && !(g.config.MaxInFlight == 1 && g.acks.Len() > 0) {
		e, msg := q.nextWork(t, g)
		if e == nil {
			return
		}
		q.deliver(t, g, e, msg, g.nextMember())
	}
}

// nextWork returns the next entry to deliver and its message, or nil.
func (q *queue) nextWork(t *tx, g *group) (*entry, *Message) {
	for {
		var e *entry
		switch {
		case g.ready.Len() > 0:
			e = g.ready.Pop()
			e.state = 0
		case q.store.Len() > 0 && g.cursor <= q.store.LastSeq():
			g.cursor = max(g.cursor, q.store.FirstSeq())
			e = g.addEntry(g.cursor, nil)
			g.cursor++
		default:
			return nil, nil
		}
		msg := q.message(e)
		if msg.DeliverAt > t.now {
			g.toScheduled(e, msg.DeliverAt)
			continue
		}
		return e, msg
	}
}

// deliver assigns e to m and emits EventDeliver.
func (q *queue) deliver(t *tx, g *group, e *entry, msg *Message, m *member) {
	if len(e.history) > 0 {
		g.redelivered++
	}
	e.attempts++
	e.history = appendHistory(e.history, DeliveryRecord{Attempt: e.attempts, Member: m.ref.ID, Time: t.now})
	g.toPending(e, m, addDur(t.now, g.config.AckWait))
	t.emit(Event{Kind: EventDeliver, Queue: q.name, Group: g.name, Member: m.ref.ID,
		Seq: e.seq, Attempt: e.attempts, Message: msg})
}

func appendHistory(h []DeliveryRecord, r DeliveryRecord) []DeliveryRecord {
	if len(h) >= maxHistory {
		h = append(h[:0:0], h[len(h)-maxHistory+1:]...)
	}
	return append(h, r)
}

// fail ends e's current delivery with outcome: the message goes back to
// ready (or scheduled after delay), or to the dead letters when the group's
// MaxDeliver is used up.
func (q *queue) fail(t *tx, g *group, e *entry, outcome string, delay time.Duration) {
	e.history[len(e.history)-1].Outcome = outcome
	g.detach(e)
	switch {
	case e.attempts >= g.config.MaxDeliver:
		q.deadLetter(t, g, e)
	case delay > 0:
		g.toScheduled(e, addDur(t.now, delay))
	default:
		g.toReady(e)
	}
}

// removeMember fails m's pending messages (in seq order), takes m out of g
// and emits EventMemberRemoved.
func (q *queue) removeMember(t *tx, g *group, m *member) {
	for _, seq := range m.pendingSeqs() {
		q.fail(t, g, g.entries[seq], "member-left", 0)
	}
	g.removeMember(m)
	t.emit(Event{Kind: EventMemberRemoved, Queue: q.name, Group: g.name, Member: m.ref.ID})
}

// runTimers fires every ack deadline and due time of g at or before now.
func (q *queue) runTimers(t *tx, g *group) {
	for e := g.acks.Min(); e != nil && e.at <= t.now; e = g.acks.Min() {
		q.fail(t, g, e, "timeout", 0)
	}
	for e := g.sched.Min(); e != nil && e.at <= t.now; e = g.sched.Min() {
		g.toReady(e)
	}
}

// tick runs every timer of q due at t.now, then retention and assignment.
func (q *queue) tick(t *tx) {
	defer q.reportDrops(t, q.dropped)
	for _, name := range q.names {
		q.runTimers(t, q.groups[name])
	}
	if q.config.MaxAge > 0 {
		q.dropOlderThan(t.now, q.config.MaxAge)
		q.afterDrop()
	}
	q.dedup.prune(t.now, q.config.DedupWindow)
	q.settle(t)
}

// timerGranularity coarsens the housekeeping timers (MaxAge, dedup expiry)
// so that a steady publish stream does not make the leader tick for every
// message: they fire on whole seconds.
const timerGranularity = int64(time.Second)

func roundUp(at int64) int64 {
	r := at % timerGranularity
	if r == 0 || at > (1<<63-1)-timerGranularity {
		return at
	}
	if r < 0 {
		return at - r
	}
	return at - r + timerGranularity
}

// nextTimer is the earliest time at which a Tick would change q.
func (q *queue) nextTimer() (int64, bool) {
	at, ok := int64(0), false
	consider := func(t int64, has bool) {
		if has && (!ok || t < at) {
			at, ok = t, true
		}
	}
	if q.config.MaxAge > 0 && q.store.Len() > 0 {
		first := must(q.store.Get(q.store.FirstSeq()))
		consider(roundUp(addDur(first.Time, q.config.MaxAge)), true)
	}
	if exp, has := q.dedup.expiry(q.config.DedupWindow); has {
		consider(roundUp(exp), true)
	}
	for _, name := range q.names {
		consider(q.groups[name].nextTimer())
	}
	return at, ok
}
