package engineio

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/gateway/ws"
)

// mode is which carrier a Conn's packets take.
type mode uint8

const (
	modePolling   mode = iota + 1
	modeUpgrading      // a WebSocket passed the probe; polls are answered with a noop until "5"
	modeWebSocket      // upgraded, or opened as a WebSocket
	modeClosed
)

var (
	errClosed       = errors.New("engine.io session closed")
	errPingTimeout  = errors.New("engine.io ping timeout: no pong in time")
	errPollOverlap  = errors.New("engine.io: a second GET while one was pending")
	errPostOverlap  = errors.New("engine.io: a second POST while one was being read")
	errPollGone     = errors.New("engine.io: the client closed its pending GET")
	errWriteTimeout = errors.New("engine.io: no poll arrived to carry the batch in time")
	errHeartbeat    = errors.New("engine.io: a client may not ping (protocol v4)")
)

// Conn is one Engine.IO session as one session.Transport, whatever carries
// it: HTTP long-polling (a pending GET takes each batch, POSTs bring the
// client's packets), a WebSocket, or polling and then, after the upgrade,
// a WebSocket. The session never sees the switch: a batch flushed during
// the upgrade waits for a poll or for the WebSocket, whichever comes.
//
// Its threading is session.Transport's: Receive on the session's reader,
// the writes on its writer; the HTTP handlers of polls, posts and the
// upgrade meet them under mu.
type Conn struct {
	srv *Server
	sid string

	mu      sync.Mutex
	mode    mode
	get     *poll         // the pending GET; nil when none
	posting bool          // a POST is being read
	probing *ws.Transport // a WebSocket in its upgrade probe
	ws      *ws.Transport // modeWebSocket
	limit   time.Time     // LimitWrites; zero: none
	err     error         // why it closed
	changed chan struct{} // closed and replaced on every change of the fields above
	pong    *time.Timer   // armed by Ping, stopped by a pong
	waiting bool          // a ping is unanswered: later pings do not move the deadline

	inbox chan *post    // a POST's packets, for the reader
	dead  chan struct{} // closed with modeClosed

	// the batch being written; the writer's only
	frames []frameRef
	buf    []byte
	close  session.CloseReason
}

// poll is a pending GET: the writer hands it one payload, the handler
// writes it and reports.
type poll struct {
	payload chan pollPayload
	done    chan error
}

type pollPayload struct {
	data     []byte
	deadline time.Time
}

// post is a POST's packets; the reader reports on done when it has
// handled them. tooLarge: the body was over the limit.
type post struct {
	packets  []packet
	tooLarge bool
	done     chan error
}

type frameRef struct {
	kind       session.Kind
	start, end int
}

var _ session.Transport = (*Conn)(nil)

func newConn(srv *Server, sid string, m mode, t *ws.Transport) *Conn {
	return &Conn{srv: srv, sid: sid, mode: m, ws: t, changed: make(chan struct{}),
		inbox: make(chan *post), dead: make(chan struct{})}
}

// signal wakes whoever waits for a change. c.mu must be held.
func (c *Conn) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// state returns what Receive and Flush decide on.
func (c *Conn) state() (mode, *ws.Transport, chan struct{}, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode, c.ws, c.changed, c.err
}

// Receive hands over the client's next messages: the packets of one POST,
// or one WebSocket message. Pongs and noops are handled here; a close
// packet is io.EOF.
func (c *Conn) Receive(handle func(session.Inbound)) error {
	for {
		m, t, changed, err := c.state()
		switch m {
		case modeWebSocket:
			return c.receiveWS(t, handle)
		case modeClosed:
			return err
		}
		select {
		case p := <-c.inbox:
			err := c.receivePost(p, handle)
			p.done <- err
			return err
		case <-changed:
		}
	}
}

func (c *Conn) receivePost(p *post, handle func(session.Inbound)) error {
	if p.tooLarge {
		return session.ErrTooLarge
	}
	for _, pk := range p.packets {
		if err := c.onPacket(pk, handle); err != nil {
			return err
		}
	}
	return nil
}

// onPacket handles one client packet.
func (c *Conn) onPacket(p packet, handle func(session.Inbound)) error {
	switch p.typ {
	case typeMessage:
		handle(session.Inbound{Kind: p.kind, Data: p.data})
	case typePong:
		c.gotPong()
	case typeClose:
		return fmt.Errorf("engine.io close packet: %w", io.EOF)
	case typePing:
		return errHeartbeat
	}
	return nil // open, upgrade, noop: nothing to do
}

// receiveWS reads one WebSocket message.
func (c *Conn) receiveWS(t *ws.Transport, handle func(session.Inbound)) error {
	var perr error
	err := t.Receive(func(m session.Inbound) {
		if m.Kind == session.Binary {
			handle(m)
			return
		}
		var p packet
		if p, perr = decodePacket(m.Data, false); perr == nil {
			perr = c.onPacket(p, handle)
		}
	})
	if err != nil {
		return err
	}
	return perr
}

// Drain discards what a WebSocket client still sends (polling: nothing to do).
func (c *Conn) Drain(deadline time.Time) {
	if m, t, _, _ := c.state(); m == modeWebSocket {
		t.Drain(deadline)
	}
}

// Begin starts a batch.
func (c *Conn) Begin() {
	c.frames, c.buf, c.close = c.frames[:0], c.buf[:0], 0
}

// WriteFrame adds a message packet to the batch.
func (c *Conn) WriteFrame(kind session.Kind, b []byte) error {
	start := len(c.buf)
	if kind == session.Text {
		c.buf = append(c.buf, typeMessage)
	}
	c.buf = append(c.buf, b...)
	c.frames = append(c.frames, frameRef{kind: kind, start: start, end: len(c.buf)})
	return nil
}

func (c *Conn) addControl(typ byte) {
	start := len(c.buf)
	c.buf = append(c.buf, typ)
	c.frames = append(c.frames, frameRef{kind: session.Text, start: start, end: len(c.buf)})
}

// Ping writes a ping packet; no pong within PingTimeout closes the session.
// The timer is armed before the write, so a fast pong cannot precede it.
func (c *Conn) Ping(deadline time.Time) error {
	c.Begin()
	c.addControl(typePing)
	c.armPong()
	return c.Flush(deadline)
}

func (c *Conn) armPong() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting {
		return
	}
	c.waiting = true
	if c.pong == nil {
		c.pong = time.AfterFunc(c.srv.cfg.PingTimeout, func() { c.fail(errPingTimeout) })
		return
	}
	c.pong.Reset(c.srv.cfg.PingTimeout)
}

func (c *Conn) gotPong() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pong != nil {
		c.pong.Stop()
	}
	c.waiting = false
}

// WriteClose adds the close packet to the batch (and, on a WebSocket, the
// close frame for reason).
func (c *Conn) WriteClose(reason session.CloseReason, _ time.Time) error {
	c.addControl(typeClose)
	c.close = reason
	return nil
}

// Flush sends the batch: over the WebSocket, or as the answer to the
// pending GET, waiting for one until deadline.
func (c *Conn) Flush(deadline time.Time) error {
	if len(c.frames) == 0 {
		return nil
	}
	for {
		c.mu.Lock()
		dl := capDeadline(deadline, c.limit)
		switch c.mode {
		case modeWebSocket:
			t := c.ws
			c.mu.Unlock()
			return c.flushWS(t, dl)
		case modeClosed:
			err := c.err
			c.mu.Unlock()
			return err
		}
		if g := c.get; g != nil {
			c.get = nil
			c.mu.Unlock()
			return c.flushPoll(g, dl)
		}
		changed := c.changed
		c.mu.Unlock()
		if !waitUntil(changed, dl) {
			return errWriteTimeout
		}
	}
}

func capDeadline(t, limit time.Time) time.Time {
	if !limit.IsZero() && limit.Before(t) {
		return limit
	}
	return t
}

// waitUntil waits for ch; false when deadline passes first.
func waitUntil(ch chan struct{}, deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

func (c *Conn) flushWS(t *ws.Transport, deadline time.Time) error {
	t.Begin()
	for _, f := range c.frames {
		if err := t.WriteFrame(f.kind, c.buf[f.start:f.end]); err != nil {
			return err
		}
	}
	if c.close != 0 {
		if err := t.WriteClose(c.close, deadline); err != nil {
			return err
		}
	}
	return t.Flush(deadline)
}

// flushPoll hands the batch to GET g as one payload and waits until it is written.
func (c *Conn) flushPoll(g *poll, deadline time.Time) error {
	var payload []byte
	for _, f := range c.frames {
		payload = appendPolling(payload, frame{kind: f.kind, data: c.buf[f.start:f.end]})
	}
	g.payload <- pollPayload{data: payload, deadline: deadline}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case err := <-g.done:
		return err
	case <-t.C:
		return errWriteTimeout
	}
}

// LimitWrites caps every write deadline at t, at once.
func (c *Conn) LimitWrites(t time.Time) {
	c.mu.Lock()
	if c.limit.IsZero() || t.Before(c.limit) {
		c.limit = t
	}
	w := c.ws
	c.signal()
	c.mu.Unlock()
	if w != nil {
		w.LimitWrites(t)
	}
}

// Abort ends the session at once.
func (c *Conn) Abort() { c.fail(errClosed) }

// fail closes the session with err: a pending GET gets the close packet,
// the WebSocket (and one in its probe) is closed, the sid is forgotten.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.mode == modeClosed {
		c.mu.Unlock()
		return
	}
	c.mode, c.err = modeClosed, err
	g, t, probe := c.get, c.ws, c.probing
	c.get = nil
	if c.pong != nil {
		c.pong.Stop()
	}
	close(c.dead)
	c.signal()
	c.mu.Unlock()
	if g != nil {
		g.payload <- pollPayload{data: []byte{typeClose}, deadline: time.Now().Add(c.srv.cfg.WriteTimeout)}
	}
	for _, w := range []*ws.Transport{t, probe} {
		if w != nil {
			w.Abort()
		}
	}
	c.srv.forget(c)
}
