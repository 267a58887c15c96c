package session

import (
	"context"
	"errors"
	"sync"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// Tail tuning: messages read per View while replaying, and messages a live
// tail may hold before it falls back to replaying.
const (
	tailPage   = 256
	tailBuffer = 1024
)

// tailSub streams a queue from a position, with no acks and no Raft writes:
// it replays from this node's applied state page by page, paced by the
// session's outbound room, then goes live by registering with the hub
// inside the View that found it caught up. When its live buffer overflows
// it is dropped from the hub and replays from the last seq it sent, so it
// never loses a message and never buffers without bound.
//
// The goroutine (run) owns the position; mu guards what the hub hands over.
type tailSub struct {
	s      *Session
	id     string
	queue  string
	pos    queue.Position
	filter eventFilter
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	buf      []*queue.Message
	bufBytes int64
	from     uint64        // live messages below this seq were replayed already
	overflow bool          // buf overflowed; the hub has dropped the tail
	gone     *apierr.Error // the queue was deleted
	notify   chan struct{}
}

func (s *Session) newTailSub(id string, cmd *Subscribe) *tailSub {
	ctx, cancel := context.WithCancel(s.ctx)
	return &tailSub{s: s, id: id, queue: cmd.Queue, pos: cmd.Pos, filter: newEventFilter(cmd.Events), ctx: ctx, cancel: cancel,
		notify: make(chan struct{}, 1)}
}

// start resolves the position, answers ReplySubscribed to command reqID
// with the first seq the tail will send, and starts streaming.
func (t *tailSub) start(reqID string) {
	s := t.s
	err := s.m.node.EnsureQueue(s.ctx, t.queue)
	var next uint64
	if err == nil {
		s.m.node.View(func(st *queue.State) { next, err = st.StartSeq(t.queue, t.pos) })
	}
	if err != nil {
		s.dropSub(t.id, t)
		t.cancel()
		s.sendError(reqID, "", apierr.From(err))
		return
	}
	s.reply(&Reply{Kind: ReplySubscribed, ID: reqID, Sub: t.id, Queue: t.queue, Seq: next})
	if !s.spawn(func() { t.run(next) }) {
		t.cancel()
	}
}

// stop ends the tail.
func (t *tailSub) stop(context.Context) error {
	t.cancel()
	t.s.m.hub.removeTail(t)
	return nil
}

// run alternates replaying and streaming live until the tail ends.
func (t *tailSub) run(next uint64) {
	defer t.s.m.hub.removeTail(t)
	var err error
	for {
		if next, err = t.replay(next); err != nil {
			break
		}
		if next, err = t.live(next); err != nil {
			break
		}
	}
	var e *apierr.Error
	if errors.As(err, &e) {
		t.s.endSub(t.id, t, e)
	}
}

// replay sends stored messages from next until it has caught up and is
// registered live; it returns the next seq to send.
func (t *tailSub) replay(next uint64) (uint64, error) {
	for {
		if err := t.s.out.waitRoom(t.ctx); err != nil {
			return next, err
		}
		var page []*queue.Message
		var live bool
		var err error
		t.s.m.node.View(func(st *queue.State) {
			page, err = st.Read(t.queue, next, tailPage)
			if err == nil && len(page) < tailPage {
				live, err = true, t.goLive(st, next, page)
			}
		})
		if err != nil {
			return next, apierr.From(err)
		}
		for _, m := range page {
			if err := t.send(m); err != nil {
				return next, err
			}
			next = m.Seq + 1
		}
		if live {
			return next, nil
		}
	}
}

// goLive registers the tail with the hub. It runs inside View, right after
// the read that found the end of the queue.
func (t *tailSub) goLive(s *queue.State, next uint64, page []*queue.Message) error {
	if _, err := s.Queue(t.queue); err != nil {
		return err
	}
	from := next
	if len(page) > 0 {
		from = page[len(page)-1].Seq + 1
	}
	// info.LastSeq+1 < from: the client saw later messages on another node
	// and this one has not applied them yet (it lags, or is catching up after
	// a restart). The tail goes live from where the client is and waits: the
	// messages reach this node in order. (A queue deleted and created again
	// while the tail was away cannot be told apart here; a delete while it is
	// connected ends it with queue_not_found.)
	t.mu.Lock()
	t.buf, t.bufBytes, t.from, t.overflow = nil, 0, from, false
	t.mu.Unlock()
	t.s.m.hub.addTail(t)
	return nil
}

// live forwards what the hub hands over; it returns the next seq to send
// when the tail must replay again (overflow).
func (t *tailSub) live(next uint64) (uint64, error) {
	for {
		select {
		case <-t.ctx.Done():
			return next, t.ctx.Err()
		case <-t.notify:
		}
		msgs, overflow, gone := t.take()
		for _, m := range msgs {
			if m.Seq < next {
				continue
			}
			if err := t.send(m); err != nil {
				return next, err
			}
			next = m.Seq + 1
		}
		if gone != nil {
			return next, gone
		}
		if overflow {
			t.s.m.tailFallbacks.Add(1)
			return next, nil
		}
	}
}

func (t *tailSub) take() ([]*queue.Message, bool, *apierr.Error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	msgs := t.buf
	t.buf, t.bufBytes = nil, 0
	return msgs, t.overflow, t.gone
}

func (t *tailSub) send(m *queue.Message) error {
	if !t.filter.match(m.Event) {
		return nil
	}
	return t.s.out.pushWait(t.ctx, deliveryItem(&Delivery{Msg: m, Sub: t.id, Queue: t.queue}))
}

// offer hands appended messages to a live tail; false means it overflowed
// and the hub must drop it. Called by the hub with hub.mu held; never blocks.
func (t *tailSub) offer(msgs []*queue.Message) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range msgs {
		if m.Seq < t.from {
			continue
		}
		if len(t.buf) >= tailBuffer || t.bufBytes >= t.s.m.cfg.OutboundBytes {
			t.buf, t.bufBytes, t.overflow = nil, 0, true
			t.signal()
			return false
		}
		t.buf = append(t.buf, m)
		t.bufBytes += m.Size()
	}
	t.signal()
	return true
}

// purged drops buffered messages the purge removed. Called by the hub.
func (t *tailSub) purged(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := 0
	for i < len(t.buf) && t.buf[i].Seq <= seq {
		t.bufBytes -= t.buf[i].Size()
		i++
	}
	t.buf = t.buf[i:]
}

// restored makes the tail replay from where it is: the node's state was
// replaced by a snapshot (a follower that fell behind), and the messages the
// snapshot brought were never appended as events. Called by the hub, which
// forgets the tail; the goroutine registers it again once it has replayed.
func (t *tailSub) restored() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.overflow = true
	t.signal()
}

// deleted ends the tail with queue_not_found. Called by the hub, which
// forgets the tail.
func (t *tailSub) deleted() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gone = apierr.Errorf(protocol.CodeQueueNotFound, "queue %s was deleted", t.queue)
	t.signal()
}

// signal wakes the goroutine. t.mu must be held.
func (t *tailSub) signal() {
	select {
	case t.notify <- struct{}{}:
	default:
	}
}
