// Package ws is the WebSocket transport of sessions (session.Transport),
// on gorilla/websocket. It owns the socket: the upgrade, a read side that
// holds no buffer while the client is idle (lazyread.go), a write side
// that coalesces a batch of frames into one write and enforces the write
// deadlines the session passes (flushconn.go), the frame size limit, the
// idle read deadline, pings and the close handshake. Which frames to send
// and when to give up on a client are the session's decisions.
package ws

import (
	"bufio"
	"net"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Config sets up the WebSocket transports of one endpoint.
type Config struct {
	// Subprotocol is the one subprotocol the endpoint speaks; the client
	// must offer it (Offered).
	Subprotocol string
	// MaxFrameBytes is the largest message a client may send; Receive
	// refuses a larger one with session.ErrTooLarge.
	MaxFrameBytes int64
	// Idle is how long a client may stay silent (no frame, no pong) before
	// Receive fails.
	Idle time.Duration
	// Error answers a failed upgrade (see websocket.Upgrader.Error).
	Error func(w http.ResponseWriter, r *http.Request, status int, reason error)
}

// Upgrader turns HTTP requests into WebSocket transports. Safe for
// concurrent use.
type Upgrader struct {
	cfg Config
	up  websocket.Upgrader
}

// readBufferSize is gorilla's own read buffer per connection: at least a
// control frame's payload (125 bytes), which gorilla peeks at whole.
const readBufferSize = 256

// NewUpgrader returns an upgrader for cfg.
func NewUpgrader(cfg Config) *Upgrader {
	return &Upgrader{cfg: cfg, up: websocket.Upgrader{
		// A small buffer of gorilla's own over flushConn's lazy reader, which
		// holds a pooled buffer only while bytes are waiting (lazyread.go).
		ReadBufferSize:  readBufferSize,
		WriteBufferSize: 16 << 10,
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{cfg.Subprotocol},
		// No authentication yet: every origin is accepted (docs/protocol.md).
		CheckOrigin: func(*http.Request) bool { return true },
		Error:       cfg.Error,
		// EnableCompression stays false: no permessage-deflate, no compression bombs.
	}}
}

// Offered reports whether the client offers the endpoint's subprotocol.
func (u *Upgrader) Offered(r *http.Request) bool {
	return slices.Contains(websocket.Subprotocols(r), u.cfg.Subprotocol)
}

// Upgrade answers the handshake and returns the connection's transport.
// On failure the client has been answered (Config.Error).
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request) (*Transport, error) {
	hj := &hijacker{ResponseWriter: w}
	c, err := u.up.Upgrade(hj, r, nil)
	if err != nil {
		return nil, err
	}
	return newTransport(c, hj.fc, u.cfg), nil
}

// hijacker wraps a ResponseWriter so that the upgrade hijacks into a flushConn.
type hijacker struct {
	http.ResponseWriter
	fc *flushConn
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.fc = &flushConn{Conn: nc, rd: lazyReader{next: nc}}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			h.fc.rd.raw = raw
		}
	}
	return h.fc, brw, nil
}
