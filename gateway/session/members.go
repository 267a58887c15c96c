package session

import (
	"slices"
	"time"

	"github.com/carriermq/carrier/queue"
)

// membersCheckEvery is how often the manager checks that every group
// member its sessions hold is still a member in the applied state.
const membersCheckEvery = 2 * time.Second

// watchMembers runs checkMembers every membersCheckEvery, and at once after
// a snapshot replaced the state, until the manager's base context ends.
//
// Why, beside the hub's EventMemberRemoved: a member can be removed by
// events this node never sees one by one. A snapshot installed on a node
// that fell behind (cut off or paused for some seconds while the others
// compacted their logs) replaces the state wholesale, and with it the
// removals of this node's members that the others made meanwhile (a
// ResetNode when gossip declared it dead). The sessions' edge-triggered
// re-join then never ran: the member was gone from the cluster while its
// session and its client waited for deliveries that could never come (the
// fault suite's partitions held 10 s ended with every group at 0 members
// and tens of thousands of messages pending). The check is level-triggered,
// so a member missing for any reason joins again. A Join of a member that
// is there is a no-op.
func (m *Manager) watchMembers() {
	defer close(m.watchDone)
	t := time.NewTicker(membersCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-m.baseCtx.Done():
			return
		case <-t.C:
			m.checkMembers()
		case <-m.hub.restored:
			m.checkMembers()
		}
	}
}

// checkMembers re-joins every active member of this node's sessions that
// the applied state does not have.
func (m *Manager) checkMembers() {
	subs := m.hub.groupSubs()
	if len(subs) == 0 {
		return
	}
	var missing []*groupSub
	m.node.View(func(s *queue.State) {
		for _, g := range subs {
			if g.active() && !hasMember(s, g) {
				missing = append(missing, g)
			}
		}
	})
	for _, g := range missing {
		m.log.Info("group member missing from the applied state; joining again", "queue", g.queue, "group", g.group, "member", g.member)
		g.removed()
	}
}

// hasMember reports whether g's member is in its group, or the group or
// queue is gone (their deletion ends the subscription by its own events).
func hasMember(s *queue.State, g *groupSub) bool {
	refs, err := s.Members(g.queue, g.group)
	if err != nil {
		return true
	}
	return slices.ContainsFunc(refs, func(r queue.MemberRef) bool { return r.ID == g.member })
}
