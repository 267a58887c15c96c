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

	"github.com/carriermq/carrier/cluster"
	"github.com/carriermq/carrier/gateway/carrierv1"
	"github.com/carriermq/carrier/gateway/engineio"
	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/gateway/sioroute"
	"github.com/carriermq/carrier/gateway/ws"
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
	sessions      *session.Manager // every client session, whatever its protocol
	v1            *carrierv1.Codec // the carrier.v1 codec, shared by its sessions
	upgrader      *ws.Upgrader     // carrier.v1 over WebSocket (/v1/ws)
	eio           *engineio.Server // socket.io over Engine.IO (/socket.io/)
	sio           *sioroute.Router // in front of eio: sessions of other nodes go there
	mux           http.Handler
	unobserve     func()
	unobserveOnce sync.Once
}

// New returns a gateway in front of b. It registers with b.Observe at once
// and stays registered until Shutdown.
func New(b Backend, cfg Config) (*Gateway, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Gateway{b: b, cfg: cfg, log: cfg.Logger}
	g.sessions = session.NewManager(sessionNode{g}, cfg.sessionConfig())
	g.v1 = carrierv1.New(cfg.limits())
	g.upgrader = ws.NewUpgrader(ws.Config{Subprotocol: protocol.Subprotocol, MaxFrameBytes: cfg.MaxFrameBytes,
		Idle: cfg.PingInterval + cfg.PongWait, Error: g.upgradeError})
	if err := g.startSocketIO(); err != nil {
		return nil, err
	}
	g.mux = g.buildMux()
	g.unobserve = b.Observe(g.sessions.Hub())
	return g, nil
}

// ServeHTTP serves the routes listed in routes.go.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mux.ServeHTTP(w, r)
}

// Shutdown stops accepting WebSockets, proposes Leave for the group members
// of every live session, closes those sessions (code 1001) and waits for
// all of their goroutines. If ctx ends first, remaining sessions are cut
// and ctx's error is returned.
func (g *Gateway) Shutdown(ctx context.Context) error {
	err := g.sessions.Shutdown(ctx)
	g.sio.Close()
	g.unobserveOnce.Do(g.unobserve)
	if err != nil {
		return fmt.Errorf("gateway shutdown: %w", err)
	}
	return nil
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
