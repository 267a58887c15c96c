// Package lb is a round-robin TCP load balancer on loopback for tests: the
// stand-in for a Kubernetes Service or a cloud load balancer without sticky
// sessions in front of a cluster of real "carrier serve" processes. Every
// accepted connection goes to the next backend in turn (a dial that fails
// moves on to the next one, as nginx's proxy_next_upstream does), and the
// proxy records where each connection went and the first line the client
// sent on it, so a test can tell which node served a handshake and which an
// upgrade. See DESIGN.md.
package lb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// dialTimeout bounds the connect to one backend.
const dialTimeout = 2 * time.Second

// maxFirstLine is how much of a connection's first line is recorded.
const maxFirstLine = 512

// Conn is one connection the proxy passed on.
type Conn struct {
	N         int    // 1 for the first connection accepted
	Backend   string // host:port it went to ("" when every dial failed)
	FirstLine string // what the client sent first, up to the end of line or maxFirstLine bytes
}

// Options tune a Proxy; the zero value is plain round robin.
type Options struct {
	// Pick returns the index of the backend the n-th connection (from 1)
	// tries first, among count; nil: (n-1) mod count, round robin.
	Pick func(n, count int) int
}

// Proxy is a running load balancer. Methods are safe for concurrent use.
type Proxy struct {
	ln   net.Listener
	opts Options
	wg   sync.WaitGroup

	mu       sync.Mutex
	backends []string
	n        int
	conns    []*Conn
	active   map[net.Conn]bool // closed by Close, so that it never waits on a peer
	closed   bool
}

// Start listens on listen (a loopback host:port; port 0 picks one) and
// passes each connection to one of backends (host:port).
func Start(listen string, backends []string, opts Options) (*Proxy, error) {
	if len(backends) == 0 {
		return nil, errors.New("lb: no backends")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("lb: %w", err)
	}
	p := &Proxy{ln: ln, opts: opts, backends: slices.Clone(backends), active: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the host:port clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is "http://" + Addr.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// SetBackends replaces the backends for the connections accepted from now
// on; with none, new connections are closed at once (a Service without
// endpoints). Connections already made stay.
func (p *Proxy) SetBackends(backends []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backends = slices.Clone(backends)
}

// Conns returns a copy of the record of every connection so far.
func (p *Proxy) Conns() []Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Conn, len(p.conns))
	for i, c := range p.conns {
		out[i] = *c
	}
	return out
}

// Close stops accepting, closes every connection in both directions and
// waits for the proxy's goroutines.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.active {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		if !p.track(c) {
			return
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// track adds c to the connections Close closes; false (and c closed) once
// the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.active[c] = true
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.active, c)
	p.mu.Unlock()
	_ = c.Close()
}

// serve joins client to a backend until both directions are done.
func (p *Proxy) serve(client net.Conn) {
	defer p.untrack(client)
	rec, order := p.next()
	backend, addr := dialFirst(order)
	p.mu.Lock()
	rec.Backend = addr
	p.mu.Unlock()
	if backend == nil || !p.track(backend) {
		return
	}
	defer p.untrack(backend)
	done := make(chan struct{}, 2)
	go func() { pipe(backend, &firstLine{r: client, p: p, rec: rec}); done <- struct{}{} }()
	go func() { pipe(client, backend); done <- struct{}{} }()
	<-done
	<-done
}

// next records a new connection and returns the backends in the order it
// tries them.
func (p *Proxy) next() (*Conn, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	rec := &Conn{N: p.n}
	p.conns = append(p.conns, rec)
	if len(p.backends) == 0 {
		return rec, nil
	}
	first := (p.n - 1) % len(p.backends)
	if p.opts.Pick != nil {
		first = p.opts.Pick(p.n, len(p.backends)) % len(p.backends)
	}
	return rec, append(slices.Clone(p.backends[first:]), p.backends[:first]...)
}

// dialFirst connects to the first backend of order that accepts.
func dialFirst(order []string) (net.Conn, string) {
	for _, addr := range order {
		if c, err := net.DialTimeout("tcp", addr, dialTimeout); err == nil {
			return c, addr
		}
	}
	return nil, ""
}

// pipe copies src to dst, then half-closes dst so its reader sees the end.
func pipe(dst net.Conn, src io.Reader) {
	_, _ = io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// firstLine reads from r and records the start of what it read in rec.
type firstLine struct {
	r    io.Reader
	p    *Proxy
	rec  *Conn
	done bool
}

func (f *firstLine) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if !f.done && n > 0 {
		f.done = true
		line := b[:min(n, maxFirstLine)]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = bytes.TrimSuffix(line[:i], []byte("\r"))
		}
		f.p.mu.Lock()
		f.rec.FirstLine = string(line)
		f.p.mu.Unlock()
	}
	return n, err
}
