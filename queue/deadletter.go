package queue

import (
	"cmp"
	"slices"
	"sort"
)

// deadList is a queue's dead-letter queue, in DLSeq order. The DeadLetter
// values are never modified once added, and list is only resliced from the
// front, appended to or replaced, so a captured slice header stays valid.
type deadList struct {
	list []*DeadLetter
	next uint64 // DLSeq of the next dead letter
}

// deadLetter moves e's message to the dead letters and forgets e. The
// history moves with it: e is gone, nobody else holds it.
func (q *queue) deadLetter(t *tx, g *group, e *entry) {
	dl := &DeadLetter{
		DLSeq:      q.dead.next,
		Group:      g.name,
		Message:    q.message(e),
		Deliveries: e.history,
		Time:       t.now,
	}
	q.dead.next++
	g.drop(e)
	q.dead.list = append(q.dead.list, dl)
	q.dead.trim(q.config.MaxDeadLetters)
}

// deadLetterSpent moves to the dead letters, in seq order, every waiting
// (ready or scheduled) entry of g whose attempts reach MaxDeliver: after
// MaxDeliver was lowered, they would otherwise be delivered again. Pending
// ones go at their next failure.
func (q *queue) deadLetterSpent(t *tx, g *group) {
	var spent []*entry
	for _, h := range []*entryHeap{&g.ready, &g.sched} {
		for _, e := range h.es {
			if e.attempts >= g.config.MaxDeliver {
				spent = append(spent, e)
			}
		}
	}
	slices.SortFunc(spent, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
	for _, e := range spent {
		g.detach(e)
		q.deadLetter(t, g, e)
	}
}

// trim drops the oldest dead letters beyond max.
func (d *deadList) trim(max int64) {
	if over := int64(len(d.list)) - max; over > 0 {
		d.list = d.list[over:]
	}
}

// from returns the index of the first dead letter with DLSeq >= seq.
func (d *deadList) from(seq uint64) int {
	return sort.Search(len(d.list), func(i int) bool { return d.list[i].DLSeq >= seq })
}

// redrive moves the dead letters chosen by want (all when nil) back to
// their groups' ready lists with attempts reset and the payload carried.
// A dead letter whose group is gone, or whose group will deliver the seq
// again anyway, stays. It returns the groups that got work and the count.
func (q *queue) redrive(want map[uint64]bool) ([]*group, int) {
	var keep []*DeadLetter
	var touched []*group
	n := 0
	for _, dl := range q.dead.list {
		g := q.groups[dl.Group]
		if (want != nil && !want[dl.DLSeq]) || !canRedrive(g, dl) {
			keep = append(keep, dl)
			continue
		}
		e := g.addEntry(dl.Message.Seq, dl.Message)
		e.history = slices.Clone(dl.Deliveries)
		g.toReady(e)
		touched = appendUnique(touched, g)
		n++
	}
	if n > 0 {
		q.dead.list = keep
	}
	return touched, n
}

func canRedrive(g *group, dl *DeadLetter) bool {
	if g == nil {
		return false
	}
	_, busy := g.entries[dl.Message.Seq]
	return !busy && dl.Message.Seq < g.cursor
}

func appendUnique(gs []*group, g *group) []*group {
	if slices.Contains(gs, g) {
		return gs
	}
	return append(gs, g)
}
