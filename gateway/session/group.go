package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/queue"
)

// groupSub is a session's membership in a consumer group. Deliveries for
// its member id arrive from the hub (under the state's write lock) and are
// queued on the session without blocking.
//
// opMu serialises the proposals that change the membership (Join, re-Join,
// Leave), so that a Leave is never ordered before the Join it undoes. mu
// guards the delivery state; the hub calls deliver and removed with hub.mu
// held, so mu is taken after hub.mu and never the other way round.
type groupSub struct {
	s      *Session
	id     string
	queue  string
	group  string
	member string
	config queue.GroupConfig
	filter eventFilter
	auto   bool // AutoAck

	opMu sync.Mutex

	mu         sync.Mutex
	ready      bool   // the "subscribed" reply is queued: deliveries go straight out
	early      []item // deliveries that arrived before the reply
	earlyBytes int64
	closed     bool // unsubscribed or disconnected: deliveries are ignored
	rejoining  bool // a re-join is scheduled
}

func (s *Session) newGroupSub(id string, cmd *Subscribe) *groupSub {
	n := s.m.node
	member := fmt.Sprintf("%s/%s/%d/%s", n.ID(), n.Session(), s.num, id)
	return &groupSub{s: s, id: id, queue: cmd.Queue, group: cmd.Group, member: member, config: cmd.Config,
		filter: newEventFilter(cmd.Events), auto: cmd.AutoAck}
}

func (g *groupSub) joinCmd() queue.Join {
	n := g.s.m.node
	return queue.Join{Queue: g.queue, Group: g.group, Config: g.config,
		Member: queue.MemberRef{ID: g.member, Node: n.ID(), Session: n.Session()}}
}

// start joins the group and answers ReplySubscribed (before any delivery)
// to command reqID. The member is routed in the hub before Join is
// proposed, so no delivery made by the Join itself is missed.
func (g *groupSub) start(reqID string) {
	s, m := g.s, g.s.m
	g.opMu.Lock()
	defer g.opMu.Unlock()
	err := m.node.EnsureQueue(s.ctx, g.queue)
	if err == nil {
		m.hub.addMember(g)
		_, err = m.node.Propose(m.baseCtx, g.joinCmd())
	}
	if err != nil {
		g.abandon(err)
		s.sendError(reqID, "", apierr.From(err))
		return
	}
	g.activate(&Reply{Kind: ReplySubscribed, ID: reqID, Sub: g.id, Queue: g.queue, Group: g.group})
}

// abandon forgets a member whose join failed; when the Join may have been
// applied anyway, it is left. g.opMu must be held.
func (g *groupSub) abandon(err error) {
	g.markClosed()
	g.s.m.hub.removeMember(g)
	g.s.dropSub(g.id, g)
	if !apierr.Definite(err) {
		_ = g.leave(g.s.m.baseCtx)
	}
}

// activate queues the reply, then the deliveries that came before it.
func (g *groupSub) activate(reply *Reply) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.s.reply(reply)
	for _, it := range g.early {
		if err := g.s.out.push(it); err != nil {
			if errors.Is(err, errOverflow) {
				g.s.slow()
			}
			break
		}
	}
	g.early, g.earlyBytes, g.ready = nil, 0, true
}

// deliver queues a delivery. Called by the hub with hub.mu held; never blocks.
func (g *groupSub) deliver(ev *queue.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || ev.Message == nil {
		return
	}
	it := deliveryItem(&Delivery{Msg: ev.Message, Sub: g.id, Queue: g.queue, Group: g.group, Attempt: ev.Attempt})
	if it.skip = !g.filter.match(ev.Message.Event); it.skip || g.auto {
		it.ack = g
	}
	if !g.ready {
		g.early = append(g.early, it)
		g.earlyBytes += it.size
		if g.earlyBytes > g.s.m.cfg.OutboundBytes {
			g.s.slow()
		}
		return
	}
	if errors.Is(g.s.out.push(it), errOverflow) {
		g.s.slow()
	}
}

// removed reacts to the cluster dropping the member while the session
// still wants it (a reset of this node's members, a lost race): it joins
// again. Called by the hub with hub.mu held; never blocks.
func (g *groupSub) removed() {
	g.mu.Lock()
	if g.closed || g.rejoining {
		g.mu.Unlock()
		return
	}
	g.rejoining = true
	g.mu.Unlock()
	g.s.spawn(g.rejoin)
}

// Re-join attempts before the subscription is given up with an error frame.
const rejoinAttempts = 5

// rejoin proposes Join again, retrying transient failures with backoff.
func (g *groupSub) rejoin() {
	g.opMu.Lock()
	defer g.opMu.Unlock()
	g.mu.Lock()
	g.rejoining = false
	g.mu.Unlock()
	m := g.s.m
	var err error
	backoff := 100 * time.Millisecond
	for range rejoinAttempts {
		if g.isClosed() {
			return
		}
		if _, err = m.node.Propose(m.baseCtx, g.joinCmd()); err == nil {
			return
		}
		if queue.CodeOf(err) != "" || !g.sleep(backoff) {
			break
		}
		backoff *= 2
	}
	g.s.logger().Info("group member could not rejoin", "member", g.member, "err", err)
	g.markClosed()
	m.hub.removeMember(g)
	g.s.endSub(g.id, g, apierr.From(err))
}

// sleep waits d unless the session ends first.
func (g *groupSub) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-g.s.ctx.Done():
		return false
	}
}

// active: joined (its subscribe answered), not closed, no re-join
// scheduled: its member should be in the state.
func (g *groupSub) active() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ready && !g.closed && !g.rejoining
}

func (g *groupSub) markClosed() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	g.early = nil
}

func (g *groupSub) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// stop leaves the group (unsubscribe, disconnect, shutdown). Its unacked
// messages go back to the group at once.
func (g *groupSub) stop(ctx context.Context) error {
	g.opMu.Lock()
	defer g.opMu.Unlock()
	if g.isClosed() {
		return nil
	}
	g.markClosed()
	g.s.m.hub.removeMember(g)
	return g.leave(ctx)
}

// leave proposes Leave; a member the group no longer has is fine.
func (g *groupSub) leave(ctx context.Context) error {
	_, err := g.s.m.node.Propose(ctx, queue.Leave{Queue: g.queue, Group: g.group, Member: g.member})
	switch queue.CodeOf(err) {
	case queue.CodeNotMember, queue.CodeQueueNotFound, queue.CodeGroupNotFound:
		return nil
	}
	return err
}
