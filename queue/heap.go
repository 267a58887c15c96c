package queue

// entryHeap is an indexed binary min-heap of a group's entries. Each entry
// records its position in up to two heaps (pos[slot]) so that any entry can
// be removed in O(log n). Ordering is total (ties broken by seq), so pops
// are deterministic whatever the insertion order.
type entryHeap struct {
	es   []*entry
	byAt bool // order by (at, seq) rather than by seq
	slot int  // which of entry.pos this heap maintains
}

// Invariant: e.pos[h.slot] == i for every h.es[i] == e; an entry not in any
// heap of a slot has pos[slot] == -1.

func (h *entryHeap) Len() int { return len(h.es) }

// Min returns the smallest entry, or nil when empty.
func (h *entryHeap) Min() *entry {
	if len(h.es) == 0 {
		return nil
	}
	return h.es[0]
}

func (h *entryHeap) less(a, b *entry) bool {
	if h.byAt && a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// Push adds e, which must not be in a heap of this slot.
func (h *entryHeap) Push(e *entry) {
	e.pos[h.slot] = len(h.es)
	h.es = append(h.es, e)
	h.up(len(h.es) - 1)
}

// Pop removes and returns the smallest entry.
func (h *entryHeap) Pop() *entry {
	e := h.es[0]
	h.Remove(e)
	return e
}

// Remove takes e out of the heap; e must be in it.
func (h *entryHeap) Remove(e *entry) {
	i := e.pos[h.slot]
	last := len(h.es) - 1
	if i != last {
		h.swap(i, last)
	}
	h.es[last] = nil
	h.es = h.es[:last]
	e.pos[h.slot] = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

func (h *entryHeap) swap(i, j int) {
	h.es[i], h.es[j] = h.es[j], h.es[i]
	h.es[i].pos[h.slot] = i
	h.es[j].pos[h.slot] = j
}

func (h *entryHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(h.es[i], h.es[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *entryHeap) down(i int) {
	n := len(h.es)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h.less(h.es[r], h.es[l]) {
			c = r
		}
		if !h.less(h.es[c], h.es[i]) {
			return
		}
		h.swap(i, c)
		i = c
	}
}
