package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// groupSub is a connection's membership in a consumer group. Deliveries for
// its member id arrive from the hub (under the state's write lock) and are
// queued on the connection without blocking.
//
// opMu serialises the proposals that change the membership (Join, re-Join,
// Leave), so that a Leave is never ordered before the Join it undoes. mu
// guards the delivery state; the hub calls deliver and removed with hub.mu
// held, so mu is taken after hub.mu and never the other way round.
type groupSub struct {
	c      *conn
	id     string
	queue  string
	group  string
	member string
	config queue.GroupConfig

	opMu sync.Mutex

	mu         sync.Mutex
	ready      bool      // the "subscribed" reply is queued: deliveries go straight out
	early      []outItem // deliveries that arrived before the reply
	earlyBytes int64
	closed     bool // unsubscribed or disconnected: deliveries are ignored
	rejoining  bool // a re-join is scheduled
}

func (c *conn) newGroupSub(id string, req *request) *groupSub {
	member := fmt.Sprintf("%s/%s/%d/%s", c.g.b.ID(), c.g.b.Session(), c.num, id)
	return &groupSub{c: c, id: id, queue: req.Queue, group: req.Group, member: member, config: req.group}
}

func (s *groupSub) joinCmd() queue.Join {
	return queue.Join{Queue: s.queue, Group: s.group, Config: s.config,
		Member: queue.MemberRef{ID: s.member, Node: s.c.g.b.ID(), Session: s.c.g.b.Session()}}
}

// start joins the group and answers "subscribed" (before any delivery).
// The member is routed in the hub before Join is proposed, so no delivery
// made by the Join itself is missed.
func (s *groupSub) start(req *request) {
	c := s.c
	s.opMu.Lock()
	defer s.opMu.Unlock()
	err := c.g.ensureQueue(c.ctx, s.queue)
	if err == nil {
		c.g.hub.addMember(s)
		_, err = c.g.propose(c.g.baseCtx, s.joinCmd())
	}
	if err != nil {
		s.abandon(err)
		c.sendError(req.ID, "", toWire(err))
		return
	}
	s.activate(&protocol.Frame{Type: protocol.TypeSubscribed, ID: req.ID, Sub: s.id, Queue: s.queue, Group: s.group})
}

// abandon forgets a member whose join failed; when the Join may have been
// applied anyway, it is left. s.opMu must be held.
func (s *groupSub) abandon(err error) {
	s.markClosed()
	s.c.g.hub.removeMember(s)
	s.c.dropSub(s.id, s)
	if !definite(err) {
		_ = s.leave(s.c.g.baseCtx)
	}
}

// activate queues the reply, then the deliveries that came before it.
func (s *groupSub) activate(reply *protocol.Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.reply(reply)
	for _, it := range s.early {
		if err := s.c.out.push(it); err != nil {
			if errors.Is(err, errOverflow) {
				s.c.slow()
			}
			break
		}
	}
	s.early, s.earlyBytes, s.ready = nil, 0, true
}

// deliver queues a delivery. Called by the hub with hub.mu held; never blocks.
func (s *groupSub) deliver(ev *queue.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || ev.Message == nil {
		return
	}
	it := msgItem(&msgRef{m: ev.Message, sub: s.id, queue: s.queue, group: s.group, attempt: ev.Attempt})
	if !s.ready {
		s.early = append(s.early, it)
		s.earlyBytes += it.size
		if s.earlyBytes > s.c.g.cfg.OutboundBytes {
			s.c.slow()
		}
		return
	}
	if errors.Is(s.c.out.push(it), errOverflow) {
		s.c.slow()
	}
}

// removed reacts to the cluster dropping the member while the connection
// still wants it (a reset of this node's members, a lost race): it joins
// again. Called by the hub with hub.mu held; never blocks.
func (s *groupSub) removed() {
	s.mu.Lock()
	if s.closed || s.rejoining {
		s.mu.Unlock()
		return
	}
	s.rejoining = true
	s.mu.Unlock()
	s.c.spawn(s.rejoin)
}

// Re-join attempts before the subscription is given up with an error frame.
const rejoinAttempts = 5

// rejoin proposes Join again, retrying transient failures with backoff.
func (s *groupSub) rejoin() {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	s.rejoining = false
	s.mu.Unlock()
	var err error
	backoff := 100 * time.Millisecond
	for range rejoinAttempts {
		if s.isClosed() {
			return
		}
		if _, err = s.c.g.propose(s.c.g.baseCtx, s.joinCmd()); err == nil {
			return
		}
		if queue.CodeOf(err) != "" || !s.sleep(backoff) {
			break
		}
		backoff *= 2
	}
	s.c.log.Info("group member could not rejoin", "member", s.member, "err", err)
	s.markClosed()
	s.c.g.hub.removeMember(s)
	s.c.endSub(s.id, s, toWire(err))
}

// sleep waits d unless the connection ends first.
func (s *groupSub) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.c.ctx.Done():
		return false
	}
}

func (s *groupSub) markClosed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.early = nil
}

func (s *groupSub) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// stop leaves the group (unsubscribe, disconnect, shutdown). Its unacked
// messages go back to the group at once.
func (s *groupSub) stop(ctx context.Context) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.isClosed() {
		return nil
	}
	s.markClosed()
	s.c.g.hub.removeMember(s)
	return s.leave(ctx)
}

// leave proposes Leave; a member the group no longer has is fine.
func (s *groupSub) leave(ctx context.Context) error {
	_, err := s.c.g.propose(ctx, queue.Leave{Queue: s.queue, Group: s.group, Member: s.member})
	switch queue.CodeOf(err) {
	case queue.CodeNotMember, queue.CodeQueueNotFound, queue.CodeGroupNotFound:
		return nil
	}
	return err
}
