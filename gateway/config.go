package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/queue"
)

// Config sets the gateway's limits and timeouts. Start from DefaultConfig:
// New fills every zero number and duration with its default, but a zero
// AutoCreate means "off".
type Config struct {
	// AutoCreate creates a queue on its first publish or subscribe.
	AutoCreate bool
	// MaxQueues is the cluster-wide queue limit enforced on auto-create and create.
	MaxQueues int
	// MaxStoreBytes caps the bytes stored in all queues together (messages
	// are held in memory): a publish past it is refused with storage_full.
	// Keep it well under the node's memory limit.
	MaxStoreBytes int64
	// DefaultQueue is the config of auto-created queues and the defaults
	// of queues created over HTTP (zero fields: the state machine's defaults).
	DefaultQueue queue.QueueConfig

	MaxFrameBytes    int64 // largest WebSocket frame or HTTP publish body
	MaxMessageBytes  int64 // largest message (queue.Message.Size), checked before proposing
	MaxBatch         int   // messages in one publish
	MaxSubscriptions int   // per connection
	MaxConnections   int   // WebSockets per gateway
	MaxRequests      int   // outstanding requests per connection; the reader waits beyond
	OutboundBytes    int64 // frames queued for one connection before it is a slow consumer

	WriteTimeout   time.Duration // one flush to a client
	PingInterval   time.Duration // server pings this often
	PongWait       time.Duration // a silent client is dropped after PingInterval+PongWait
	CloseGrace     time.Duration // how long a close handshake may take
	RequestTimeout time.Duration // one proposal

	// SocketIO sets up the socket.io endpoint (/socket.io/).
	SocketIO SocketIOConfig

	// HTTP server settings used by NewHTTPServer.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration // whole request, not WebSockets (cleared on upgrade)
	IdleTimeout       time.Duration
	MaxHeaderBytes    int

	// LeaderClient makes the admin calls this node passes to the leader's
	// HTTP API (cluster.go); nil: http.DefaultClient. With TLS on the client
	// listeners it must trust the CA of the nodes' API certificates.
	LeaderClient *http.Client

	Logger *slog.Logger
}

// SocketIOConfig sets up socket.io (Engine.IO v4, Socket.IO v5) at
// /socket.io/. Its sessions count against MaxConnections like WebSockets.
type SocketIOConfig struct {
	// DefaultQueue is the queue of the main namespace "/".
	DefaultQueue string
	PingInterval time.Duration // announced to clients; the server pings this often
	PingTimeout  time.Duration // no pong this long after a ping closes the session
	MaxPayload   int64         // largest POST body or WebSocket message a client may send
	MaxSessions  int           // Engine.IO sessions per gateway
	// NewSID makes Engine.IO session ids; nil: random ones. A router that
	// sends each request to the node owning its session puts the node in them.
	NewSID func() (string, error)
}

// DefaultConfig returns the documented defaults (docs/protocol.md, "Limits").
func DefaultConfig() Config {
	return Config{
		AutoCreate:        true,
		MaxQueues:         1000,
		MaxStoreBytes:     1 << 30,
		MaxFrameBytes:     2 << 20,
		MaxMessageBytes:   1 << 20,
		MaxBatch:          1000,
		MaxSubscriptions:  100,
		MaxConnections:    10000,
		MaxRequests:       256,
		OutboundBytes:     8 << 20,
		WriteTimeout:      10 * time.Second,
		PingInterval:      25 * time.Second,
		PongWait:          20 * time.Second,
		CloseGrace:        2 * time.Second,
		RequestTimeout:    10 * time.Second,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		SocketIO: SocketIOConfig{DefaultQueue: "socketio", PingInterval: 25 * time.Second,
			PingTimeout: 20 * time.Second, MaxPayload: 1e6, MaxSessions: 10000},
	}
}

// withDefaults fills every zero limit or timeout of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	fill(&c.MaxQueues, d.MaxQueues)
	fill(&c.MaxStoreBytes, d.MaxStoreBytes)
	fill(&c.MaxFrameBytes, d.MaxFrameBytes)
	fill(&c.MaxMessageBytes, d.MaxMessageBytes)
	fill(&c.MaxBatch, d.MaxBatch)
	fill(&c.MaxSubscriptions, d.MaxSubscriptions)
	fill(&c.MaxConnections, d.MaxConnections)
	fill(&c.MaxRequests, d.MaxRequests)
	fill(&c.OutboundBytes, d.OutboundBytes)
	fill(&c.WriteTimeout, d.WriteTimeout)
	fill(&c.PingInterval, d.PingInterval)
	fill(&c.PongWait, d.PongWait)
	fill(&c.CloseGrace, d.CloseGrace)
	fill(&c.RequestTimeout, d.RequestTimeout)
	fill(&c.ReadHeaderTimeout, d.ReadHeaderTimeout)
	fill(&c.ReadTimeout, d.ReadTimeout)
	fill(&c.IdleTimeout, d.IdleTimeout)
	fill(&c.MaxHeaderBytes, d.MaxHeaderBytes)
	fill(&c.SocketIO.PingInterval, d.SocketIO.PingInterval)
	fill(&c.SocketIO.PingTimeout, d.SocketIO.PingTimeout)
	fill(&c.SocketIO.MaxPayload, d.SocketIO.MaxPayload)
	fill(&c.SocketIO.MaxSessions, d.SocketIO.MaxSessions)
	if c.SocketIO.DefaultQueue == "" {
		c.SocketIO.DefaultQueue = d.SocketIO.DefaultQueue
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func fill[T int | int64 | time.Duration](v *T, d T) {
	if *v == 0 {
		*v = d
	}
}

// validate rejects negative limits and a message limit above the frame limit.
func (c Config) validate() error {
	nums := []struct {
		name string
		v    int64
	}{
		{"MaxQueues", int64(c.MaxQueues)}, {"MaxStoreBytes", c.MaxStoreBytes}, {"MaxFrameBytes", c.MaxFrameBytes},
		{"MaxMessageBytes", c.MaxMessageBytes}, {"MaxBatch", int64(c.MaxBatch)},
		{"MaxSubscriptions", int64(c.MaxSubscriptions)}, {"MaxConnections", int64(c.MaxConnections)},
		{"MaxRequests", int64(c.MaxRequests)}, {"OutboundBytes", c.OutboundBytes},
		{"WriteTimeout", int64(c.WriteTimeout)}, {"PingInterval", int64(c.PingInterval)},
		{"PongWait", int64(c.PongWait)}, {"CloseGrace", int64(c.CloseGrace)},
		{"RequestTimeout", int64(c.RequestTimeout)},
		{"SocketIO.PingInterval", int64(c.SocketIO.PingInterval)}, {"SocketIO.PingTimeout", int64(c.SocketIO.PingTimeout)},
		{"SocketIO.MaxPayload", c.SocketIO.MaxPayload}, {"SocketIO.MaxSessions", int64(c.SocketIO.MaxSessions)},
	}
	var errs []error
	for _, n := range nums {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("gateway config: %s must not be negative", n.name))
		}
	}
	if err := queue.ValidateName(c.SocketIO.DefaultQueue); err != nil {
		errs = append(errs, fmt.Errorf("gateway config: SocketIO.DefaultQueue %q is not a queue name", c.SocketIO.DefaultQueue))
	}
	if c.MaxMessageBytes > c.MaxFrameBytes {
		errs = append(errs, errors.New("gateway config: MaxMessageBytes exceeds MaxFrameBytes"))
	}
	return errors.Join(errs...)
}

// limits are the limits of one publish, checked by every codec.
func (c Config) limits() session.Limits {
	return session.Limits{MaxMessageBytes: c.MaxMessageBytes, MaxBatch: c.MaxBatch}
}

// sessionConfig is what bounds the gateway's sessions.
func (c Config) sessionConfig() session.Config {
	return session.Config{Limits: c.limits(), MaxFrameBytes: c.MaxFrameBytes,
		MaxSubscriptions: c.MaxSubscriptions, MaxSessions: c.MaxConnections, MaxRequests: c.MaxRequests,
		OutboundBytes: c.OutboundBytes, WriteTimeout: c.WriteTimeout, PingInterval: c.PingInterval,
		CloseGrace: c.CloseGrace, Logger: c.Logger}
}
