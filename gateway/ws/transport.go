package ws

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/carriermq/carrier/gateway/session"
)

// Transport is one WebSocket connection as a session.Transport. Its
// threading rules are that interface's.
type Transport struct {
	ws       *websocket.Conn
	fc       *flushConn // the socket under ws: batches and write deadlines
	maxFrame int64
	idle     time.Duration
	dl       readDeadline // reader goroutine only (Receive and the pong handler)
}

var _ session.Transport = (*Transport)(nil)

func newTransport(c *websocket.Conn, fc *flushConn, cfg Config) *Transport {
	t := &Transport{ws: c, fc: fc, maxFrame: cfg.MaxFrameBytes, idle: cfg.Idle}
	c.SetPongHandler(func(string) error { return t.dl.extend(t.ws, t.idle) })
	return t
}

// readDeadline moves a connection's read deadline to now+idle, but at most
// every idle/16: resetting the socket's timer for every frame cost ~4% of
// the publish path's CPU. A connection is therefore cut after between
// 15/16 of idle and idle without a frame.
type readDeadline struct{ set time.Time }

func (d *readDeadline) extend(ws *websocket.Conn, idle time.Duration) error {
	now := time.Now()
	if now.Sub(d.set) < idle/16 {
		return nil
	}
	d.set = now
	return ws.SetReadDeadline(now.Add(idle))
}

// readBuffers hold messages being read; pooled so that an idle connection
// holds none.
var readBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Receive reads the next message, at most MaxFrameBytes of it, and hands
// it to handle. A normal close by the client is io.EOF.
func (t *Transport) Receive(handle func(session.Inbound)) error {
	if err := t.dl.extend(t.ws, t.idle); err != nil {
		return fmt.Errorf("websocket read deadline: %w", err)
	}
	typ, r, err := t.ws.NextReader()
	if err != nil {
		return readEnd(err)
	}
	buf := readBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 { // do not keep a large message's buffer
			readBuffers.Put(buf)
		}
	}()
	buf.Reset()
	n, err := buf.ReadFrom(io.LimitReader(r, t.maxFrame+1))
	switch {
	case err != nil:
		return readEnd(err)
	case n > t.maxFrame:
		return session.ErrTooLarge
	}
	kind := session.Text
	if typ != websocket.TextMessage {
		kind = session.Binary
	}
	handle(session.Inbound{Kind: kind, Data: buf.Bytes()})
	return nil
}

// readEnd wraps a read error; a normal close is io.EOF.
func readEnd(err error) error {
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
		return fmt.Errorf("websocket closed by the client: %w", io.EOF)
	}
	return fmt.Errorf("websocket read: %w", err)
}

// Drain discards frames until the client answers the close, fails, or
// deadline passes. gorilla's own limit ends the drain at the next frame
// that is too large; the rest of the current one is bounded by deadline.
func (t *Transport) Drain(deadline time.Time) {
	t.ws.SetReadLimit(t.maxFrame)
	_ = t.ws.SetReadDeadline(deadline)
	for {
		if _, _, err := t.ws.NextReader(); err != nil {
			return
		}
	}
}

// Begin starts buffering frames for one write.
func (t *Transport) Begin() { t.fc.begin() }

// WriteFrame frames b as a text or binary message into the batch.
func (t *Transport) WriteFrame(kind session.Kind, b []byte) error {
	typ := websocket.TextMessage
	if kind == session.Binary {
		typ = websocket.BinaryMessage
	}
	return t.ws.WriteMessage(typ, b)
}

// Flush writes the batch in one write.
func (t *Transport) Flush(deadline time.Time) error { return t.fc.flush(deadline) }

// Ping writes a ping control frame at once.
func (t *Transport) Ping(deadline time.Time) error {
	t.fc.begin()
	err := t.ws.WriteControl(websocket.PingMessage, nil, deadline)
	return errors.Join(err, t.fc.flush(deadline))
}

// WriteClose writes the close frame for reason into the batch: 1001 going
// away, 1008 slow consumer (policy violation), 1009 frame too large, 1002
// protocol error.
func (t *Transport) WriteClose(reason session.CloseReason, deadline time.Time) error {
	code, text := closeCode(reason)
	return t.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), deadline)
}

func closeCode(reason session.CloseReason) (int, string) {
	switch reason {
	case session.CloseGoingAway:
		return websocket.CloseGoingAway, "server shutting down"
	case session.CloseSlowConsumer:
		return websocket.ClosePolicyViolation, "slow consumer"
	case session.CloseTooLarge:
		return websocket.CloseMessageTooBig, "frame too large"
	case session.CloseProtocolError:
		return websocket.CloseProtocolError, "protocol error"
	}
	return websocket.CloseInternalServerErr, "closing"
}

// LimitWrites caps every write deadline at deadline, at once.
func (t *Transport) LimitWrites(deadline time.Time) { t.fc.limit(deadline) }

// Abort closes the socket (it may be closed already).
func (t *Transport) Abort() { _ = t.ws.Close() }
