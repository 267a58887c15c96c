package cluster

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
)

// forwardVersion is the second byte of a forward connection (after
// forwardStreamByte): the version of the framing and outcome encoding.
const forwardVersion byte = 1

// maxForwardFrame bounds one frame's payload. A request carries at most
// MaxBatchBytes of commands, or one larger command alone; 64 MiB is far
// above any message a queue accepts.
const maxForwardFrame = 64 << 20

// frameHeader is a frame's payload length (uint32) and request id (uint64),
// big-endian. A request's payload is queue.EncodeEntry of its commands
// (time 0: the leader stamps its own); a response's is one outcome per
// command of the request with that id (resultcodec.go).
const frameHeader = 12

func writeFrame(w *bufio.Writer, id uint64, payload []byte) error {
	if len(payload) > maxForwardFrame {
		return fmt.Errorf("forward frame of %d bytes exceeds %d", len(payload), maxForwardFrame)
	}
	var h [frameHeader]byte
	binary.BigEndian.PutUint32(h[:4], uint32(len(payload)))
	binary.BigEndian.PutUint64(h[4:], id)
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	if _, err := w.Write(payload); err != nil {
		return err
	}
	return w.Flush()
}

func readFrame(r *bufio.Reader) (uint64, []byte, error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n > maxForwardFrame {
		return 0, nil, fmt.Errorf("forward frame of %d bytes exceeds %d", n, maxForwardFrame)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("read forward frame: %w", err)
	}
	return binary.BigEndian.Uint64(h[4:]), payload, nil
}

// fwdConn is a follower's connection to one leader. One sender (the
// forwarder's run goroutine) calls send; readLoop, on its own goroutine,
// answers the proposals of each request as its response arrives. Requests
// written and not answered when the connection fails get the close error
// (ErrUnknownOutcome by default: the leader may have committed them).
type fwdConn struct {
	leader   string
	log      *slog.Logger
	nc       net.Conn
	w        *bufio.Writer // sender only
	nextID   uint64        // sender only
	window   chan struct{} // one token per request in flight
	dead     chan struct{} // closed when readLoop has answered every pending request
	requests *atomic.Uint64
	commands *atomic.Uint64

	mu      sync.Mutex
	pending map[uint64][]*proposal // guarded by mu
	failErr error                  // guarded by mu; set once by close
}

func newFwdConn(nc net.Conn, leader string, log *slog.Logger, requests, commands *atomic.Uint64) *fwdConn {
	return &fwdConn{
		leader: leader, log: log.With("leader", leader), nc: nc,
		w:      bufio.NewWriterSize(nc, 64<<10),
		window: make(chan struct{}, forwardWindow), dead: make(chan struct{}),
		requests: requests, commands: commands,
		pending: make(map[uint64][]*proposal),
	}
}

// send writes one request carrying batch (encoded as data). It returns
// errConnDead, without sending, when the connection failed first, and
// ErrClosed when stop closed while waiting for a window slot; otherwise the
// batch is answered by readLoop (a failed write closes the connection).
func (c *fwdConn) send(batch []*proposal, data []byte, stop <-chan struct{}) error {
	select {
	case c.window <- struct{}{}:
	case <-c.dead:
		return errConnDead
	case <-stop:
		return ErrClosed
	}
	c.nextID++
	id := c.nextID
	if !c.register(id, batch) {
		<-c.window
		return errConnDead
	}
	c.requests.Add(1)
	c.commands.Add(uint64(len(batch)))
	if err := writeFrame(c.w, id, data); err != nil {
		c.close(fmt.Errorf("%w: write to leader %s: %w", ErrUnknownOutcome, c.leader, err))
	}
	return nil
}

// register records batch as pending under id, unless the connection is closed.
func (c *fwdConn) register(id uint64, batch []*proposal) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failErr != nil {
		return false
	}
	c.pending[id] = batch
	return true
}

// close closes the connection; readLoop then answers the pending requests
// with err (the first close's error wins). Safe from any goroutine.
func (c *fwdConn) close(err error) {
	c.mu.Lock()
	if c.failErr == nil {
		c.failErr = err
	}
	c.mu.Unlock()
	_ = c.nc.Close()
}

func (c *fwdConn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

// readLoop answers requests as their responses arrive, until the
// connection fails; it then answers every pending request and closes dead.
func (c *fwdConn) readLoop() {
	defer close(c.dead)
	r := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		id, payload, err := readFrame(r)
		if err == nil {
			err = c.answer(id, payload)
		}
		if err != nil {
			c.close(fmt.Errorf("%w: connection to leader %s lost: %w", ErrUnknownOutcome, c.leader, err))
			c.failPending()
			return
		}
	}
}

// answer gives each proposal of request id its outcome.
func (c *fwdConn) answer(id uint64, payload []byte) error {
	c.mu.Lock()
	batch, ok := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("response to unknown request %d", id)
	}
	<-c.window
	outs, err := decodeOutcomes(payload, len(batch), c.leader)
	if err != nil {
		for _, p := range batch {
			p.done <- outcome{err: fmt.Errorf("%w: %w", ErrUnknownOutcome, err)}
		}
		return err
	}
	for i, p := range batch {
		p.done <- outs[i]
	}
	return nil
}

// failPending answers every pending request with the close error.
func (c *fwdConn) failPending() {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.failErr
	if err == nil || errors.Is(err, net.ErrClosed) {
		err = fmt.Errorf("%w: connection to leader %s closed", ErrUnknownOutcome, c.leader)
	}
	for id, batch := range c.pending {
		for _, p := range batch {
			p.done <- outcome{err: err}
		}
		delete(c.pending, id)
	}
}
