package queue

import "slices"

// queueHeap orders the queues that have a pending timer by (deadline,
// name), so NextDeadline is O(1) and a Tick visits only due queues.
// Invariant: q.timerPos == i for every h[i] == q; -1 for queues not in it.
type queueHeap []*queue

func (h queueHeap) less(i, j int) bool {
	if h[i].deadline != h[j].deadline {
		return h[i].deadline < h[j].deadline
	}
	return h[i].name < h[j].name
}

func (h queueHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].timerPos, h[j].timerPos = i, j
}

func (h *queueHeap) push(q *queue) {
	q.timerPos = len(*h)
	*h = append(*h, q)
	h.up(q.timerPos)
}

func (h *queueHeap) remove(q *queue) {
	i, last := q.timerPos, len(*h)-1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	q.timerPos = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

func (h queueHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h queueHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			return
		}
		h.swap(i, c)
		i = c
	}
}

// rearm recomputes q's next timer and its place in the timer heap. It runs
// after every command that changed q.
func (s *State) rearm(q *queue) {
	if q.timerPos >= 0 {
		s.timers.remove(q)
	}
	if at, ok := q.nextTimer(); ok {
		q.deadline = at
		s.timers.push(q)
	}
}

// NextDeadline is the earliest time (unix ns) at which a Tick would change
// something; ok is false when no timer is pending. It is O(1). Ack
// deadlines and due times are exact; MaxAge and de-duplication expiry are
// rounded up to whole seconds so that housekeeping ticks stay rare.
func (s *State) NextDeadline() (at int64, ok bool) {
	if len(s.timers) == 0 {
		return 0, false
	}
	return s.timers[0].deadline, true
}

// tick runs the timers of every queue due at t.now, in name order.
func (s *State) tick(t *tx) Result {
	due := s.timers.due(0, t.now, nil)
	slices.Sort(due)
	for _, name := range due {
		q := s.queues[name]
		q.tick(t)
		s.rearm(q)
	}
	return Result{}
}

// due appends the names of the queues in the sub-heap at i whose deadline
// is at or before now; it visits only those and their direct children.
func (h queueHeap) due(i int, now int64, names []string) []string {
	if i >= len(h) || h[i].deadline > now {
		return names
	}
	names = append(names, h[i].name)
	names = h.due(2*i+1, now, names)
	return h.due(2*i+2, now, names)
}
