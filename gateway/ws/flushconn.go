package ws

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// flushConn wraps a hijacked connection so that the writer can coalesce:
// between begin and flush, every frame gorilla writes is appended to one
// buffer, and flush hands the lot to the kernel in one write. Outside a
// batch, writes (gorilla's automatic pong and close replies) go straight
// through.
//
// It also owns the write deadline: limit sets a hard deadline (used when the
// connection is being closed) that no later deadline can extend, so a blocked
// write of a slow consumer ends in bounded time.
//
// Write and flush are serialised by mu, which is held during the network
// write so that frames never interleave; SetWriteDeadline and limit do not
// take mu, so they can cut a write that is blocked.
type flushConn struct {
	net.Conn
	rd        lazyReader // Read: see lazyread.go
	mu        sync.Mutex
	buffering bool
	buf       []byte
	deadline  atomic.Int64 // unix ns asked for by SetWriteDeadline; 0: none
	hardLimit atomic.Int64 // unix ns; 0: none
}

// Buffers larger than this are not kept between batches.
const maxKeptBuffer = 256 << 10

var batchBuffers = sync.Pool{New: func() any { return new([]byte) }}

// Read reads through the lazy reader (no buffer held while idle).
func (c *flushConn) Read(p []byte) (int, error) { return c.rd.Read(p) }

func (c *flushConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buffering {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	if err := c.applyDeadline(unixTime(c.deadline.Load())); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// begin starts a batch.
func (c *flushConn) begin() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buffering = true
	if c.buf == nil {
		c.buf = (*batchBuffers.Get().(*[]byte))[:0]
	}
}

// flush ends the batch and writes it with the given deadline.
func (c *flushConn) flush(deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buffering = false
	if len(c.buf) == 0 {
		return nil
	}
	if err := c.applyDeadline(deadline); err != nil {
		return err
	}
	_, err := c.Conn.Write(c.buf)
	buf := c.buf[:0]
	c.buf = nil
	if cap(buf) <= maxKeptBuffer {
		batchBuffers.Put(&buf)
	}
	return err
}

// SetWriteDeadline records t for the next direct Write. It does not touch
// the socket: a deadline meant for a small control frame must not shorten
// or lift the one of a batch being flushed.
func (c *flushConn) SetWriteDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.deadline.Store(ns)
	return nil
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// applyDeadline sets t, or the hard limit when t is later, on the socket.
// c.mu must be held.
func (c *flushConn) applyDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(c.capped(t)); err != nil {
		return err
	}
	// limit may have run between capped and the call above: re-apply it.
	if hl := c.hardLimit.Load(); hl != 0 {
		return c.Conn.SetWriteDeadline(c.capped(t))
	}
	return nil
}

func (c *flushConn) capped(t time.Time) time.Time {
	hl := c.hardLimit.Load()
	if hl == 0 {
		return t
	}
	h := time.Unix(0, hl)
	if t.IsZero() || t.After(h) {
		return h
	}
	return t
}

// limit makes t the latest possible write deadline, at once and for good.
func (c *flushConn) limit(t time.Time) {
	if hl := c.hardLimit.Load(); hl != 0 && hl < t.UnixNano() {
		return
	}
	c.hardLimit.Store(t.UnixNano())
	_ = c.Conn.SetWriteDeadline(t) // an error here means the conn is closed already
}
