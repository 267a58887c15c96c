package gateway

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"

	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// lane serialises one connection's publishes to one queue: requests are
// proposed in the order they arrived, and the ones that queued up while a
// proposal was in flight go together into the next Publish command. That
// keeps a pipelining producer's order and puts many messages behind each
// commit. pending is guarded by conn.mu.
type lane struct {
	queue   string
	pending []*request
}

// publish queues req on its queue's lane, starting the lane if idle. It
// takes a request slot, released when the reply is queued.
func (c *conn) publish(req *request) {
	if !c.acquire() {
		return
	}
	fillIDs(req.msgs)
	c.mu.Lock()
	l := c.lanes[req.Queue]
	idle := l == nil
	if idle {
		l = &lane{queue: req.Queue}
		c.lanes[req.Queue] = l
	}
	l.pending = append(l.pending, req)
	c.mu.Unlock()
	if idle && !c.spawn(func() { c.runLane(l) }) {
		c.release()
	}
}

// runLane proposes the lane's requests until none is left.
func (c *conn) runLane(l *lane) {
	for {
		reqs := c.takeLane(l)
		if reqs == nil {
			return
		}
		c.publishBatch(l.queue, reqs)
		for range reqs {
			c.release()
		}
	}
}

// takeLane takes the next requests to propose together (at least one,
// then as many as fit in MaxBatch messages and 2×MaxFrameBytes), or
// retires the lane and returns nil when it is empty.
func (c *conn) takeLane(l *lane) []*request {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(l.pending) == 0 {
		delete(c.lanes, l.queue)
		return nil
	}
	n, msgs, size := 0, 0, int64(0)
	for _, r := range l.pending {
		rs := messagesSize(r.msgs)
		if n > 0 && (msgs+len(r.msgs) > c.g.cfg.MaxBatch || size+rs > 2*c.g.cfg.MaxFrameBytes) {
			break
		}
		n, msgs, size = n+1, msgs+len(r.msgs), size+rs
	}
	reqs := l.pending[:n:n]
	l.pending = l.pending[n:]
	return reqs
}

func messagesSize(msgs []*queue.Message) int64 {
	var n int64
	for _, m := range msgs {
		n += m.Size()
	}
	return n
}

// publishBatch proposes the messages of reqs as one command and answers each.
func (c *conn) publishBatch(name string, reqs []*request) {
	var msgs []*queue.Message
	for _, r := range reqs {
		msgs = append(msgs, r.msgs...)
	}
	acks, err := c.g.publish(c.ctx, name, msgs)
	for _, r := range reqs {
		var part []queue.PublishAck
		if err == nil {
			part, acks = acks[:len(r.msgs)], acks[len(r.msgs):]
		}
		c.replyPublish(r, part, err)
	}
}

// replyPublish answers one publish request: "published" when it has an id,
// an error frame when it failed.
func (c *conn) replyPublish(r *request, acks []queue.PublishAck, err error) {
	if err != nil {
		c.sendError(r.ID, "", toWire(err))
		return
	}
	if !r.batch {
		a := acks[0]
		if a.Err != nil {
			c.sendError(r.ID, "", toWire(a.Err))
		} else if r.ID != "" {
			c.reply(&protocol.Frame{Type: protocol.TypePublished, ID: r.ID, Queue: r.Queue,
				Seq: a.Seq, MsgID: a.ID, Duplicate: a.Duplicate})
		}
		return
	}
	results, failed, first := publishResults(acks)
	switch {
	case r.ID != "":
		c.reply(&protocol.Frame{Type: protocol.TypePublished, ID: r.ID, Queue: r.Queue, Results: results})
	case failed > 0:
		c.sendError("", "", errf(first.Code, "%d of %d messages failed; the first: %s", failed, len(acks), first.Message))
	}
}

// publishResults renders a batch's outcomes and counts the failures.
func publishResults(acks []queue.PublishAck) ([]protocol.Published, int, *protocol.ErrorBody) {
	results := make([]protocol.Published, len(acks))
	failed := 0
	var first *protocol.ErrorBody
	for i, a := range acks {
		results[i] = publishedToWire(a)
		if e := results[i].Error; e != nil {
			failed++
			if first == nil {
				first = e
			}
		}
	}
	return results, failed, first
}

// publish proposes msgs to the named queue (auto-creating it when allowed)
// and returns one outcome per message.
func (g *Gateway) publish(ctx context.Context, name string, msgs []*queue.Message) ([]queue.PublishAck, error) {
	cmd := queue.Publish{Queue: name, Messages: msgs, MaxQueues: g.cfg.MaxQueues, MaxTotalBytes: g.cfg.MaxStoreBytes}
	if g.cfg.AutoCreate {
		cfg := g.cfg.DefaultQueue
		cmd.Create = &cfg
	}
	res, err := g.propose(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if len(res.Published) != len(msgs) {
		return nil, fmt.Errorf("publish to %s: %d outcomes for %d messages", name, len(res.Published), len(msgs))
	}
	return res.Published, nil
}

// fillIDs gives every message without an id a random one, so that the
// gateway's own retries of it are de-duplicated.
func fillIDs(msgs []*queue.Message) {
	for _, m := range msgs {
		if m.ID == "" {
			m.ID = rand.Text()
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
