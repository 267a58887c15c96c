package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
)

// forwardServerWindow bounds the requests of one connection being worked on
// at once; the connection's reader stops reading beyond it (backpressure).
const forwardServerWindow = 2 * forwardWindow

// fwdServer is the leader's end of forwarding. Each forward connection has a
// reader goroutine that decodes a request and puts its commands, in order,
// into this node's batcher (so they share entries and fsyncs with local
// writes and with other followers' requests), then a goroutine per request
// that waits for the commands' outcomes and writes one response. A node
// that is not the leader answers every command with the not-leader status.
// It never forwards again: a request goes to one node at most.
//
// Lifetime: handle is installed on the mux once the batcher runs; close
// cancels the proposals still queued, closes every connection and waits for
// every goroutine. close must be called after the batcher is closed, so
// requests in flight get their real outcome first.
type fwdServer struct {
	g      *group
	log    *slog.Logger
	ctx    context.Context // ends on close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // guarded by mu
	closed bool                  // guarded by mu
}

func newFwdServer(g *group) *fwdServer {
	ctx, cancel := context.WithCancel(context.Background())
	return &fwdServer{g: g, log: g.log.With("part", "forward-server"), ctx: ctx, cancel: cancel,
		conns: make(map[net.Conn]struct{})}
}

// handle takes over a forward connection (its first byte already read) and
// serves it on a new goroutine. Called by the mux.
func (s *fwdServer) handle(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = nc.Close()
		return
	}
	s.conns[nc] = struct{}{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.serve(nc)
	}()
}

func (s *fwdServer) close() {
	s.mu.Lock()
	s.closed = true
	for nc := range s.conns {
		_ = nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// serve reads requests until the connection ends, then waits for the
// requests it started and closes the connection.
func (s *fwdServer) serve(nc net.Conn) {
	var reqs sync.WaitGroup
	defer func() {
		reqs.Wait()
		_ = nc.Close()
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
	}()
	r := bufio.NewReaderSize(nc, 64<<10)
	if v, err := r.ReadByte(); err != nil || v != forwardVersion {
		s.log.Warn("refusing a forward connection", "remote", nc.RemoteAddr(), "version", v, "err", err)
		return
	}
	w := &frameWriter{w: bufio.NewWriterSize(nc, 64<<10)}
	sem := make(chan struct{}, forwardServerWindow)
	for {
		id, payload, err := readFrame(r)
		if err != nil {
			s.logReadError(nc, err)
			return
		}
		props, err := s.enqueue(payload)
		if err != nil {
			s.log.Error("dropping a forward connection: undecodable request", "remote", nc.RemoteAddr(), "err", err)
			return
		}
		select {
		case sem <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		reqs.Add(1)
		go func() {
			defer reqs.Done()
			defer func() { <-sem }()
			s.respond(nc, w, id, props)
		}()
	}
}

func (s *fwdServer) logReadError(nc net.Conn, err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return
	}
	s.log.Debug("forward connection ended", "remote", nc.RemoteAddr(), "err", err)
}

// enqueue decodes a request and queues its commands in order. A command
// that cannot be queued (not the leader, batcher closed) gets its outcome
// at once.
func (s *fwdServer) enqueue(payload []byte) ([]*proposal, error) {
	e, err := queue.DecodeEntry(payload)
	if err != nil {
		return nil, fmt.Errorf("decode forward request: %w", err)
	}
	leading := s.g.raft.State() == raft.Leader
	props := make([]*proposal, len(e.Commands))
	for i, cmd := range e.Commands {
		if !leading {
			props[i] = answered(s.ctx, cmd, fmt.Errorf("%w: %s is not the leader", ErrNotLeader, s.g.nodeID))
			continue
		}
		p, err := s.g.batcher.enqueueForwarded(s.ctx, cmd)
		if err != nil {
			p = answered(s.ctx, cmd, err)
		}
		props[i] = p
	}
	return props, nil
}

// answered is a proposal that already has its outcome.
func answered(ctx context.Context, cmd queue.Command, err error) *proposal {
	p := newProposal(ctx, cmd)
	p.done <- outcome{err: err}
	return p
}

// respond waits for the outcomes of props and writes them as the response
// to request id. A failed write closes the connection (its reader ends).
func (s *fwdServer) respond(nc net.Conn, w *frameWriter, id uint64, props []*proposal) {
	buf := make([]byte, 0, 16*len(props))
	for _, p := range props {
		buf = appendOutcome(buf, s.g.batcher.await(s.ctx, p))
	}
	if err := w.write(id, buf); err != nil {
		s.log.Debug("writing a forward response failed", "remote", nc.RemoteAddr(), "err", err)
		_ = nc.Close()
	}
}

// frameWriter serialises the response writers of one connection.
type frameWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (fw *frameWriter) write(id uint64, payload []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return writeFrame(fw.w, id, payload)
}
