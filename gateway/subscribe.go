package gateway

import (
	"slices"

	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// subscribe registers a new subscription (checking the per-connection
// limit in frame order) and starts it in a request handler.
func (c *conn) subscribe(req *request) {
	c.mu.Lock()
	if len(c.subs) >= c.g.cfg.MaxSubscriptions {
		c.mu.Unlock()
		c.sendError(req.ID, "", errf(protocol.CodeTooManySubs,
			"a connection may hold %d subscriptions", c.g.cfg.MaxSubscriptions))
		return
	}
	c.nextSub++
	id := itoa(c.nextSub)
	var start func()
	if req.Group != "" {
		s := c.newGroupSub(id, req)
		c.subs[id], start = s, func() { s.start(req) }
	} else {
		t := c.newTailSub(id, req)
		c.subs[id], start = t, func() { t.start(req) }
	}
	c.mu.Unlock()
	c.goRequest(start)
}

// dropSub forgets subscription id if it is still s.
func (c *conn) dropSub(id string, s subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs[id] == s {
		delete(c.subs, id)
	}
}

// endSub forgets a subscription the server ended and tells the client why.
func (c *conn) endSub(id string, s subscription, e *wireError) {
	c.dropSub(id, s)
	c.sendError("", id, e)
}

// unsubscribe ends a subscription; a group member leaves its group.
func (c *conn) unsubscribe(req *request) {
	c.mu.Lock()
	s := c.subs[req.Sub]
	delete(c.subs, req.Sub)
	c.mu.Unlock()
	if s == nil {
		c.sendError(req.ID, req.Sub, errf(protocol.CodeUnknownSub, "no subscription %q on this connection", clip(req.Sub)))
		return
	}
	if err := s.stop(c.ctx); err != nil {
		c.sendError(req.ID, req.Sub, toWire(err))
		return
	}
	if req.ID != "" {
		c.reply(&protocol.Frame{Type: protocol.TypeUnsubscribed, ID: req.ID, Sub: req.Sub})
	}
}

// groupSubOf finds the group subscription an ack or nack names.
func (c *conn) groupSubOf(sub string) (*groupSub, *wireError) {
	c.mu.Lock()
	s := c.subs[sub]
	c.mu.Unlock()
	switch s := s.(type) {
	case *groupSub:
		return s, nil
	case nil:
		return nil, errf(protocol.CodeUnknownSub, "no subscription %q on this connection", clip(sub))
	}
	return nil, errf(protocol.CodeBadRequest, "subscription %q is a tail: only group deliveries are acked", clip(sub))
}

// ack proposes an Ack or Nack for the request's seqs and answers it.
func (c *conn) ack(req *request) {
	s, werr := c.groupSubOf(req.Sub)
	if werr != nil {
		c.sendError(req.ID, req.Sub, werr)
		return
	}
	var cmd queue.Command = queue.Ack{Queue: s.queue, Group: s.group, Member: s.member, Seqs: req.seqs}
	typ := protocol.TypeAcked
	if req.Type == protocol.TypeNack {
		cmd = queue.Nack{Queue: s.queue, Group: s.group, Member: s.member, Seqs: req.seqs, Delay: req.delay}
		typ = protocol.TypeNacked
	}
	var before []uint64 // to name the seqs of a partial not_pending
	if len(req.seqs) > 1 {
		c.g.b.View(func(st *queue.State) { before, _ = st.Unacked(s.queue, s.group, s.member) })
	}
	if _, err := c.g.propose(c.ctx, cmd); err != nil {
		f := errorFrame(req.ID, req.Sub, toWire(err))
		if queue.CodeOf(err) == queue.CodeNotPending {
			f.Seqs = notIn(req.seqs, before)
		}
		c.reply(f)
		return
	}
	if req.ID != "" {
		c.reply(&protocol.Frame{Type: typ, ID: req.ID, Sub: req.Sub, Seqs: req.seqs})
	}
}

// notIn lists the seqs not in set (the ones not awaiting an ack).
func notIn(seqs, set []uint64) []uint64 {
	var out []uint64
	for _, s := range seqs {
		if !slices.Contains(set, s) {
			out = append(out, s)
		}
	}
	return out
}
