package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carriermq/carrier/protocol"
)

// Message is one message to publish. Set Data (any JSON value) or Binary
// (opaque bytes), not both. An empty ID is filled with a random one, so that
// the client's own retries are de-duplicated by the server; set it yourself
// to make your retries safe too.
type Message struct {
	ID        string
	Event     string
	Data      json.RawMessage
	Binary    []byte
	Headers   map[string]string
	DeliverAt time.Time // zero: deliver at once
}

// PublishAck is the server's confirmation of one message: it is committed
// by a majority of the cluster and on their disks. Duplicate says the ID was
// already published inside the queue's de-duplication window; Seq is then
// the first copy's seq. In a batch, Err is set instead for a message the
// server refused.
type PublishAck struct {
	Seq       uint64
	MsgID     string
	Duplicate bool
	Err       error
}

// NewMessageID returns a random message id (32 hex digits).
func NewMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// Publish publishes m to queue and waits for the confirmation. It re-sends
// the message (same id) after a lost connection or a retryable error until
// ctx ends, so a nil error means exactly one copy is stored.
func (cl *Client) Publish(ctx context.Context, queue string, m Message) (PublishAck, error) {
	if m.ID == "" {
		m.ID = NewMessageID()
	}
	f := protocol.Frame{Type: protocol.TypePublish, Queue: queue}
	fillFrame(&f, m)
	reply, err := cl.retry(ctx, &f, nil)
	if err != nil {
		return PublishAck{MsgID: m.ID}, fmt.Errorf("publish to %s: %w", queue, err)
	}
	return PublishAck{Seq: reply.Seq, MsgID: reply.MsgID, Duplicate: reply.Duplicate}, nil
}

// PublishBatch publishes msgs to queue as one request (the server commits
// them together) and returns one PublishAck per message, in order. Retries
// are as for Publish. A message the server refused has its PublishAck.Err set.
func (cl *Client) PublishBatch(ctx context.Context, queue string, msgs []Message) ([]PublishAck, error) {
	f := protocol.Frame{Type: protocol.TypePublish, Queue: queue, Messages: make([]protocol.Message, len(msgs))}
	for i, m := range msgs {
		if m.ID == "" {
			m.ID = NewMessageID()
		}
		f.Messages[i] = wireMessage(m)
	}
	reply, err := cl.retry(ctx, &f, nil)
	if err != nil {
		return nil, fmt.Errorf("publish %d messages to %s: %w", len(msgs), queue, err)
	}
	if len(reply.Results) != len(msgs) {
		return nil, fmt.Errorf("publish to %s: %d results for %d messages", queue, len(reply.Results), len(msgs))
	}
	acks := make([]PublishAck, len(msgs))
	for i, r := range reply.Results {
		acks[i] = PublishAck{Seq: r.Seq, MsgID: r.MsgID, Duplicate: r.Duplicate}
		if r.Error != nil {
			acks[i].Err = &Error{Code: r.Error.Code, Message: r.Error.Message}
		}
	}
	return acks, nil
}

// retry sends the publish frame f until it succeeds, fails for good or ctx
// ends; between retryable errors it backs off like a reconnect. first, when
// not nil, is the request already sent for f.
func (cl *Client) retry(ctx context.Context, f *protocol.Frame, first *request) (*protocol.Frame, error) {
	var reply *protocol.Frame
	var err error
	if first != nil {
		reply, err = cl.wait(ctx, first, f.Type)
	} else {
		reply, err = cl.do(ctx, f, true, nil)
	}
	return cl.retryAfter(ctx, f, reply, err)
}

// retryAfter goes on from a first attempt's outcome: while the error is
// retryable it backs off and sends f again.
func (cl *Client) retryAfter(ctx context.Context, f *protocol.Frame, reply *protocol.Frame, err error) (*protocol.Frame, error) {
	for attempt := 0; err != nil && IsRetryable(err); attempt++ {
		cl.log.Debug("carrier client: publish retry", "queue", f.Queue, "attempt", attempt+1, "err", err)
		t := time.NewTimer(cl.opts.backoff(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
		reply, err = cl.do(ctx, f, true, nil)
	}
	return reply, err
}

func fillFrame(f *protocol.Frame, m Message) {
	w := wireMessage(m)
	f.MsgID, f.Event, f.Data, f.Binary, f.Headers, f.DeliverAt = w.MsgID, w.Event, w.Data, w.Binary, w.Headers, w.DeliverAt
}

func wireMessage(m Message) protocol.Message {
	w := protocol.Message{MsgID: m.ID, Event: m.Event, Data: m.Data, Binary: m.Binary, Headers: m.Headers}
	if !m.DeliverAt.IsZero() {
		w.DeliverAt = m.DeliverAt.UTC().Format(time.RFC3339Nano)
	}
	return w
}

// PublishFuture is the pending outcome of PublishAsync.
type PublishFuture struct {
	done chan struct{}
	ack  PublishAck
	err  error
}

// Done is closed when the outcome is known.
func (p *PublishFuture) Done() <-chan struct{} { return p.done }

// Result returns the outcome; call it after Done is closed (or use Wait).
func (p *PublishFuture) Result() (PublishAck, error) { return p.ack, p.err }

// Wait waits for the outcome or for ctx to end.
func (p *PublishFuture) Wait(ctx context.Context) (PublishAck, error) {
	select {
	case <-p.done:
		return p.ack, p.err
	case <-ctx.Done():
		return PublishAck{}, ctx.Err()
	}
}

// PublishAsync sends m to queue and returns at once with its future,
// unless Options.PublishWindow publishes are already in flight: then it waits
// for one of them to finish. Messages published with PublishAsync from one
// goroutine are sent, and stored, in call order (a retry after an error may
// reorder). Each has Options.PublishTimeout to succeed, retries included;
// Close fails the unfinished ones with ErrClosed.
func (cl *Client) PublishAsync(queue string, m Message) *PublishFuture {
	p := &PublishFuture{done: make(chan struct{})}
	select {
	case cl.window <- struct{}{}:
	case <-cl.ctx.Done():
		return p.fail(ErrClosed)
	}
	if m.ID == "" {
		m.ID = NewMessageID()
	}
	f := &protocol.Frame{Type: protocol.TypePublish, Queue: queue}
	fillFrame(f, m)
	a := &asyncPublish{cl: cl, p: p, f: f, id: m.ID, deadline: time.Now().Add(cl.opts.PublishTimeout)}
	a.mu.Lock()
	defer a.mu.Unlock()
	r, err := cl.startThen(f, true, nil, a.first)
	if err != nil {
		<-cl.window
		return p.fail(fmt.Errorf("publish to %s: %w", queue, err))
	}
	a.r = r
	a.timer = time.AfterFunc(cl.opts.PublishTimeout, a.expire)
	return p
}

// asyncPublish is one PublishAsync in flight. It has no goroutine of its
// own: the reply completes it on the reader goroutine, a timer bounds it by
// PublishTimeout, and only a retryable error starts a goroutine (counted in
// Client.wg) that backs off and retries like Publish. Close fails what is
// still pending, which completes it with ErrClosed before Close returns.
//
// mu is held by PublishAsync while it sends the request and sets r and
// timer; the callbacks take it before reading them. completed makes the
// first outcome the only one.
type asyncPublish struct {
	cl       *Client
	p        *PublishFuture
	f        *protocol.Frame
	id       string
	deadline time.Time

	mu        sync.Mutex
	r         *request
	timer     *time.Timer
	completed atomic.Bool
}

// first handles the outcome of the first attempt (request.then).
func (a *asyncPublish) first(reply *protocol.Frame, err error) {
	if err == nil || !IsRetryable(err) || a.cl.ctx.Err() != nil {
		a.complete(reply, err)
		return
	}
	if !a.cl.addWorker() {
		a.complete(nil, ErrClosed)
		return
	}
	go func() {
		defer a.cl.wg.Done()
		ctx, cancel := context.WithDeadline(a.cl.ctx, a.deadline)
		defer cancel()
		a.complete(a.cl.retryAfter(ctx, a.f, nil, err))
	}()
}

// expire gives up when PublishTimeout has passed (a late reply is dropped).
func (a *asyncPublish) expire() {
	a.mu.Lock()
	r := a.r
	a.mu.Unlock()
	a.cl.mu.Lock()
	delete(a.cl.pending, r.id)
	a.cl.mu.Unlock()
	a.complete(nil, fmt.Errorf("%s: %w", a.f.Type, context.DeadlineExceeded))
}

// complete sets the future's outcome once and frees the window slot.
func (a *asyncPublish) complete(reply *protocol.Frame, err error) {
	if !a.completed.CompareAndSwap(false, true) {
		return
	}
	a.mu.Lock()
	if a.timer != nil {
		a.timer.Stop()
	}
	a.mu.Unlock()
	p := a.p
	switch {
	case err != nil && a.cl.ctx.Err() != nil:
		p.err = fmt.Errorf("publish to %s: %w", a.f.Queue, ErrClosed)
	case err != nil:
		p.err = fmt.Errorf("publish to %s: %w", a.f.Queue, err)
	default:
		p.ack = PublishAck{Seq: reply.Seq, MsgID: reply.MsgID, Duplicate: reply.Duplicate}
	}
	if p.err != nil {
		p.ack = PublishAck{MsgID: a.id}
	}
	close(p.done)
	<-a.cl.window
}

func (p *PublishFuture) fail(err error) *PublishFuture {
	p.err = err
	close(p.done)
	return p
}

// addWorker counts one more goroutine for Close to wait for, unless the
// client is closed.
func (cl *Client) addWorker() bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.closed {
		return false
	}
	cl.wg.Add(1)
	return true
}
