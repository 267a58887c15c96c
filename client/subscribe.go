package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/carriermq/carrier/protocol"
)

// Positions a tail subscription can start from (SubOptions.From).
const (
	FromNew   = "new"   // only messages published from now on (the default)
	FromFirst = "first" // the oldest message still stored
)

// SubOptions says what a subscription receives. With Group set it is a
// member of that durable consumer group: deliveries must be acked, and
// whatever the group has not acked is redelivered, also after a reconnect.
// Without Group it is a tail: a live stream from a position, no acks.
type SubOptions struct {
	Group string
	// Tail start: From ("new" or "first"), or FromSeq, or FromTime.
	From     string
	FromSeq  uint64
	FromTime time.Time
	// Settings for a group that does not exist yet (zero: the queue's defaults).
	AckWait     time.Duration
	MaxDeliver  int
	MaxInFlight int
	// Buffer is the capacity of C() (default 256). When it is full the
	// connection's reader waits, which stalls every subscription and reply
	// on the connection: drain C() promptly.
	Buffer int
}

// Subscription receives the messages of one subscribe. Its channel closes
// when it ends: Unsubscribe, Client.Close, or a final error from the server
// (then Err says why).
//
// Locking: the fields after "guarded by Client.mu" are read and written with
// the client's mu held; sendMu serialises the one sender (the reader
// goroutine) against closing ch.
type Subscription struct {
	cl    *Client
	queue string
	opts  SubOptions
	ch    chan *Delivery
	ready chan struct{} // closed on the first "subscribed"
	done  chan struct{} // closed when the subscription ends

	sendMu     sync.Mutex
	chanClosed bool

	// guarded by Client.mu
	serverID  string // the server's id for this subscription on the current connection
	gen       uint64 // connection generation of serverID
	lastSeq   uint64 // tail: the last seq handed to C()
	startSeq  uint64 // tail: the first seq the server said it would send, when known
	isReady   bool
	err       error
	endedOnce bool
}

// Delivery is one message received by a subscription.
type Delivery struct {
	Queue   string
	Group   string // "" for a tail
	Seq     uint64
	MsgID   string
	Event   string
	Data    json.RawMessage // JSON, unless Binary is set
	Binary  []byte
	Headers map[string]string
	Time    time.Time // when the leader accepted the publish
	Attempt int       // 1 on first delivery to the group, more on redelivery

	sub       *Subscription
	serverSub string
	gen       uint64
}

// Subscribe starts a subscription to queue and returns once the server has
// confirmed it. The subscription lives until Unsubscribe or Client.Close,
// across reconnects.
func (cl *Client) Subscribe(ctx context.Context, queue string, o SubOptions) (*Subscription, error) {
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
	s := &Subscription{cl: cl, queue: queue, opts: o, ch: make(chan *Delivery, o.Buffer),
		ready: make(chan struct{}), done: make(chan struct{})}
	if err := cl.addSub(s); err != nil {
		return nil, err
	}
	select {
	case <-s.ready:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("subscribe %s: %w", queue, s.Err())
	case <-ctx.Done():
		uctx, cancel := context.WithTimeout(context.Background(), cl.opts.WriteTimeout)
		defer cancel()
		_ = s.Unsubscribe(uctx)
		return nil, fmt.Errorf("subscribe %s: %w", queue, ctx.Err())
	}
}

// addSub registers s and sends its subscribe when connected; otherwise the
// next connection will.
func (cl *Client) addSub(s *Subscription) error {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return ErrClosed
	}
	cl.subs[s] = struct{}{}
	c := cl.conn
	if c != nil {
		r := s.subscribeRequest(cl.newRequestLocked())
		cl.pending[r.id] = r
		cl.writeLocked(c, r)
	}
	cl.mu.Unlock()
	cl.flush(c)
	return nil
}

// subscribeRequest fills r with this subscription's subscribe frame: the
// original options, but a tail that has seen messages resumes after the
// last one. Client.mu held.
func (s *Subscription) subscribeRequest(r *request) *request {
	o := s.opts
	f := protocol.Frame{Type: protocol.TypeSubscribe, ID: r.id, Queue: s.queue, Group: o.Group,
		From: o.From, FromSeq: o.FromSeq, MaxDeliver: o.MaxDeliver, MaxInFlight: o.MaxInFlight}
	if !o.FromTime.IsZero() {
		f.FromTime = o.FromTime.Format(time.RFC3339Nano)
	}
	if o.AckWait > 0 {
		f.AckWait = o.AckWait.String()
	}
	if o.Group == "" {
		s.resumePosition(&f)
	}
	r.frame, _ = json.Marshal(f) // a Frame of strings and numbers always encodes
	r.onReply = s.onSubscribed
	return r
}

// resumePosition moves a tail's start to just after what it has already
// seen, or to where the server said it started. Client.mu held.
func (s *Subscription) resumePosition(f *protocol.Frame) {
	next := s.startSeq
	if s.lastSeq > 0 {
		next = s.lastSeq + 1
	}
	if next > 0 {
		f.From, f.FromSeq, f.FromTime = "", next, ""
	}
}

// onSubscribed handles the reply to a subscribe, on the reader goroutine
// with Client.mu held; it returns what must run once mu is released.
func (s *Subscription) onSubscribed(c *conn, f *protocol.Frame) func() {
	cl := s.cl
	if _, live := cl.subs[s]; !live {
		if f.Type == protocol.TypeSubscribed {
			s.dropOrphan(c, f.Sub) // unsubscribed while the subscribe was in flight
		}
		return nil
	}
	if f.Type == protocol.TypeError {
		return s.onSubscribeError(c, errorFromFrame(f))
	}
	s.serverID, s.gen = f.Sub, c.gen
	cl.bySub[f.Sub] = s
	if s.opts.Group == "" && s.lastSeq == 0 && s.startSeq == 0 && f.Seq > 0 {
		s.startSeq = f.Seq
	}
	if !s.isReady {
		s.isReady = true
		close(s.ready)
	}
	return nil
}

// dropOrphan tells the server to end subscription sub, which the client
// gave up before the server confirmed it. No id: only a failure is answered,
// and the client has nothing to do about one. Client.mu held.
func (s *Subscription) dropOrphan(c *conn, sub string) {
	b, _ := json.Marshal(protocol.Frame{Type: protocol.TypeUnsubscribe, Sub: sub})
	if err := c.write(b); err != nil {
		c.abort()
	}
}

// onSubscribeError: a first subscribe fails for good (the caller sees the
// error); a resubscribe that may work later drops the connection so the
// client reconnects with backoff; a final error ends the subscription.
// Client.mu held; the returned function ends the subscription after.
func (s *Subscription) onSubscribeError(c *conn, err *Error) func() {
	if s.isReady && IsRetryable(err) {
		s.cl.log.Warn("carrier client: resubscribe failed; reconnecting", "queue", s.queue, "err", err)
		c.abort()
		return nil
	}
	s.cl.removeSubLocked(s)
	return func() { s.end(err) }
}

// C returns the channel of deliveries. It is closed when the subscription ends.
func (s *Subscription) C() <-chan *Delivery { return s.ch }

// Next returns the next delivery, or an error when ctx ends or the
// subscription has ended (ErrClosed after Unsubscribe or Client.Close, or
// the server's final error).
func (s *Subscription) Next(ctx context.Context) (*Delivery, error) {
	select {
	case d, ok := <-s.ch:
		if !ok {
			return nil, s.endErr()
		}
		return d, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Subscription) endErr() error {
	if err := s.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// Err is why the subscription ended: nil while it runs and after
// Unsubscribe, ErrClosed after Client.Close, or the server's *Error.
func (s *Subscription) Err() error {
	s.cl.mu.Lock()
	defer s.cl.mu.Unlock()
	return s.err
}

// Done is closed when the subscription has ended.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Queue is the subscribed queue's name.
func (s *Subscription) Queue() string { return s.queue }

// Unsubscribe ends the subscription. A group member leaves its group: its
// unacked messages go to the other members (the group itself stays).
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	cl := s.cl
	cl.mu.Lock()
	_, live := cl.subs[s]
	cl.removeSubLocked(s)
	serverID, connected := s.serverID, cl.conn != nil && s.gen == cl.gen
	cl.mu.Unlock()
	if !live {
		return nil
	}
	defer s.end(nil)
	if !connected || serverID == "" {
		return nil // the server already dropped it with its connection
	}
	_, err := cl.do(ctx, &protocol.Frame{Type: protocol.TypeUnsubscribe, Sub: serverID}, false, nil)
	if errors.Is(err, ErrDisconnected) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unsubscribe %s: %w", s.queue, err)
	}
	return nil
}

// end records err, closes done and then the channel. It runs once; it must
// not be called with Client.mu held.
func (s *Subscription) end(err error) {
	s.cl.mu.Lock()
	if s.endedOnce {
		s.cl.mu.Unlock()
		return
	}
	s.endedOnce, s.err = true, err
	s.cl.mu.Unlock()
	close(s.done)
	s.sendMu.Lock()
	s.chanClosed = true
	close(s.ch)
	s.sendMu.Unlock()
}

// deliver hands a message frame from c to its subscription, waiting while
// the subscription's buffer is full. Runs on c's reader goroutine.
func (cl *Client) deliver(c *conn, f *protocol.Frame) {
	cl.mu.Lock()
	s := cl.bySub[f.Sub]
	if s == nil || cl.conn != c {
		cl.mu.Unlock()
		return // a message for a subscription that just ended
	}
	if s.opts.Group == "" {
		if f.Seq <= s.lastSeq {
			cl.mu.Unlock()
			return // already seen before a resume
		}
		s.lastSeq = f.Seq
	}
	cl.mu.Unlock()
	s.send(deliveryFromFrame(s, c.gen, f), cl.ctx.Done())
}

// send puts d on the channel unless the subscription or the client ends first.
func (s *Subscription) send(d *Delivery, stop <-chan struct{}) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.chanClosed {
		return
	}
	select {
	case s.ch <- d:
	case <-s.done:
	case <-stop:
	}
}

func deliveryFromFrame(s *Subscription, gen uint64, f *protocol.Frame) *Delivery {
	d := &Delivery{Queue: s.queue, Group: s.opts.Group, Seq: f.Seq, MsgID: f.MsgID, Event: f.Event,
		Data: f.Data, Binary: f.Binary, Headers: f.Headers, Attempt: f.Attempt,
		sub: s, serverSub: f.Sub, gen: gen}
	if f.Group != "" {
		d.Group = f.Group
	}
	if t, err := time.Parse(time.RFC3339Nano, f.Time); err == nil {
		d.Time = t
	}
	return d
}

// Ack tells the group this message is done; it will not be delivered to the
// group again. A tail delivery needs no ack: Ack returns nil at once. It
// fails with ErrStaleDelivery when the connection that received d has
// dropped (the message will come again), or with the server's *Error
// (not_pending when it was already acked or timed out).
func (d *Delivery) Ack(ctx context.Context) error {
	if d.Group == "" {
		return nil
	}
	return d.settle(ctx, &protocol.Frame{Type: protocol.TypeAck, Sub: d.serverSub, Seqs: []uint64{d.Seq}})
}

// Nack hands the message back to the group for redelivery after delay (0:
// at once). Tail deliveries: no-op. Errors as for Ack.
func (d *Delivery) Nack(ctx context.Context, delay time.Duration) error {
	if d.Group == "" {
		return nil
	}
	f := &protocol.Frame{Type: protocol.TypeNack, Sub: d.serverSub, Seqs: []uint64{d.Seq}}
	if delay > 0 {
		f.Delay = delay.String()
	}
	return d.settle(ctx, f)
}

func (d *Delivery) settle(ctx context.Context, f *protocol.Frame) error {
	cl := d.sub.cl
	cl.mu.Lock()
	stale := cl.conn == nil || cl.gen != d.gen
	cl.mu.Unlock()
	if stale {
		return fmt.Errorf("%s seq %d: %w", f.Type, d.Seq, ErrStaleDelivery)
	}
	if _, err := cl.do(ctx, f, false, nil); err != nil {
		return fmt.Errorf("%s seq %d: %w", f.Type, d.Seq, err)
	}
	return nil
}
