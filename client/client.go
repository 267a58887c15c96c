// Package client is the Go client of Carrier: publish and subscribe over the
// carrier.v1 WebSocket protocol (docs/protocol.md) with automatic reconnect,
// and the HTTP admin API (Admin).
//
// A Client keeps one connection to one of its URLs. When the connection
// drops it reconnects with exponential backoff and jitter across the URLs,
// subscribes every Subscription again (groups rejoin and receive what they
// have not acked; tails resume after the last seq they saw) and re-sends the
// publishes that were waiting for a reply, with their message ids, which the
// server de-duplicates.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/carriermq/carrier/protocol"
)

// Client is a connection to a Carrier cluster. All methods are safe for
// concurrent use. Close stops it; every goroutine it started has ended when
// Close returns.
//
// Locking: mu guards every field below it. It is never held while waiting
// for the network except in install, which re-sends pending frames under it
// so that they keep their order ahead of newer ones.
type Client struct {
	opts   Options
	urls   []string
	log    *slog.Logger
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	window chan struct{} // PublishAsync slots
	wg     sync.WaitGroup

	mu      sync.Mutex
	conn    *conn  // nil while disconnected
	gen     uint64 // generation of conn; increments on every connection
	lastURL int    // index in urls of the last connection; -1 before the first, so Dial tries urls[0] first
	nextReq uint64
	pending map[string]*request
	subs    map[*Subscription]struct{}
	bySub   map[string]*Subscription // server subscription id on conn → Subscription
	closed  bool
}

// request is one frame awaiting its reply.
type request struct {
	id     string
	order  uint64 // creation order, for re-sending in order
	frame  []byte
	resend bool // re-send on a new connection (publishes); others fail with ErrDisconnected
	// onReply runs on the reader goroutine with Client.mu held, before the
	// waiter wakes; it must not block. The function it returns, if any,
	// runs on the same goroutine right after Client.mu is released.
	onReply func(c *conn, f *protocol.Frame) (after func())
	// then, when set, runs once the request has its outcome, on the
	// goroutine that finished it (the reader, detach or Close), with no
	// lock held; it must not block.
	then  func(reply *protocol.Frame, err error)
	sent  time.Time // when last written to a connection (mu held)
	done  chan struct{}
	reply *protocol.Frame
	err   error
}

// Dial connects to the first reachable of urls (each "host:port",
// "http://host:port" or a ws:// URL of /v1/ws) and returns a Client that stays
// connected until Close. It fails with ErrNotConnected (wrapping each URL's
// error) when none answers; after that, connection losses are repaired in the
// background.
func Dial(ctx context.Context, urls []string, opts Options) (*Client, error) {
	if len(urls) == 0 {
		return nil, errors.New("dial: no server URL")
	}
	cl := &Client{opts: opts.withDefaults(), pending: map[string]*request{},
		subs: map[*Subscription]struct{}{}, bySub: map[string]*Subscription{}, lastURL: -1}
	for _, u := range urls {
		wu, err := WebSocketURL(u)
		if err != nil {
			return nil, fmt.Errorf("dial: %w", err)
		}
		cl.urls = append(cl.urls, wu)
	}
	cl.log = cl.opts.Logger
	cl.window = make(chan struct{}, cl.opts.PublishWindow)
	c, err := cl.dialAny(ctx)
	if err != nil {
		return nil, err
	}
	cl.ctx, cl.cancel = context.WithCancel(context.Background())
	cl.install(c)
	cl.wg.Add(1)
	go cl.run(c)
	return cl, nil
}

// Close stops reconnecting, closes the connection (code 1000), fails every
// waiting request with ErrClosed and ends every Subscription. It waits for
// the client's goroutines, PublishAsync ones included.
func (cl *Client) Close() error {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return nil
	}
	cl.closed = true
	cl.mu.Unlock()
	cl.cancel()
	cl.wg.Wait()
	cl.mu.Lock()
	pend := cl.takePending(func(*request) bool { return true })
	subs := cl.takeSubs()
	cl.mu.Unlock()
	for _, r := range pend {
		r.finish(nil, ErrClosed)
	}
	for _, s := range subs {
		s.end(ErrClosed)
	}
	return nil
}

// Connected reports whether the client has a live connection now.
func (cl *Client) Connected() bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.conn != nil
}

// dialAny tries every URL once, starting after the last one used, and
// returns the first connection made.
func (cl *Client) dialAny(ctx context.Context) (*conn, error) {
	var errs []error
	n := len(cl.urls)
	cl.mu.Lock()
	start := cl.lastURL + 1
	cl.mu.Unlock()
	for i := range n {
		k := (start + i) % n
		c, err := dial(ctx, cl.urls[k], cl.opts)
		if err == nil {
			cl.mu.Lock()
			cl.lastURL = k
			cl.mu.Unlock()
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("%w: %w", ErrNotConnected, errors.Join(errs...))
}

// run owns the connection's lifetime: it keeps c alive with pings, and when
// c drops, reconnects with backoff until Close.
func (cl *Client) run(c *conn) {
	defer cl.wg.Done()
	attempt := 0
	for c != nil {
		cl.serve(c)
		if cl.ctx.Err() != nil {
			return
		}
		if time.Since(c.started) > cl.opts.ReconnectMax {
			attempt = 0
		}
		c, attempt = cl.reconnect(attempt)
	}
}

// serve pings c until it drops or the client closes, then detaches it.
func (cl *Client) serve(c *conn) {
	t := time.NewTicker(cl.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			cl.detach(c)
			return
		case <-cl.ctx.Done():
			c.shutdown()
			<-c.done
			return
		case <-t.C:
			cl.ping(c)
		}
	}
}

func (cl *Client) ping(c *conn) {
	b, _ := json.Marshal(protocol.Frame{Type: protocol.TypePing, ID: "ping"})
	if err := c.write(b); err != nil {
		cl.log.Debug("carrier client: ping failed", "url", c.url, "err", err)
		c.abort()
	}
}

// reconnect waits out the backoff and dials until a connection is made
// (installed and returned) or the client closes (nil).
func (cl *Client) reconnect(attempt int) (*conn, int) {
	for {
		d := cl.opts.backoff(attempt)
		attempt++
		t := time.NewTimer(d)
		select {
		case <-cl.ctx.Done():
			t.Stop()
			return nil, attempt
		case <-t.C:
		}
		c, err := cl.dialAny(cl.ctx)
		if err == nil {
			cl.log.Info("carrier client: reconnected", "url", c.url, "attempt", attempt)
			cl.install(c)
			return c, attempt
		}
		cl.log.Warn("carrier client: reconnect failed", "attempt", attempt, "err", err)
	}
}

// install makes c the live connection, starts its reader, subscribes every
// subscription again and re-sends pending publishes in their original order.
func (cl *Client) install(c *conn) {
	defer cl.flush(c)
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.gen++
	c.gen = cl.gen
	cl.conn = c
	cl.wg.Add(2)
	go cl.readLoop(c)
	go func() {
		defer cl.wg.Done()
		c.writeLoop(func(err error) { cl.log.Debug("carrier client: write failed", "url", c.url, "err", err) })
	}()
	for s := range cl.subs {
		r := s.subscribeRequest(cl.newRequestLocked())
		cl.pending[r.id] = r
		cl.writeLocked(c, r)
	}
	var resend []*request
	for _, r := range cl.pending {
		if r.resend {
			resend = append(resend, r)
		}
	}
	slices.SortFunc(resend, func(a, b *request) int { return int(a.order) - int(b.order) })
	for _, r := range resend {
		cl.writeLocked(c, r)
	}
}

// detach forgets the dropped connection c: requests that are not re-sent
// fail with ErrDisconnected, and subscriptions wait for the next connection.
func (cl *Client) detach(c *conn) {
	cl.mu.Lock()
	if cl.conn != c {
		cl.mu.Unlock()
		return
	}
	cl.conn = nil
	clear(cl.bySub)
	failed := cl.takePending(func(r *request) bool { return !r.resend })
	cl.mu.Unlock()
	cl.log.Info("carrier client: connection lost", "url", c.url)
	for _, r := range failed {
		r.finish(nil, ErrDisconnected)
	}
}

// takePending removes and returns the pending requests that match. mu held.
func (cl *Client) takePending(match func(*request) bool) []*request {
	var out []*request
	for id, r := range cl.pending {
		if match(r) {
			delete(cl.pending, id)
			out = append(out, r)
		}
	}
	return out
}

// takeSubs removes and returns every subscription. mu held.
func (cl *Client) takeSubs() []*Subscription {
	out := make([]*Subscription, 0, len(cl.subs))
	for s := range cl.subs {
		out = append(out, s)
	}
	clear(cl.subs)
	clear(cl.bySub)
	return out
}

// newRequestLocked makes a request with a fresh id. mu held.
func (cl *Client) newRequestLocked() *request {
	cl.nextReq++
	return &request{id: strconv.FormatUint(cl.nextReq, 10), order: cl.nextReq, done: make(chan struct{})}
}

// writeLocked queues r on c, behind every frame queued before; the caller
// calls flush after releasing mu. A failed write aborts c, and r is then
// re-sent or failed by detach. mu held.
func (cl *Client) writeLocked(c *conn, r *request) {
	r.sent = time.Now()
	if err := c.enqueue(r.frame); err != nil {
		cl.log.Debug("carrier client: write failed", "url", c.url, "err", err)
		c.abort()
	}
}

// flush sends what writeLocked queued on c. mu not held: the socket write
// happens outside it, so other requests queue up behind it meanwhile and
// go out together in the next write.
func (cl *Client) flush(c *conn) {
	if c == nil {
		return
	}
	if err := c.flush(); err != nil {
		cl.log.Debug("carrier client: write failed", "url", c.url, "err", err)
		c.abort()
	}
}

// do sends the frame f (its ID is set here) and waits for the reply. When
// resend is set, the frame survives reconnects until ctx ends; otherwise a
// lost connection fails it with ErrDisconnected. An "error" reply is returned
// as *Error.
func (cl *Client) do(ctx context.Context, f *protocol.Frame, resend bool, onReply func(*conn, *protocol.Frame) func()) (*protocol.Frame, error) {
	r, err := cl.start(f, resend, onReply)
	if err != nil {
		return nil, err
	}
	return cl.wait(ctx, r, f.Type)
}

// wait waits for the reply to r; when ctx ends first, r is given up (a
// late reply is dropped, and r is not re-sent).
func (cl *Client) wait(ctx context.Context, r *request, what string) (*protocol.Frame, error) {
	select {
	case <-r.done:
		return r.reply, r.err
	case <-ctx.Done():
		cl.mu.Lock()
		delete(cl.pending, r.id)
		cl.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// start registers and sends a request. With no connection, a resend request
// waits for the next one; any other fails with ErrDisconnected.
func (cl *Client) start(f *protocol.Frame, resend bool, onReply func(*conn, *protocol.Frame) func()) (*request, error) {
	return cl.startThen(f, resend, onReply, nil)
}

// startThen is start with a completion callback (request.then).
func (cl *Client) startThen(f *protocol.Frame, resend bool, onReply func(*conn, *protocol.Frame) func(),
	then func(*protocol.Frame, error)) (*request, error) {
	r, c, err := cl.startLocked(f, resend, onReply, then)
	cl.flush(c)
	return r, err
}

// startLocked registers r and queues it on the live connection, which it
// returns for the caller to flush.
func (cl *Client) startLocked(f *protocol.Frame, resend bool, onReply func(*conn, *protocol.Frame) func(),
	then func(*protocol.Frame, error)) (*request, *conn, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.closed {
		return nil, nil, ErrClosed
	}
	if cl.conn == nil && !resend {
		return nil, nil, ErrDisconnected
	}
	r := cl.newRequestLocked()
	f.ID = r.id
	b, err := encodeFrame(f)
	if err != nil {
		return nil, nil, fmt.Errorf("encode %s frame: %w", f.Type, err)
	}
	r.frame, r.resend, r.onReply, r.then = b, resend, onReply, then
	cl.pending[r.id] = r
	if cl.conn != nil {
		cl.writeLocked(cl.conn, r)
	}
	return r, cl.conn, nil
}

// finish completes r once.
//
// Its frame goes back to the pool: a request is out of pending when it is
// finished, so it is never written again.
func (r *request) finish(reply *protocol.Frame, err error) {
	releaseFrame(r.frame)
	r.frame = nil
	r.reply, r.err = reply, err
	close(r.done)
	if r.then != nil {
		r.then(reply, err)
	}
}

// readLoop reads frames from c until it fails, dispatching each one.
func (cl *Client) readLoop(c *conn) {
	defer cl.wg.Done()
	defer close(c.done)
	defer c.abort()
	timeout := 2*cl.opts.PingInterval + cl.opts.WriteTimeout
	for {
		f, err := c.read(timeout)
		if err != nil {
			if cl.ctx.Err() == nil {
				cl.log.Debug("carrier client: read failed", "url", c.url, "err", err)
			}
			return
		}
		cl.dispatch(c, f)
	}
}

// dispatch routes one frame from c: a reply to its request, a message to its
// subscription, an unsolicited error to the log or its subscription.
func (cl *Client) dispatch(c *conn, f *protocol.Frame) {
	switch {
	case f.Type == protocol.TypeMessage:
		cl.deliver(c, f)
	case f.ID != "":
		cl.reply(c, f)
	case f.Type == protocol.TypeError:
		cl.unsolicitedError(f)
	}
}

func (cl *Client) reply(c *conn, f *protocol.Frame) {
	cl.mu.Lock()
	r, ok := cl.pending[f.ID]
	if !ok || cl.conn != c {
		cl.mu.Unlock()
		return // late reply to a request given up, or a ping
	}
	if r.resend && cl.cutOffLocked(c, r, f) {
		// r stays pending: install re-sends it on the next connection.
		cl.mu.Unlock()
		c.abort()
		return
	}
	delete(cl.pending, f.ID)
	var after func()
	if r.onReply != nil {
		after = r.onReply(c, f)
	}
	cl.mu.Unlock()
	if after != nil {
		after()
	}
	if f.Type == protocol.TypeError {
		r.finish(f, errorFromFrame(f))
		return
	}
	r.finish(f, nil)
}

// cutOffLocked tracks how long c's node has answered publishes (resend
// requests) with not_leader, and reports whether the client should move
// off it: for Options.MoveAfter, counted from when the first of those
// publishes was sent, with another URL to move to. The server answers
// not_leader only after waiting some seconds for a leader to appear (an
// election's not_leader is never seen: the publish goes to the new leader),
// so one such answer usually suffices. A node cut off from the majority
// answers so until the partition heals, while the rest of the cluster, a
// new leader among it, serves. A publish that succeeds shows the node
// serves; other errors say nothing either way. The next connection tries a
// random other URL first, so that the clients of a cut-off node spread
// over the others instead of all landing on the same one. mu held.
func (cl *Client) cutOffLocked(c *conn, r *request, f *protocol.Frame) bool {
	switch {
	case f.Type != protocol.TypeError:
		c.noLeaderSince = time.Time{}
		return false
	case f.Code != protocol.CodeNotLeader:
		return false
	case c.moving:
		return true
	}
	if c.noLeaderSince.IsZero() || r.sent.Before(c.noLeaderSince) {
		c.noLeaderSince = r.sent
	}
	n := len(cl.urls)
	waited := time.Since(c.noLeaderSince)
	if n < 2 || cl.opts.MoveAfter < 0 || waited < cl.opts.MoveAfter {
		return false
	}
	c.moving = true
	k := (cl.lastURL + 1 + rand.IntN(n-1)) % n // any URL but this one's
	cl.lastURL = (k - 1 + n) % n               // dialAny starts after lastURL
	cl.log.Warn("carrier client: moving to another server: this one has answered not_leader for too long (cut off from the cluster's majority?)",
		"url", c.url, "for", waited.Round(time.Millisecond), "message", f.Message)
	return true
}

// unsolicitedError handles an error frame without an id: it ends the named
// subscription when the error is final, and is logged otherwise.
func (cl *Client) unsolicitedError(f *protocol.Frame) {
	err := errorFromFrame(f)
	cl.log.Warn("carrier client: server error", "code", f.Code, "message", f.Message, "sub", f.Sub)
	if f.Sub == "" || IsRetryable(err) {
		return
	}
	cl.mu.Lock()
	s := cl.bySub[f.Sub]
	if s != nil {
		cl.removeSubLocked(s)
	}
	cl.mu.Unlock()
	if s != nil {
		s.end(err)
	}
}

// removeSubLocked forgets s. mu held.
func (cl *Client) removeSubLocked(s *Subscription) {
	delete(cl.subs, s)
	if s.serverID != "" && cl.bySub[s.serverID] == s {
		delete(cl.bySub, s.serverID)
	}
}
