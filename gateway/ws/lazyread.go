package ws

import (
	"errors"
	"io"
	"sync"
	"syscall"
)

// Reading without a buffer while idle. gorilla reads through a small
// bufio.Reader (readBufferSize) over flushConn.Read, which waits for the
// socket to become readable without holding any buffer (syscall.RawConn),
// then reads what is there into a pooled chunk and serves it until it is
// drained, when the chunk goes back to the pool. A busy connection still
// gets up to readChunk bytes per read syscall; an idle one holds no read
// buffer beyond gorilla's small one.

// readChunk is the size of a pooled read.
const readChunk = 16 << 10

var readChunks = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// lazyReader is flushConn's read side. Only the connection's reader
// goroutine (gorilla's bufio.Reader) calls Read.
type lazyReader struct {
	raw   syscall.RawConn // nil: not a socket; reads go to next
	next  io.Reader
	chunk *[]byte // pooled; nil while idle
	data  []byte  // unread part of chunk
}

func (r *lazyReader) Read(p []byte) (int, error) {
	if r.raw == nil {
		return r.next.Read(p)
	}
	if len(r.data) == 0 {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		readChunks.Put(r.chunk)
		r.chunk, r.data = nil, nil
	}
	return n, nil
}

// fill waits until the socket is readable (deadline and close apply), then
// reads into a pooled chunk.
func (r *lazyReader) fill() error {
	var n int
	var rerr error
	err := r.raw.Read(func(fd uintptr) bool {
		chunk := readChunks.Get().(*[]byte)
		n, rerr = readNoEINTR(int(fd), *chunk)
		if errors.Is(rerr, syscall.EAGAIN) {
			readChunks.Put(chunk) // nothing there: wait without the buffer
			return false
		}
		if n > 0 {
			r.chunk, r.data = chunk, (*chunk)[:n]
		} else {
			readChunks.Put(chunk)
		}
		return true
	})
	switch {
	case err != nil:
		return err // deadline, or the socket was closed
	case rerr != nil:
		return rerr
	case n == 0:
		return io.EOF
	}
	return nil
}

func readNoEINTR(fd int, p []byte) (int, error) {
	for {
		n, err := syscall.Read(fd, p)
		if !errors.Is(err, syscall.EINTR) {
			return max(n, 0), err
		}
	}
}
