package queue

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Apply applies one log entry at index and returns one Result per command
// and the events it caused. It is deterministic: the same sequence of
// (index, entry) gives the same results, events and state on every replica.
//
// The effective time of the entry is max(e.Time, the last effective time),
// so time never goes backwards. Commands apply in order; a command that
// fails returns Result.Err (an *Error) and changes nothing, except Ack and
// Nack, which apply their valid seqs and report the others.
//
// A store failure (see Store) stops the state: Apply returns no results and
// no events for that entry, Err reports the failure, and every later Apply
// returns nothing. The replica must stop rather than diverge.
func (s *State) Apply(index uint64, e Entry) (results []Result, events []Event) {
	if s.err != nil {
		return nil, nil
	}
	defer s.recoverStore(index, &results, &events)
	s.applied = index
	s.books.index = index
	s.lastTime = max(s.lastTime, e.Time)
	t := &tx{now: s.lastTime}
	results = make([]Result, len(e.Commands))
	for i, c := range e.Commands {
		results[i] = s.apply(t, c)
	}
	return results, t.events
}

// recoverStore turns a storeFailure panic during the entry at index into
// s.err and clears the entry's results and events. Other panics go on.
func (s *State) recoverStore(index uint64, results *[]Result, events *[]Event) {
	r := recover()
	if r == nil {
		return
	}
	f, ok := r.(storeFailure)
	if !ok {
		panic(r)
	}
	s.err = fmt.Errorf("apply entry %d: %w", index, f.err)
	*results, *events = nil, nil
}

func (s *State) apply(t *tx, c Command) Result {
	switch c := deref(c).(type) {
	case CreateQueue:
		return s.createQueue(t, c)
	case UpdateQueue:
		return s.updateQueue(t, c)
	case DeleteQueue:
		return s.deleteQueue(t, c)
	case PurgeQueue:
		return s.purgeQueue(t, c)
	case Publish:
		return s.publish(t, c)
	case Join:
		return s.join(t, c)
	case Leave:
		return s.leave(t, c)
	case Ack:
		return s.ack(t, c)
	case Nack:
		return s.nack(t, c)
	case Tick:
		return s.tick(t)
	case Redrive:
		return s.redrive(t, c)
	case ResetNode:
		return s.resetNode(t, c)
	case CreateGroup:
		return s.createGroup(t, c)
	case DeleteGroup:
		return s.deleteGroup(t, c)
	case UpdateGroup:
		return s.updateGroup(t, c)
	}
	return failed(Errorf(CodeBadCommand, "unknown command %T", c))
}

// deref turns a pointer to a command into the command value; a nil pointer
// stays as it is (and is rejected as unknown).
func deref(c Command) Command {
	switch p := c.(type) {
	case *CreateQueue:
		return derefOr(p, c)
	case *UpdateQueue:
		return derefOr(p, c)
	case *DeleteQueue:
		return derefOr(p, c)
	case *PurgeQueue:
		return derefOr(p, c)
	case *Publish:
		return derefOr(p, c)
	case *Join:
		return derefOr(p, c)
	case *Leave:
		return derefOr(p, c)
	case *Ack:
		return derefOr(p, c)
	case *Nack:
		return derefOr(p, c)
	case *Tick:
		return derefOr(p, c)
	case *Redrive:
		return derefOr(p, c)
	case *ResetNode:
		return derefOr(p, c)
	case *CreateGroup:
		return derefOr(p, c)
	case *DeleteGroup:
		return derefOr(p, c)
	case *UpdateGroup:
		return derefOr(p, c)
	}
	return c
}

func derefOr[T Command](p *T, c Command) Command {
	if p == nil {
		return c
	}
	return *p
}

func failed(err *Error) Result { return Result{Err: err} }

func infoPtr(q *queue) *QueueInfo {
	info := q.info()
	return &info
}

func (s *State) createQueue(t *tx, c CreateQueue) Result {
	if q, ok := s.queues[c.Name]; ok {
		if cfg := c.Config.WithDefaults(DefaultQueueConfig()); cfg != q.config {
			return failed(Errorf(CodeQueueExists, "queue %q exists with other settings", c.Name))
		}
		return Result{Queue: infoPtr(q)}
	}
	q, err := s.createNew(t, c.Name, c.Config, c.MaxQueues)
	if err != nil {
		return failed(err)
	}
	return Result{Queue: infoPtr(q)}
}

// createNew validates and adds a queue that does not exist.
func (s *State) createNew(t *tx, name string, cfg QueueConfig, maxQueues int) (*queue, *Error) {
	if err := ValidateName(name); err != nil {
		return nil, err.(*Error)
	}
	cfg = cfg.WithDefaults(DefaultQueueConfig())
	if err := cfg.Validate(); err != nil {
		return nil, err.(*Error)
	}
	if maxQueues > 0 && len(s.queues) >= maxQueues {
		return nil, Errorf(CodeTooManyQueues, "%d queues exist, the limit is %d", len(s.queues), maxQueues)
	}
	q := newQueue(name, cfg, t.now, must(s.openStore(QueueID{Name: name, Created: t.now})))
	s.addQueue(q)
	return q, nil
}

func (s *State) updateQueue(t *tx, c UpdateQueue) Result {
	q, err := s.lookup(c.Name)
	if err != nil {
		return failed(err.(*Error))
	}
	if err := checkMatch("queue "+c.Name, c.IfMatch, q.config.ETag()); err != nil {
		return failed(err)
	}
	cfg := c.Config.WithDefaults(DefaultQueueConfig())
	if err := cfg.Validate(); err != nil {
		return failed(err.(*Error))
	}
	q.config = cfg
	before := q.dropped
	q.enforceLimits(t.now)
	q.reportDrops(t, before)
	q.dead.trim(cfg.MaxDeadLetters)
	q.dedup.prune(t.now, cfg.DedupWindow)
	q.settle(t)
	s.rearm(q)
	return Result{Queue: infoPtr(q)}
}

func (s *State) deleteQueue(t *tx, c DeleteQueue) Result {
	q, err := s.lookup(c.Name)
	if err != nil {
		return failed(err.(*Error))
	}
	for _, name := range q.names {
		q.emitRemoved(t, q.groups[name])
	}
	t.emit(Event{Kind: EventQueueDeleted, Queue: q.name, Seq: q.lastSeq})
	s.removeQueue(q)
	return Result{}
}

// emitRemoved emits EventMemberRemoved for every member of g, in join order.
func (q *queue) emitRemoved(t *tx, g *group) {
	for _, m := range g.members {
		t.emit(Event{Kind: EventMemberRemoved, Queue: q.name, Group: g.name, Member: m.ref.ID})
	}
}

func (s *State) purgeQueue(t *tx, c PurgeQueue) Result {
	q, err := s.lookup(c.Name)
	if err != nil {
		return failed(err.(*Error))
	}
	n := must(q.store.DropThrough(q.lastSeq))
	for _, name := range q.names {
		q.groups[name].clear()
	}
	q.afterDrop()
	t.emit(Event{Kind: EventQueuePurged, Queue: q.name, Seq: q.lastSeq})
	s.rearm(q)
	return Result{Count: int(n)}
}

func (s *State) publish(t *tx, c Publish) Result {
	q, ok := s.queues[c.Queue]
	if !ok {
		if c.Create == nil {
			return failed(Errorf(CodeQueueNotFound, "queue %q not found", c.Queue))
		}
		var err *Error
		if q, err = s.createNew(t, c.Queue, *c.Create, c.MaxQueues); err != nil {
			return failed(err)
		}
	}
	acks := q.publish(t, c.Messages, s.budgetFor(q, c.MaxTotalBytes))
	q.settle(t)
	s.rearm(q)
	return Result{Published: acks}
}

// budgetFor is how many bytes q may hold under a store-wide limit of max
// bytes, given what the other queues hold (negative when they hold more than
// max already); math.MaxInt64 when there is no limit.
func (s *State) budgetFor(q *queue, max int64) int64 {
	if max <= 0 {
		return math.MaxInt64
	}
	return max - (s.books.total - q.store.Bytes())
}

func (s *State) join(t *tx, c Join) Result {
	q, err := s.lookup(c.Queue)
	if err != nil {
		return failed(err.(*Error))
	}
	if c.Member.ID == "" {
		return failed(Errorf(CodeBadCommand, "join without a member id"))
	}
	g, ok := q.groups[c.Group]
	if !ok {
		var err *Error
		if g, err = q.createGroup(c.Group, c.Config); err != nil {
			return failed(err)
		}
	} else if _, dup := g.byID[c.Member.ID]; dup {
		return Result{}
	} else if len(g.members) >= MaxMembersPerGroup {
		return failed(Errorf(CodeTooManyMembers, "group %q has %d members", g.name, len(g.members)))
	}
	g.addMember(c.Member)
	q.settle(t, g)
	s.rearm(q)
	return Result{}
}

// createGroup validates and adds a group that does not exist; zero config
// fields come from the queue's group defaults.
func (q *queue) createGroup(name string, cfg GroupConfig) (*group, *Error) {
	if err := ValidateName(name); err != nil {
		return nil, err.(*Error)
	}
	cfg = cfg.WithDefaults(q.config.Group)
	if err := cfg.Validate(); err != nil {
		return nil, err.(*Error)
	}
	if len(q.groups) >= MaxGroupsPerQueue {
		return nil, Errorf(CodeTooManyGroups, "queue %q has %d groups", q.name, len(q.groups))
	}
	g := newGroup(name, cfg, q.startSeq(cfg.Start))
	q.groups[name] = g
	q.names = insertSorted(q.names, name)
	return g, nil
}

func (s *State) leave(t *tx, c Leave) Result {
	q, g, m, err := s.lookupMember(c.Queue, c.Group, c.Member)
	if err != nil {
		return failed(err)
	}
	q.removeMember(t, g, m)
	q.settle(t, g)
	s.rearm(q)
	return Result{}
}

func (s *State) lookupMember(queue, group, member string) (*queue, *group, *member, *Error) {
	q, g, err := s.lookupGroup(queue, group)
	if err != nil {
		return nil, nil, nil, err.(*Error)
	}
	m, ok := g.byID[member]
	if !ok {
		return nil, nil, nil, Errorf(CodeNotMember, "%q is not a member of group %q", member, group)
	}
	return q, g, m, nil
}

func (s *State) ack(t *tx, c Ack) Result {
	q, g, _, err := s.lookupMember(c.Queue, c.Group, c.Member)
	if err != nil {
		return failed(err)
	}
	return s.settleSeqs(t, q, g, c.Seqs, g.drop)
}

func (s *State) nack(t *tx, c Nack) Result {
	q, g, _, err := s.lookupMember(c.Queue, c.Group, c.Member)
	if err != nil {
		return failed(err)
	}
	if c.Delay < 0 || c.Delay > MaxDurationLimit {
		return failed(Errorf(CodeBadCommand, "nack delay %v: want 0..%v", c.Delay, MaxDurationLimit))
	}
	return s.settleSeqs(t, q, g, c.Seqs, func(e *entry) { q.fail(t, g, e, "nack", c.Delay) })
}

// settleSeqs applies fn to each seq pending in g and reports the others
// with CodeNotPending; Count is the number applied.
func (s *State) settleSeqs(t *tx, q *queue, g *group, seqs []uint64, fn func(*entry)) Result {
	var bad []uint64
	n := 0
	for _, seq := range seqs {
		e := g.entries[seq]
		if e == nil || e.state != statePending {
			bad = append(bad, seq)
			continue
		}
		fn(e)
		n++
	}
	if n > 0 {
		q.settle(t, g)
		s.rearm(q)
	}
	r := Result{Count: n}
	if len(bad) > 0 {
		r.Err = Errorf(CodeNotPending, "group %q is not awaiting seqs %s", g.name, formatSeqs(bad))
	}
	return r
}

// formatSeqs lists seqs for an error message, at most 10 of them.
func formatSeqs(seqs []uint64) string {
	const show = 10
	var b strings.Builder
	for i, seq := range seqs[:min(show, len(seqs))] {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, seq)
	}
	if len(seqs) > show {
		fmt.Fprintf(&b, " and %d more", len(seqs)-show)
	}
	return b.String()
}

func (s *State) redrive(t *tx, c Redrive) Result {
	q, err := s.lookup(c.Queue)
	if err != nil {
		return failed(err.(*Error))
	}
	var want map[uint64]bool
	if len(c.DLSeqs) > 0 {
		want = make(map[uint64]bool, len(c.DLSeqs))
		for _, seq := range c.DLSeqs {
			want[seq] = true
		}
	}
	touched, n := q.redrive(want)
	if n > 0 {
		slices.SortFunc(touched, func(a, b *group) int { return strings.Compare(a.name, b.name) })
		q.settle(t, touched...)
		s.rearm(q)
	}
	return Result{Count: n}
}

func (s *State) resetNode(t *tx, c ResetNode) Result {
	if c.Node == "" {
		return failed(Errorf(CodeBadCommand, "reset of an empty node name"))
	}
	n := 0
	for _, name := range s.names {
		q := s.queues[name]
		if touched := q.resetNode(t, c.Node, c.Keep); len(touched) > 0 {
			n += len(touched)
			q.settle(t, uniqueGroups(touched)...)
			s.rearm(q)
		}
	}
	return Result{Count: n}
}

// resetNode removes q's members on node whose session is not keep and
// returns their groups (one element per removed member).
func (q *queue) resetNode(t *tx, node, keep string) []*group {
	var touched []*group
	for _, name := range q.names {
		g := q.groups[name]
		for _, m := range slices.Clone(g.members) {
			if m.ref.Node == node && m.ref.Session != keep {
				q.removeMember(t, g, m)
				touched = append(touched, g)
			}
		}
	}
	return touched
}

// uniqueGroups drops adjacent repeats (touched lists are grouped by group).
func uniqueGroups(gs []*group) []*group {
	return slices.Compact(gs)
}

func (s *State) createGroup(t *tx, c CreateGroup) Result {
	q, err := s.lookup(c.Queue)
	if err != nil {
		return failed(err.(*Error))
	}
	if g, ok := q.groups[c.Group]; ok {
		if cfg := c.Config.WithDefaults(q.config.Group); cfg != g.config {
			return failed(Errorf(CodeGroupExists, "group %q exists with other settings", c.Group))
		}
		return Result{Queue: infoPtr(q)}
	}
	if _, err := q.createGroup(c.Group, c.Config); err != nil {
		return failed(err)
	}
	q.dropAcked()
	s.rearm(q)
	return Result{Queue: infoPtr(q)}
}

func (s *State) updateGroup(t *tx, c UpdateGroup) Result {
	q, g, err := s.lookupGroup(c.Queue, c.Group)
	if err != nil {
		return failed(err.(*Error))
	}
	if err := checkMatch("group "+c.Group, c.IfMatch, g.config.ETag()); err != nil {
		return failed(err)
	}
	cfg := c.Config
	if cfg.Start == (Position{}) {
		cfg.Start = g.config.Start
	}
	cfg = cfg.WithDefaults(q.config.Group)
	if err := cfg.Validate(); err != nil {
		return failed(err.(*Error))
	}
	if cfg.Start != g.config.Start {
		return failed(Errorf(CodeBadConfig, "group %q: start applies when a group is created (it has %s); delete and create the group to start elsewhere", c.Group, g.config.Start.Kind))
	}
	g.setConfig(cfg)
	q.deadLetterSpent(t, g)
	q.settle(t, g)
	s.rearm(q)
	return Result{Queue: infoPtr(q)}
}

func (s *State) deleteGroup(t *tx, c DeleteGroup) Result {
	q, g, err := s.lookupGroup(c.Queue, c.Group)
	if err != nil {
		return failed(err.(*Error))
	}
	q.emitRemoved(t, g)
	delete(q.groups, g.name)
	q.names = removeSorted(q.names, g.name)
	q.dropAcked()
	s.rearm(q)
	return Result{}
}
