package session

import (
	"slices"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// subscribe registers a new subscription (checking the per-session limit
// in command order) and starts it in a command handler.
func (s *Session) subscribe(cmd *Subscribe) {
	s.mu.Lock()
	if len(s.subs) >= s.m.cfg.MaxSubscriptions {
		s.mu.Unlock()
		s.sendError(cmd.ID, "", apierr.Errorf(protocol.CodeTooManySubs,
			"a connection may hold %d subscriptions", s.m.cfg.MaxSubscriptions))
		return
	}
	s.nextSub++
	id := itoa(s.nextSub)
	var start func()
	if cmd.Group != "" {
		g := s.newGroupSub(id, cmd)
		s.subs[id], start = g, func() { g.start(cmd.ID) }
	} else {
		t := s.newTailSub(id, cmd)
		s.subs[id], start = t, func() { t.start(cmd.ID) }
	}
	s.mu.Unlock()
	s.goRequest(start)
}

// dropSub forgets subscription id if it is still sub.
func (s *Session) dropSub(id string, sub subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs[id] == sub {
		delete(s.subs, id)
	}
}

// endSub forgets a subscription the server ended and tells the client why.
func (s *Session) endSub(id string, sub subscription, e *apierr.Error) {
	s.dropSub(id, sub)
	s.sendError("", id, e)
}

// unsubscribe ends a subscription; a group member leaves its group.
func (s *Session) unsubscribe(cmd *Unsubscribe) {
	s.mu.Lock()
	sub := s.subs[cmd.Sub]
	delete(s.subs, cmd.Sub)
	s.mu.Unlock()
	if sub == nil {
		s.sendError(cmd.ID, cmd.Sub, unknownSub(cmd.Sub))
		return
	}
	if err := sub.stop(s.ctx); err != nil {
		s.sendError(cmd.ID, cmd.Sub, apierr.From(err))
		return
	}
	if cmd.ID != "" {
		s.reply(&Reply{Kind: ReplyUnsubscribed, ID: cmd.ID, Sub: cmd.Sub})
	}
}

func unknownSub(sub string) *apierr.Error {
	return apierr.Errorf(protocol.CodeUnknownSub, "no subscription %q on this connection", apierr.Clip(sub))
}

// groupSubOf finds the group subscription an ack or nack names.
func (s *Session) groupSubOf(sub string) (*groupSub, *apierr.Error) {
	s.mu.Lock()
	found := s.subs[sub]
	s.mu.Unlock()
	switch g := found.(type) {
	case *groupSub:
		return g, nil
	case nil:
		return nil, unknownSub(sub)
	}
	return nil, apierr.Errorf(protocol.CodeBadRequest, "subscription %q is a tail: only group deliveries are acked", apierr.Clip(sub))
}

// ack proposes an Ack or Nack for the command's seqs and answers it.
func (s *Session) ack(cmd *Ack) {
	g, e := s.groupSubOf(cmd.Sub)
	if e != nil {
		s.sendError(cmd.ID, cmd.Sub, e)
		return
	}
	var qc queue.Command = queue.Ack{Queue: g.queue, Group: g.group, Member: g.member, Seqs: cmd.Seqs}
	kind := ReplyAcked
	if cmd.Nack {
		qc = queue.Nack{Queue: g.queue, Group: g.group, Member: g.member, Seqs: cmd.Seqs, Delay: cmd.Delay}
		kind = ReplyNacked
	}
	var before []uint64 // to name the seqs of a partial not_pending
	if len(cmd.Seqs) > 1 {
		s.m.node.View(func(st *queue.State) { before, _ = st.Unacked(g.queue, g.group, g.member) })
	}
	if _, err := s.m.node.Propose(s.ctx, qc); err != nil {
		r := errorReply(cmd.ID, cmd.Sub, apierr.From(err))
		if queue.CodeOf(err) == queue.CodeNotPending {
			r.Seqs = notIn(cmd.Seqs, before)
		}
		s.reply(r)
		return
	}
	if cmd.ID != "" {
		s.reply(&Reply{Kind: kind, ID: cmd.ID, Sub: cmd.Sub, Seqs: cmd.Seqs})
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
