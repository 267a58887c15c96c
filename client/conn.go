package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/carriermq/carrier/protocol"
)

// conn is one WebSocket connection to one node. Writes are serialised by
// wmu (gorilla allows one concurrent writer); exactly one reader goroutine
// (Client.readLoop) reads from it and closes done when it exits.
type conn struct {
	ws           *websocket.Conn
	bc           *batchConn // the socket under ws
	url          string
	gen          uint64 // connection generation, set by Client.install under Client.mu
	writeTimeout time.Duration
	started      time.Time

	deadlineSet time.Time // reader only: when read last moved the read deadline

	// noLeaderSince is when the node began answering publishes with
	// not_leader without a publish succeeding since (zero: it serves);
	// moving is set once the client gave up on it. Client.mu guards both.
	noLeaderSince time.Time
	moving        bool

	wmu  sync.Mutex    // serialises enqueue (gorilla allows one writer)
	wake chan struct{} // cap 1: frames are queued for writeLoop
	done chan struct{} // closed when the reader has exited
}

// dial opens a WebSocket to url offering carrier.v1 and insists the server
// picked it.
func dial(ctx context.Context, url string, o Options) (*conn, error) {
	d := websocket.Dialer{
		Subprotocols:     []string{protocol.Subprotocol},
		HandshakeTimeout: o.DialTimeout,
		ReadBufferSize:   16 << 10,
		WriteBufferSize:  16 << 10,
	}
	var bc *batchConn
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		bc = &batchConn{Conn: nc, timeout: o.WriteTimeout}
		return bc, nil
	}
	// For wss the batching sits above TLS: a batch is encrypted in one
	// write, and TLS records never leave out of order (gorilla's direct
	// pong and close writes bypass the batch).
	d.NetDialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		tc, err := dialTLS(ctx, network, addr, o.TLS)
		if err != nil {
			return nil, err
		}
		bc = &batchConn{Conn: tc, timeout: o.WriteTimeout}
		return bc, nil
	}
	ws, resp, err := d.DialContext(ctx, url, o.Header)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, handshakeError(resp, err))
	}
	if ws.Subprotocol() != protocol.Subprotocol {
		ws.Close()
		return nil, fmt.Errorf("dial %s: server did not accept subprotocol %s", url, protocol.Subprotocol)
	}
	ws.SetReadLimit(o.MaxFrameBytes)
	c := &conn{ws: ws, bc: bc, url: url, writeTimeout: o.WriteTimeout, started: time.Now(), wake: make(chan struct{}, 1), done: make(chan struct{})}
	return c, nil
}

// handshakeError prefers the server's JSON error body (for example 503
// too_many_connections) over gorilla's generic "bad handshake".
func handshakeError(resp *http.Response, err error) error {
	if resp == nil || resp.Body == nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Error *protocol.ErrorBody `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &body) == nil && body.Error != nil {
		return &Error{Code: body.Error.Code, Message: body.Error.Message}
	}
	if m, ok := explainPlain(resp.StatusCode, b); ok {
		return fmt.Errorf("%w: %s: %w (HTTP %d)", ErrTLSMismatch, m, err, resp.StatusCode)
	}
	return fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
}

// write sends one text frame (enqueue, then flush). Safe for concurrent use.
func (c *conn) write(b []byte) error {
	if err := c.enqueue(b); err != nil {
		return err
	}
	return c.flush()
}

// enqueue frames b as a text message and queues it for the next flush,
// after every frame queued before. It does not touch the network, so it is
// cheap enough to call with Client.mu held. Safe for concurrent use.
func (c *conn) enqueue(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.bc.setQueuing(true)
	defer c.bc.setQueuing(false)
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("write to %s: %w", c.url, err)
	}
	return nil
}

// flush has the connection's writer send the queued frames; it does not
// wait for the network. Safe for concurrent use.
func (c *conn) flush() error {
	select {
	case c.wake <- struct{}{}:
	default: // a wake-up is pending already: that write takes these frames too
	}
	return nil
}

// writeLoop is the connection's writer: on every wake-up it sends all the
// frames queued so far in one write, so a producer that queues frames one
// by one (PublishAsync in a loop) gets them batched while the previous write
// is on the wire. A failed write aborts the connection. It ends when the
// reader has exited.
func (c *conn) writeLoop(log func(error)) {
	for {
		select {
		case <-c.wake:
			if err := c.bc.flush(); err != nil {
				log(fmt.Errorf("write to %s: %w", c.url, err))
				c.abort()
				return
			}
		case <-c.done:
			return
		}
	}
}

// shutdown says goodbye with close code 1000 (best effort) and closes the
// socket, which ends the reader.
func (c *conn) shutdown() {
	c.wmu.Lock()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "client closing")
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	c.wmu.Unlock()
	c.ws.Close()
}

// abort closes the socket without a close frame; the reader then exits and
// the client reconnects. Safe to call more than once and from any goroutine.
func (c *conn) abort() { c.ws.Close() }

// read returns the next frame, waiting at most timeout for it.
// The deadline is moved at most every timeout/16 (resetting the socket's
// timer for every frame is a measurable cost), so the reader gives up after
// between 15/16 of timeout and timeout without a frame. Reader only.
func (c *conn) read(timeout time.Duration) (*protocol.Frame, error) {
	if now := time.Now(); now.Sub(c.deadlineSet) >= timeout/16 {
		c.deadlineSet = now
		if err := c.ws.SetReadDeadline(now.Add(timeout)); err != nil {
			return nil, err
		}
	}
	typ, b, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	if typ != websocket.TextMessage {
		return nil, errors.New("unexpected binary frame")
	}
	var f protocol.Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode frame: %w", err)
	}
	return &f, nil
}
