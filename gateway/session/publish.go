package session

import (
	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/queue"
)

// lane serialises one session's publishes to one queue: commands are
// proposed in the order they arrived, and the ones that queued up while a
// proposal was in flight go together into the next Publish command. That
// keeps a pipelining producer's order and puts many messages behind each
// commit. pending is guarded by Session.mu.
type lane struct {
	queue   string
	pending []*Publish
}

// publish queues p on its queue's lane, starting the lane if idle. It
// takes a request slot, released when the reply is queued.
func (s *Session) publish(p *Publish) {
	if !s.acquire() {
		return
	}
	s.mu.Lock()
	l := s.lanes[p.Queue]
	idle := l == nil
	if idle {
		l = &lane{queue: p.Queue}
		s.lanes[p.Queue] = l
	}
	l.pending = append(l.pending, p)
	s.mu.Unlock()
	if idle && !s.spawn(func() { s.runLane(l) }) {
		s.release()
	}
}

// runLane proposes the lane's commands until none is left.
func (s *Session) runLane(l *lane) {
	for {
		ps := s.takeLane(l)
		if ps == nil {
			return
		}
		s.publishBatch(l.queue, ps)
		for range ps {
			s.release()
		}
	}
}

// takeLane takes the next commands to propose together (at least one,
// then as many as fit in MaxBatch messages and 2×MaxFrameBytes), or
// retires the lane and returns nil when it is empty.
func (s *Session) takeLane(l *lane) []*Publish {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(l.pending) == 0 {
		delete(s.lanes, l.queue)
		return nil
	}
	n, msgs, size := 0, 0, int64(0)
	for _, p := range l.pending {
		ps := messagesSize(p.Msgs)
		if n > 0 && (msgs+len(p.Msgs) > s.m.cfg.MaxBatch || size+ps > 2*s.m.cfg.MaxFrameBytes) {
			break
		}
		n, msgs, size = n+1, msgs+len(p.Msgs), size+ps
	}
	ps := l.pending[:n:n]
	l.pending = l.pending[n:]
	return ps
}

func messagesSize(msgs []*queue.Message) int64 {
	var n int64
	for _, m := range msgs {
		n += m.Size()
	}
	return n
}

// publishBatch proposes the messages of ps as one command and answers each.
func (s *Session) publishBatch(name string, ps []*Publish) {
	var msgs []*queue.Message
	for _, p := range ps {
		msgs = append(msgs, p.Msgs...)
	}
	acks, err := s.m.node.Publish(s.ctx, name, msgs)
	for _, p := range ps {
		var part []queue.PublishAck
		if err == nil {
			part, acks = acks[:len(p.Msgs)], acks[len(p.Msgs):]
		}
		s.replyPublish(p, part, err)
	}
}

// replyPublish answers one publish: ReplyPublished when it has an id, an
// error when it failed (for a batch without an id, one error that counts
// the failures).
func (s *Session) replyPublish(p *Publish, acks []queue.PublishAck, err error) {
	switch {
	case err != nil:
		s.sendError(p.ID, "", apierr.From(err))
	case !p.Batch && acks[0].Err != nil:
		s.sendError(p.ID, "", apierr.From(acks[0].Err))
	case p.ID != "":
		s.reply(&Reply{Kind: ReplyPublished, ID: p.ID, Queue: p.Queue, Acks: acks, Batch: p.Batch})
	case p.Batch:
		if failed, first := failures(acks); failed > 0 {
			s.sendError("", "", apierr.Errorf(first.Code, "%d of %d messages failed; the first: %s", failed, len(acks), first.Message))
		}
	}
}

// failures counts the messages that failed and returns the first failure.
func failures(acks []queue.PublishAck) (int, *apierr.Error) {
	failed := 0
	var first *apierr.Error
	for _, a := range acks {
		if a.Err == nil {
			continue
		}
		failed++
		if first == nil {
			first = apierr.From(a.Err)
		}
	}
	return failed, first
}
