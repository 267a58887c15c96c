package session

import (
	"sync"

	"github.com/carriermq/carrier/queue"
)

// Hub routes the node's applied events to the sessions' subscriptions:
// deliveries and member removals to group subscriptions by member id,
// appends and purges/deletions to live tails by queue. It is the
// cluster.Observer (and RestoreObserver) of one Manager's sessions.
//
// OnApply runs on the node's apply goroutine under the state's write lock,
// so everything it calls must not block: subscriptions only queue work.
// Lock order: state lock → hub.mu → subscription locks → outbound.mu.
// Never call Node.View or Propose while holding hub.mu.
type Hub struct {
	mu      sync.Mutex
	members map[string]*groupSub
	tails   map[string]map[*tailSub]struct{}
	// restored wakes the manager's member check (capacity 1, never blocks).
	restored chan struct{}
}

func newHub() *Hub {
	return &Hub{members: map[string]*groupSub{}, tails: map[string]map[*tailSub]struct{}{}, restored: make(chan struct{}, 1)}
}

// OnApply implements cluster.Observer.
func (h *Hub) OnApply(events []queue.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range events {
		h.dispatch(&events[i])
	}
}

// OnRestore implements cluster.RestoreObserver: the state was replaced by a
// snapshot, so every live tail replays from its position (otherwise the
// messages the snapshot brought would be skipped). Group members: what the
// restored state assigned to them and this node did not deliver is
// redelivered after ackWait, as after any lost delivery; but a member the
// restored state no longer has (removed while this node was behind: no
// EventMemberRemoved came) must join again, which the manager's member
// check does, woken here at once (it must not run under the state lock).
func (h *Hub) OnRestore() {
	select {
	case h.restored <- struct{}{}:
	default:
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for q, set := range h.tails {
		for t := range set {
			t.restored()
		}
		delete(h.tails, q)
	}
}

func (h *Hub) dispatch(ev *queue.Event) {
	switch ev.Kind {
	case queue.EventDeliver:
		if s := h.members[ev.Member]; s != nil {
			s.deliver(ev)
		}
	case queue.EventMemberRemoved:
		if s := h.members[ev.Member]; s != nil {
			s.removed()
		}
	case queue.EventAppended:
		for t := range h.tails[ev.Queue] {
			if !t.offer(ev.Messages) {
				h.dropTail(t)
			}
		}
	case queue.EventQueuePurged:
		for t := range h.tails[ev.Queue] {
			t.purged(ev.Seq)
		}
	case queue.EventQueueDeleted:
		for t := range h.tails[ev.Queue] {
			t.deleted()
		}
		delete(h.tails, ev.Queue)
	}
}

// addMember routes deliveries for s.member to s.
func (h *Hub) addMember(s *groupSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.members[s.member] = s
}

// groupSubs returns the group subscriptions routed now.
func (h *Hub) groupSubs() []*groupSub {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*groupSub, 0, len(h.members))
	for _, g := range h.members {
		out = append(out, g)
	}
	return out
}

// removeMember stops routing to s (if s is still the registered one).
func (h *Hub) removeMember(s *groupSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.members[s.member] == s {
		delete(h.members, s.member)
	}
}

// addTail makes t live. It must be called inside Node.View, at the
// moment t has read everything stored: no append can be applied between
// that read and this registration, so the tail sees no gap and no duplicate.
func (h *Hub) addTail(t *tailSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.tails[t.queue]
	if set == nil {
		set = map[*tailSub]struct{}{}
		h.tails[t.queue] = set
	}
	set[t] = struct{}{}
}

// removeTail stops routing to t.
func (h *Hub) removeTail(t *tailSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropTail(t)
}

// dropTail removes t. h.mu must be held.
func (h *Hub) dropTail(t *tailSub) {
	set := h.tails[t.queue]
	delete(set, t)
	if len(set) == 0 {
		delete(h.tails, t.queue)
	}
}
