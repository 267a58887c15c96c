package queue

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// checkInvariants verifies every internal invariant the state machine
// relies on. Tests call it after each applied entry.
func checkInvariants(s *State) error {
	if !slices.IsSorted(s.names) || !slices.Equal(s.names, slices.Sorted(maps.Keys(s.queues))) {
		return errors.New("queue names out of sync")
	}
	if err := checkTimers(s); err != nil {
		return err
	}
	total := int64(0)
	for _, name := range s.names {
		if err := checkQueue(s.queues[name]); err != nil {
			return fmt.Errorf("queue %s: %w", name, err)
		}
		total += s.queues[name].store.Bytes()
	}
	if total != s.books.total {
		return fmt.Errorf("totalBytes %d, stores hold %d", s.books.total, total)
	}
	return nil
}

func checkTimers(s *State) error {
	for i, q := range s.timers {
		if q.timerPos != i {
			return fmt.Errorf("timer heap position of %s: %d, want %d", q.name, q.timerPos, i)
		}
		if i > 0 && s.timers.less(i, (i-1)/2) {
			return fmt.Errorf("timer heap order broken at %d", i)
		}
	}
	for _, q := range s.queues {
		at, ok := q.nextTimer()
		if ok != (q.timerPos >= 0) || (ok && (at != q.deadline || s.timers[q.timerPos] != q)) {
			return fmt.Errorf("queue %s: timer %d,%v but heap says %d at %d", q.name, at, ok, q.deadline, q.timerPos)
		}
	}
	return nil
}

func checkQueue(q *queue) error {
	checks := []func(*queue) error{checkStore, checkDedupIndex, checkDeadList, checkRetention}
	for _, c := range checks {
		if err := c(q); err != nil {
			return err
		}
	}
	if !slices.Equal(q.names, slices.Sorted(maps.Keys(q.groups))) {
		return errors.New("group names out of sync")
	}
	for _, name := range q.names {
		if err := checkGroup(q, q.groups[name]); err != nil {
			return fmt.Errorf("group %s: %w", name, err)
		}
	}
	return nil
}

func checkStore(q *queue) error {
	st := q.store
	msgs, _ := st.Read(0, int(st.Len())+1)
	if int64(len(msgs)) != st.Len() {
		return fmt.Errorf("store read %d of %d", len(msgs), st.Len())
	}
	var bytes int64
	for i, m := range msgs {
		if m.Seq != st.FirstSeq()+uint64(i) || (i > 0 && m.Time < msgs[i-1].Time) {
			return fmt.Errorf("store message %d out of order", m.Seq)
		}
		bytes += m.Size()
	}
	switch {
	case bytes != st.Bytes():
		return fmt.Errorf("store bytes %d, want %d", st.Bytes(), bytes)
	case st.LastSeq() > q.lastSeq:
		return fmt.Errorf("store last %d beyond queue last %d", st.LastSeq(), q.lastSeq)
	case st.Len() > q.config.MaxMessages || st.Bytes() > q.config.MaxBytes:
		return fmt.Errorf("store over limits: %d messages, %d bytes", st.Len(), st.Bytes())
	}
	return nil
}

func checkDedupIndex(q *queue) error {
	d := q.dedup
	if len(d.ids) != len(d.fifo) || len(d.fifo) > MaxDedupIDs {
		return fmt.Errorf("dedup: %d ids, %d records", len(d.ids), len(d.fifo))
	}
	for i, r := range d.fifo {
		if d.ids[r.id] != r || (i > 0 && r.time < d.fifo[i-1].time) {
			return fmt.Errorf("dedup record %d (%s) out of sync", i, r.id)
		}
	}
	return nil
}

func checkDeadList(q *queue) error {
	if int64(len(q.dead.list)) > q.config.MaxDeadLetters {
		return fmt.Errorf("%d dead letters over the limit", len(q.dead.list))
	}
	for i, dl := range q.dead.list {
		if dl.DLSeq >= q.dead.next || (i > 0 && dl.DLSeq <= q.dead.list[i-1].DLSeq) || dl.Message == nil {
			return fmt.Errorf("dead letter %d out of order", dl.DLSeq)
		}
	}
	return nil
}

func checkRetention(q *queue) error {
	if q.config.Retention != RetentionWorkqueue || len(q.names) == 0 || q.store.Len() == 0 {
		return nil
	}
	for _, name := range q.names {
		if q.groups[name].floor() < q.store.FirstSeq() {
			return nil
		}
	}
	return fmt.Errorf("workqueue keeps %d, which every group is done with", q.store.FirstSeq())
}

func checkGroup(q *queue, g *group) error {
	if g.cursor < q.firstStored() {
		return fmt.Errorf("cursor %d before first stored %d", g.cursor, q.firstStored())
	}
	if err := checkHeaps(g); err != nil {
		return err
	}
	for seq, e := range g.entries {
		if err := checkEntryState(q, g, seq, e); err != nil {
			return fmt.Errorf("entry %d: %w", seq, err)
		}
	}
	return checkMembers(g)
}

func checkHeaps(g *group) error {
	if g.live.Len()+g.carried.Len() != len(g.entries) ||
		g.ready.Len()+g.acks.Len()+g.sched.Len() != len(g.entries) {
		return fmt.Errorf("heaps hold %d+%d and %d+%d+%d entries, map %d",
			g.live.Len(), g.carried.Len(), g.ready.Len(), g.acks.Len(), g.sched.Len(), len(g.entries))
	}
	for _, h := range []*entryHeap{&g.live, &g.carried, &g.ready, &g.acks, &g.sched} {
		for i, e := range h.es {
			if e.pos[h.slot] != i || g.entries[e.seq] != e || (i > 0 && h.less(e, h.es[(i-1)/2])) {
				return fmt.Errorf("heap slot %d broken at %d (seq %d)", h.slot, i, e.seq)
			}
		}
	}
	return nil
}

func checkEntryState(q *queue, g *group, seq uint64, e *entry) error {
	want := map[entryState]*entryHeap{stateReady: &g.ready, statePending: &g.acks, stateScheduled: &g.sched}[e.state]
	seqHeap := &g.live
	if e.msg != nil {
		seqHeap = &g.carried
	}
	switch {
	case e.seq != seq || seq >= g.cursor:
		return fmt.Errorf("seq %d, cursor %d", e.seq, g.cursor)
	case want == nil || want.es[e.pos[1]] != e || seqHeap.es[e.pos[0]] != e:
		return fmt.Errorf("not in the heaps of state %d", e.state)
	case (e.state == statePending) != (e.member != nil):
		return errors.New("member set iff pending")
	case e.state == statePending && (e.member.pending[seq] != e || len(e.history) == 0 || e.attempts < 1):
		return errors.New("pending entry not in its member or without history")
	case e.state != statePending && e.attempts >= g.config.MaxDeliver: // a pending one may exceed a MaxDeliver lowered since its delivery
		return fmt.Errorf("%d attempts", e.attempts)
	case len(e.history) > maxHistory:
		return fmt.Errorf("%d history records", len(e.history))
	case e.msg == nil && (q.store.Len() == 0 || seq < q.store.FirstSeq() || seq > q.store.LastSeq()):
		return errors.New("live entry for a message not stored")
	case e.msg != nil && e.msg.Seq != seq:
		return errors.New("carried message with another seq")
	}
	return nil
}

func checkMembers(g *group) error {
	open := 0
	if len(g.members) != len(g.byID) || len(g.members) > MaxMembersPerGroup {
		return errors.New("members and byID differ")
	}
	for _, m := range g.members {
		// len(m.pending) may exceed a MaxInFlight lowered since (UpdateGroup).
		if g.byID[m.ref.ID] != m {
			return fmt.Errorf("member %s inconsistent", m.ref.ID)
		}
		for seq, e := range m.pending {
			if g.entries[seq] != e || e.member != m {
				return fmt.Errorf("member %s pending %d inconsistent", m.ref.ID, seq)
			}
		}
		if len(m.pending) < g.config.MaxInFlight {
			open++
		}
	}
	if open != g.open || (len(g.members) > 0 && g.rr >= len(g.members)) || (len(g.members) == 0 && g.rr != 0) {
		return fmt.Errorf("open %d (want %d) or rr %d out of range", g.open, open, g.rr)
	}
	return nil
}
