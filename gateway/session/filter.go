package session

import (
	"slices"

	"github.com/carriermq/carrier/queue"
)

// eventFilter is a subscription's Events: nil lets every message through.
type eventFilter map[string]struct{}

func newEventFilter(events []string) eventFilter {
	if len(events) == 0 {
		return nil
	}
	f := make(eventFilter, len(events))
	for _, e := range events {
		f[e] = struct{}{}
	}
	return f
}

func (f eventFilter) match(event string) bool {
	if f == nil {
		return true
	}
	_, ok := f[event]
	return ok
}

// autoAcks proposes an Ack for the group deliveries of items that the
// writer has just written (AutoAck) or skipped (filtered out), one command
// per subscription. It runs in a spawned goroutine: the writer never waits
// for Raft. A seq that is no longer pending (redelivered elsewhere) is fine.
func (s *Session) autoAcks(items []item) {
	if !slices.ContainsFunc(items, func(it item) bool { return it.ack != nil }) {
		return
	}
	var subs []*groupSub
	seqs := map[*groupSub][]uint64{}
	for i := range items {
		g := items[i].ack
		if g == nil || items[i].msg == nil {
			continue
		}
		if _, ok := seqs[g]; !ok {
			subs = append(subs, g)
		}
		seqs[g] = append(seqs[g], items[i].msg.Msg.Seq)
	}
	for _, g := range subs {
		for part := range slices.Chunk(seqs[g], MaxAckSeqs) {
			s.spawn(func() { g.autoAck(part) })
		}
	}
}

// autoAck acks seqs on behalf of the client.
func (g *groupSub) autoAck(seqs []uint64) {
	if g.isClosed() {
		return
	}
	_, err := g.s.m.node.Propose(g.s.ctx, queue.Ack{Queue: g.queue, Group: g.group, Member: g.member, Seqs: seqs})
	if err != nil && queue.CodeOf(err) != queue.CodeNotPending && g.s.ctx.Err() == nil {
		g.s.logger().Info("auto-ack failed; the messages are redelivered after ackWait", "member", g.member, "err", err)
	}
}
