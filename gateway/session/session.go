package session

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/protocol"
)

// Session is one client's session: what it subscribed, its publishes in
// flight, its outbound queue.
//
// Goroutines: the reader (Serve's caller) receives messages from the
// transport, has the codec decode them and starts command handlers; the
// writer drains the outbound queue into the transport and exists only while
// there is work; command handlers, publish lanes, tails and re-joins run as
// spawned goroutines, counted in wg. Everything ends in teardown, which the
// reader runs when it stops: group members are left, spawned goroutines are
// waited for, the writer stops and the transport is aborted.
type Session struct {
	m         *Manager
	num       uint64
	codec     Codec
	out       *outbound
	t         Transport     // set by Serve before any goroutine uses it
	onMessage func(Inbound) // s.receive, bound once

	ctx        context.Context // ends when the session ends
	cancel     context.CancelFunc
	reqs       chan struct{} // a token per command in flight (MaxRequests)
	readerDone chan struct{}
	writers    sync.WaitGroup // the writer goroutine, while one runs
	pingTimer  *time.Timer    // set by Serve; marks a ping due every pingEvery
	pingEvery  time.Duration  // Config.PingInterval unless SetPingInterval
	maxFrame   int64          // Config.MaxFrameBytes unless SetMaxFrameBytes: what frame_too_large names
	closed     bool           // reader only: a protocol error closed the session

	spawnMu  sync.Mutex
	stopping bool           // no more spawns: teardown is waiting for wg
	wg       sync.WaitGroup // spawned goroutines

	mu      sync.Mutex // guards subs, lanes and nextSub
	subs    map[string]subscription
	lanes   map[string]*lane
	nextSub uint64
}

// subscription is a tail (*tailSub) or a group member (*groupSub).
type subscription interface {
	// stop ends the subscription; a group member leaves its group.
	stop(ctx context.Context) error
}

func (m *Manager) newSession(codec Codec) *Session {
	ctx, cancel := context.WithCancel(m.baseCtx)
	num := m.nextSession.Add(1)
	s := &Session{m: m, num: num, codec: codec, out: newOutbound(m.cfg.OutboundBytes),
		ctx: ctx, cancel: cancel, reqs: make(chan struct{}, m.cfg.MaxRequests),
		readerDone: make(chan struct{}), subs: map[string]subscription{}, lanes: map[string]*lane{},
		pingEvery: m.cfg.PingInterval, maxFrame: m.cfg.MaxFrameBytes}
	s.out.startWriter = s.startWriter
	return s
}

// Num numbers the sessions of a gateway from 1; it is part of group member
// ids and of the session's log lines ("conn").
func (s *Session) Num() uint64 { return s.num }

// logger is the session's logger, made when a line is logged: a logger
// kept per session would cost every idle session its own handler.
func (s *Session) logger() *slog.Logger { return s.m.log.With("conn", s.num) }

// SetPingInterval makes the session ping its client every d instead of
// Config.PingInterval (a protocol that announces its own interval, as
// Engine.IO does). Call it before Serve.
func (s *Session) SetPingInterval(d time.Duration) { s.pingEvery = d }

// SetMaxFrameBytes tells the session the size limit its transport
// enforces, when it is not Config.MaxFrameBytes (Engine.IO's maxPayload),
// so that a frame_too_large error names it. Call it before Serve.
func (s *Session) SetMaxFrameBytes(n int64) { s.maxFrame = n }

// Serve runs the session over t until it ends, then forgets it. Call it
// once, from the goroutine that is to be the session's reader.
func (s *Session) Serve(t Transport) {
	defer s.m.unregister(s)
	s.t = t
	s.onMessage = s.receive
	s.pingTimer = time.AfterFunc(s.pingEvery, s.out.pingDue)
	s.out.enable()
	s.readLoop()
	close(s.readerDone)
	s.teardown()
}

// Discard forgets a session that will not be served (its transport could
// not be set up).
func (s *Session) Discard() {
	s.cancel()
	s.m.unregister(s)
}

// teardown ends everything the session started. Run by the reader.
func (s *Session) teardown() {
	s.cancel()
	s.stopSubs()
	s.spawnMu.Lock()
	s.stopping = true
	s.spawnMu.Unlock()
	s.wg.Wait()
	s.t.LimitWrites(time.Now().Add(s.m.cfg.CloseGrace)) // a write blocked on a gone client ends soon
	s.pingTimer.Stop()
	s.out.stop()
	s.writers.Wait()
	s.t.Abort()
	s.logger().Debug("session closed")
}

// goAway leaves every group member and closes the session (server
// shutdown). The reader then ends and runs teardown.
func (s *Session) goAway() {
	s.stopSubs()
	s.out.close(false, nil, CloseGoingAway)
}

// stopSubs ends every subscription; group members leave their groups with
// a fresh context, since the session's own may be cancelled.
func (s *Session) stopSubs() {
	s.mu.Lock()
	subs := make([]subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	clear(s.subs)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, sub := range subs {
		wg.Go(func() {
			if err := sub.stop(s.m.baseCtx); err != nil {
				s.logger().Warn("leave on disconnect failed; the member stays until its node resets", "err", err)
			}
		})
	}
	wg.Wait()
}

// spawn runs fn in a goroutine that teardown waits for; false once the
// session is stopping.
func (s *Session) spawn(fn func()) bool {
	s.spawnMu.Lock()
	defer s.spawnMu.Unlock()
	if s.stopping {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// goRequest runs fn as a command handler, waiting for a free request slot
// first (backpressure on the reader).
func (s *Session) goRequest(fn func()) {
	if !s.acquire() {
		return
	}
	if !s.spawn(func() { defer s.release(); fn() }) {
		s.release()
	}
}

func (s *Session) acquire() bool {
	select {
	case s.reqs <- struct{}{}:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *Session) release() { <-s.reqs }

// readLoop receives messages until the transport fails or closes.
func (s *Session) readLoop() {
	for !s.closed {
		err := s.t.Receive(s.onMessage)
		switch {
		case err == nil:
		case errors.Is(err, ErrTooLarge):
			s.frameTooLarge()
			return
		default:
			if !errors.Is(err, io.EOF) {
				s.logger().Debug("session read ended", "err", err)
			}
			return
		}
	}
}

// receive decodes one message and handles its command.
func (s *Session) receive(m Inbound) {
	if s.closed {
		return // the rest of a transport's message after a protocol error
	}
	if cmd := s.codec.Decode(m); cmd != nil {
		s.handle(cmd)
	}
}

// frameTooLarge says why and closes, then drains what the client still
// sends until it answers the close or CloseGrace passes.
func (s *Session) frameTooLarge() {
	e := apierr.Errorf(protocol.CodeFrameTooLarge, "frames are limited to %d bytes", s.maxFrame)
	s.out.close(false, errorReply("", "", e), CloseTooLarge)
	s.t.Drain(time.Now().Add(s.m.cfg.CloseGrace))
}

// protocolError queues the error and the close, then stops reading; the
// client gets CloseGrace to read them.
func (s *Session) protocolError(c *Invalid) {
	s.closed = true
	s.out.close(false, errorReply(c.ID, "", c.Err), CloseProtocolError)
	s.logger().Debug("protocol error: closing", "err", c.Err.Message)
}

// handle dispatches one command. Publishes and subscribes are ordered here,
// on the reader: a lane keeps a queue's publishes in order, and the
// subscription limit is checked in the order the client sent.
func (s *Session) handle(cmd Command) {
	switch c := cmd.(type) {
	case *Ping:
		s.reply(&Reply{Kind: ReplyPong, ID: c.ID})
	case *Publish:
		s.publish(c)
	case *Subscribe:
		s.subscribe(c)
	case *Unsubscribe:
		s.goRequest(func() { s.unsubscribe(c) })
	case *Ack:
		s.goRequest(func() { s.ack(c) })
	case *Invalid:
		if c.Close {
			s.protocolError(c)
			return
		}
		s.sendError(c.ID, "", c.Err)
	}
}

// reply queues r; a client too slow to take it is disconnected.
func (s *Session) reply(r *Reply) {
	if errors.Is(s.out.push(replyItem(r)), errOverflow) {
		s.slow()
	}
}

// sendError queues an error for command id and/or subscription sub.
func (s *Session) sendError(id, sub string, e *apierr.Error) {
	s.reply(errorReply(id, sub, e))
}

func errorReply(id, sub string, e *apierr.Error) *Reply {
	return &Reply{Kind: ReplyError, ID: id, Sub: sub, Err: e}
}

// slow disconnects a client whose outbound budget overflowed: what is queued
// is dropped, a slow_consumer error and the close are queued, and writes
// are cut after CloseGrace however blocked they are.
func (s *Session) slow() {
	e := apierr.Errorf(protocol.CodeSlowConsumer,
		"the client did not read its frames: more than %d bytes were waiting", s.m.cfg.OutboundBytes)
	if s.out.close(true, errorReply("", "", e), CloseSlowConsumer) {
		s.t.LimitWrites(time.Now().Add(s.m.cfg.CloseGrace))
		s.logger().Info("slow consumer disconnected", "outboundBytes", s.m.cfg.OutboundBytes)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
