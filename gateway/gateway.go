// Package gateway is Carrier's edge: the carrier.v1 WebSocket protocol
// (docs/protocol.md) and the HTTP API (docs/http-api.md) in front of one
// cluster node. It validates input, turns requests into queue commands for
// the node, and delivers what the node applies to the connections that wait
// for it. See DESIGN.md.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/carriermq/carrier/cluster"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// Backend is the node the gateway serves; *cluster.Node satisfies it. All
// methods are safe for concurrent use.
type Backend interface {
	// ID is the node's stable name.
	ID() string
	// Session identifies this run of the node.
	Session() string
	// Propose replicates cmd and returns its result once applied locally.
	Propose(ctx context.Context, cmd queue.Command) (queue.Result, error)
	// View runs fn under a read lock of the applied state.
	View(fn func(*queue.State))
	// Observe registers o for applied events until cancel is called.
	// o.OnApply runs under the state's write lock.
	Observe(o cluster.Observer) (cancel func())
	// Status reports the node's view of the cluster.
	Status() cluster.Status
	// Ready is nil when the node can serve reads and writes.
	Ready() error
}

// Gateway serves the HTTP API and the WebSocket endpoint of one node. It is
// an http.Handler; all methods are safe for concurrent use.
type Gateway struct {
	b             Backend
	cfg           Config
	log           *slog.Logger
	hub           *hub
	mux           http.Handler
	upgrader      websocket.Upgrader
	unobserve     func()
	unobserveOnce sync.Once

	// baseCtx bounds every goroutine of the gateway; cancelled when
	// Shutdown gives up waiting.
	baseCtx context.Context
	cancel  context.CancelFunc

	nextConn      atomic.Uint64
	tailFallbacks atomic.Int64   // live tails that overflowed and went back to replaying
	msgs          msgCache       // encoded message prefixes shared by tails (fanout.go)
	wg            sync.WaitGroup // one per live connection

	mu      sync.Mutex // guards conns and closing
	conns   map[*conn]struct{}
	closing bool
}

// New returns a gateway in front of b. It registers with b.Observe at once
// and stays registered until Shutdown.
func New(b Backend, cfg Config) (*Gateway, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{b: b, cfg: cfg, log: cfg.Logger, hub: newHub(),
		baseCtx: ctx, cancel: cancel, conns: map[*conn]struct{}{}}
	g.upgrader = websocket.Upgrader{
		// A small buffer of gorilla's own over flushConn's lazy reader, which
		// holds a pooled buffer only while bytes are waiting (lazyread.go).
		ReadBufferSize:  readBufferSize,
		WriteBufferSize: 16 << 10,
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{protocol.Subprotocol},
		// No authentication yet: every origin is accepted (docs/protocol.md).
		CheckOrigin: func(*http.Request) bool { return true },
		Error:       g.upgradeError,
		// EnableCompression stays false: no permessage-deflate, no compression bombs.
	}
	g.mux = g.buildMux()
	g.unobserve = b.Observe(g.hub)
	return g, nil
}

// ServeHTTP serves the routes listed in routes.go.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mux.ServeHTTP(w, r)
}

// Shutdown stops accepting WebSockets, proposes Leave for the group members
// of every live connection, closes those connections with code 1001 and
// waits for all of the gateway's goroutines. If ctx ends first, remaining
// connections are cut and ctx's error is returned.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closing = true
	conns := make([]*conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.goAway()
		}()
	}
	wg.Wait()
	err := g.wait(ctx)
	g.unobserveOnce.Do(g.unobserve)
	return err
}

// wait waits for every connection to end, or cuts them when ctx ends.
func (g *Gateway) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		g.cancel()
		return nil
	case <-ctx.Done():
		g.cancel()
		<-done
		return fmt.Errorf("gateway shutdown: %w", ctx.Err())
	}
}

// register admits a new connection, or says why not.
func (g *Gateway) register(c *conn) *wireError {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return errf(protocol.CodeUnavailable, "the server is shutting down")
	}
	if len(g.conns) >= g.cfg.MaxConnections {
		return errf(protocol.CodeTooManyConns, "this node serves %d connections, its limit", len(g.conns))
	}
	g.conns[c] = struct{}{}
	g.wg.Add(1)
	return nil
}

// unregister forgets a connection that has ended.
func (g *Gateway) unregister(c *conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	g.wg.Done()
}

// propose sends cmd to the backend with the request timeout and returns
// the command's own rejection (Result.Err) as an error.
func (g *Gateway) propose(ctx context.Context, cmd queue.Command) (queue.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
	defer cancel()
	res, err := g.b.Propose(ctx, cmd)
	if err != nil {
		return res, fmt.Errorf("propose op %d: %w", cmd.Op(), err)
	}
	return res, res.Err
}

// ensureQueue creates name with the default config when it does not exist
// and AutoCreate is on. A queue created meanwhile by someone else is fine.
func (g *Gateway) ensureQueue(ctx context.Context, name string) error {
	var err error
	g.b.View(func(s *queue.State) { _, err = s.Queue(name) })
	if queue.CodeOf(err) != queue.CodeQueueNotFound || !g.cfg.AutoCreate {
		return err
	}
	_, err = g.propose(ctx, queue.CreateQueue{Name: name, Config: g.cfg.DefaultQueue, MaxQueues: g.cfg.MaxQueues})
	if queue.CodeOf(err) == queue.CodeQueueExists {
		return nil
	}
	return err
}

// NewHTTPServer returns a server for h on addr with the timeouts and limits
// of cfg (zero fields take DefaultConfig's values). ReadTimeout bounds plain
// HTTP requests; WebSocket connections clear it when they upgrade.
func NewHTTPServer(addr string, h http.Handler, cfg Config) *http.Server {
	cfg = cfg.withDefaults()
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      0, // a WebSocket lives long; HTTP handlers bound their own work
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
}
