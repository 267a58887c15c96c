package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// forwardStreamByte is the first byte a follower writes on a forward
// connection. raft's network transport starts every connection with an RPC
// type (0 to 4 in raft v1.8.0), so any larger value tells the two apart.
const forwardStreamByte byte = 'F'

// classifyTimeout bounds how long an accepted connection may take to
// complete its TLS handshake (with peer TLS) and send its first byte before
// it is dropped.
const classifyTimeout = 10 * time.Second

// muxListener shares the Raft listener between raft's transport and the
// forward server: raft gets every connection whose first byte is an RPC
// type (through Accept), the forward handler those starting with
// forwardStreamByte. One port means one advertised address: a follower
// reaches the leader's forward server at the Raft address raft already
// gives it (LeaderWithID), with no extra flag or gossip field.
//
// Goroutines: one accept loop, plus one per connection until its first
// byte is read (bounded by classifyTimeout). Close stops them all. Accept,
// Close, Addr and setForwardHandler are safe for concurrent use.
type muxListener struct {
	net.Listener
	log   *slog.Logger
	tls   *peerTLS      // nil: plain TCP; else every connection is mutual TLS first (peertls.go)
	raft  chan net.Conn // connections for raft's transport
	done  chan struct{} // closed by Close
	wg    sync.WaitGroup
	once  sync.Once
	mu    sync.Mutex
	onFwd func(net.Conn)       // guarded by mu; nil: forward connections are refused
	conns map[*prefixConn]bool // guarded by mu; raft's open connections
}

func newMuxListener(ln net.Listener, tls *peerTLS, log *slog.Logger) *muxListener {
	m := &muxListener{Listener: ln, log: log, tls: tls, raft: make(chan net.Conn), done: make(chan struct{}),
		conns: make(map[*prefixConn]bool)}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.acceptLoop()
	}()
	return m
}

// setForwardHandler installs the function that takes over forward
// connections (it owns and closes them). It is called once the group runs.
func (m *muxListener) setForwardHandler(h func(net.Conn)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onFwd = h
}

func (m *muxListener) forwardHandler() func(net.Conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.onFwd
}

// Accept returns the next connection meant for raft.
func (m *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-m.raft:
		return c, nil
	case <-m.done:
		return nil, fmt.Errorf("accept raft connection: %w", net.ErrClosed)
	}
}

// Close stops accepting, closes the listener and waits for the accept loop
// and the connections still being classified, then closes the connections
// handed to raft (raft's transport leaves accepted connections open until
// the peer closes them; their handler goroutines would outlive the node).
// Later calls return nil.
func (m *muxListener) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		err = m.Listener.Close()
		m.wg.Wait()
		m.mu.Lock()
		defer m.mu.Unlock()
		for c := range m.conns {
			_ = c.Conn.Close()
		}
	})
	return err
}

// track records c as open (false when the mux is closed), untrack as closed.
func (m *muxListener) track(c *prefixConn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.done:
		return false
	default:
	}
	m.conns[c] = true
	return true
}

func (m *muxListener) untrack(c *prefixConn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.conns, c)
}

func (m *muxListener) acceptLoop() {
	for {
		c, err := m.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			m.log.Warn("raft listener accept failed", "err", err)
			select {
			case <-m.done:
				return
			case <-time.After(50 * time.Millisecond):
				continue
			}
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.route(c)
		}()
	}
}

// route completes the TLS handshake (when peer TLS is on), reads the first
// byte of c and hands c to raft or the forward handler, all within
// classifyTimeout.
func (m *muxListener) route(c net.Conn) {
	start := time.Now()
	if m.tls != nil {
		var err error
		if c, err = m.tls.accept(c, classifyTimeout); err != nil {
			return
		}
	}
	var first [1]byte
	_ = c.SetReadDeadline(start.Add(classifyTimeout))
	if _, err := c.Read(first[:]); err != nil {
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if first[0] == forwardStreamByte {
		if h := m.forwardHandler(); h != nil {
			h(c)
			return
		}
		_ = c.Close()
		return
	}
	pc := &prefixConn{Conn: c, first: first[:], mux: m}
	if !m.track(pc) {
		_ = c.Close()
		return
	}
	select {
	case m.raft <- pc:
	case <-m.done:
		_ = pc.Close()
	}
}

// prefixConn gives back the byte the mux read before handing the
// connection to raft. Only raft's single reader of the connection calls Read.
type prefixConn struct {
	net.Conn
	first []byte
	mux   *muxListener
}

// Close closes the connection and forgets it.
func (c *prefixConn) Close() error {
	c.mux.untrack(c)
	return c.Conn.Close()
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.first) > 0 && len(p) > 0 {
		n := copy(p, c.first)
		c.first = c.first[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
