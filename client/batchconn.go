package client

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// batchConn is the socket under gorilla. While a frame is being queued
// (queuing, set by conn.enqueue under conn.wmu), what gorilla writes is
// appended to pend, and flush hands everything pending to the kernel in one
// write; frames queued by other goroutines while that write is on the wire
// go out with the next one. So a client with many publishes in flight makes
// one syscall per batch instead of one per frame. Writes outside queuing
// (the handshake, gorilla's pong and close replies) go straight to the
// socket.
//
// Locking: mu guards queuing, flushing, pend and spare and is never held
// during a socket write; sendMu is held during every socket write, so
// frames never interleave on the wire.
type batchConn struct {
	net.Conn
	timeout time.Duration // deadline of each flush

	mu       sync.Mutex
	queuing  bool
	flushing bool   // a goroutine is in flush: it will send what is pending
	pend     []byte // frames waiting for the next write
	spare    []byte // the previous write's buffer, reused

	sendMu   sync.Mutex
	deadline atomic.Int64 // unix ns for direct writes, as gorilla asked; 0: none
}

// Buffers larger than this are not kept after a write.
const maxKeptBatch = 1 << 20

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.queuing {
		b.pend = append(b.pend, p...)
		b.mu.Unlock()
		return len(p), nil
	}
	b.mu.Unlock()
	var dl time.Time
	if ns := b.deadline.Load(); ns != 0 {
		dl = time.Unix(0, ns)
	}
	return b.send(p, dl)
}

// SetWriteDeadline records t for direct writes; flush sets its own.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	b.deadline.Store(ns)
	return nil
}

func (b *batchConn) setQueuing(on bool) {
	b.mu.Lock()
	b.queuing = on
	b.mu.Unlock()
}

// flush writes everything pending, unless another goroutine is flushing
// already (it then sends it). An error means the socket failed; frames
// still pending are dropped with it.
func (b *batchConn) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.flushing {
		return nil
	}
	b.flushing = true
	defer func() { b.flushing = false }()
	for len(b.pend) > 0 {
		out := b.pend
		b.pend = b.spare[:0]
		b.mu.Unlock()
		_, err := b.send(out, time.Now().Add(b.timeout))
		b.mu.Lock()
		if cap(out) <= maxKeptBatch {
			b.spare = out[:0]
		}
		if err != nil {
			b.pend = b.pend[:0]
			return err
		}
	}
	return nil
}

func (b *batchConn) send(p []byte, deadline time.Time) (int, error) {
	b.sendMu.Lock()
	defer b.sendMu.Unlock()
	if err := b.Conn.SetWriteDeadline(deadline); err != nil {
		return 0, err
	}
	return b.Conn.Write(p)
}
