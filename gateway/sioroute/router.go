package sioroute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// ForwardedHeader marks a request one node passed to another; it carries
// the forwarding node's id. A node never forwards a request that has it:
// it serves it itself (and answers "unknown session" when the sid is not
// its own), so a request crosses the cluster at most once.
const ForwardedHeader = "Carrier-Forwarded"

// Peers tells where the other nodes serve their API; *cluster.Node has it.
// Safe for concurrent use; it does not block.
type Peers interface {
	// MemberAPIAddress is the API base URL ("http://host:port") node id
	// gossips, if this node knows id and sees it alive.
	MemberAPIAddress(id string) (string, bool)
}

// Config configures a Router. Start from DefaultConfig and set Node and Peers.
type Config struct {
	Node  string // this node's id: sids carrying it are served here
	Peers Peers  // nil: every other node's sid is an unknown session
	// Timeout bounds a forwarded polling request from the forward to the
	// last byte of the answer, and a forwarded upgrade until the owner's
	// 101. It must exceed Engine.IO's pingInterval: a GET waits that long
	// for packets.
	Timeout      time.Duration
	DialTimeout  time.Duration // connecting to the owner
	MaxBodyBytes int64         // a forwarded request's body (a polling POST)
	MaxForwards  int           // forwarded requests and WebSockets at once; beyond, 503
	Logger       *slog.Logger  // nil: slog.Default()
}

// DefaultConfig returns the defaults (DESIGN.md says why each).
func DefaultConfig() Config {
	return Config{
		Timeout:      60 * time.Second,
		DialTimeout:  2 * time.Second,
		MaxBodyBytes: 2 << 20,
		MaxForwards:  10000,
	}
}

func (c Config) validate() error {
	var errs []error
	if c.Node == "" {
		errs = append(errs, errors.New("node id is empty"))
	}
	if c.Timeout <= 0 || c.DialTimeout <= 0 || c.MaxBodyBytes <= 0 || c.MaxForwards <= 0 {
		errs = append(errs, fmt.Errorf("timeout %v, dial timeout %v, max body %d, max forwards %d: all must be positive",
			c.Timeout, c.DialTimeout, c.MaxBodyBytes, c.MaxForwards))
	}
	return errors.Join(errs...)
}

// Router is an http.Handler in front of a node's /socket.io/ endpoint:
// requests without a sid (handshakes), with a sid of this node, with a sid
// of no node, or already forwarded go to next; a request whose sid belongs
// to another node goes to that node, polling requests and WebSocket
// upgrades alike. A sid of a node that is dead, gone or unknown, or whose
// node does not answer, gets Engine.IO's "Session ID unknown" at once, so
// the client reconnects (and recovers what it missed). Safe for concurrent use.
type Router struct {
	next      http.Handler
	cfg       Config
	log       *slog.Logger
	errLog    *slog.Logger
	transport *http.Transport
	slots     chan struct{} // one per forward in progress, MaxForwards in all
}

// New returns a Router in front of next.
func New(next http.Handler, cfg Config) (*Router, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("socket.io router: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "sioroute")
	return &Router{next: next, cfg: cfg, log: log, transport: newTransport(cfg), slots: make(chan struct{}, cfg.MaxForwards)}, nil
}

// newTransport is the client side of forwards: no environment proxy (the
// peers are inside the cluster), bounded dial and wait for the answer's
// headers, idle connections kept for the next poll.
func newTransport(cfg Config) *http.Transport {
	d := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 15 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
	}
}

// Close closes the idle connections to other nodes. Forwards in progress
// end with their requests.
func (rt *Router) Close() { rt.transport.CloseIdleConnections() }

// ServeHTTP implements http.Handler.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	node, ok := NodeOf(r.URL.Query().Get("sid"))
	if !ok || node == rt.cfg.Node || r.Header.Get(ForwardedHeader) != "" {
		rt.next.ServeHTTP(w, r)
		return
	}
	rt.forward(w, r, node)
}

// forward passes r to node, or answers it when node cannot take it.
func (rt *Router) forward(w http.ResponseWriter, r *http.Request, node string) {
	target, ok := rt.address(node)
	if !ok {
		rt.log.Debug("session of a node not alive: unknown session", "node", node)
		unknownSession(w, r)
		return
	}
	if r.ContentLength > rt.cfg.MaxBodyBytes {
		http.Error(w, "Payload Too Large", http.StatusRequestEntityTooLarge)
		return
	}
	select {
	case rt.slots <- struct{}{}:
		defer func() { <-rt.slots }()
	default:
		http.Error(w, "too many forwarded socket.io requests on this node, try again", http.StatusServiceUnavailable)
		return
	}
	rt.proxy(w, r, node, target)
}

// address is node's API base URL when it is alive and the URL parses.
func (rt *Router) address(node string) (*url.URL, bool) {
	if rt.cfg.Peers == nil {
		return nil, false
	}
	base, ok := rt.cfg.Peers.MemberAPIAddress(node)
	if !ok {
		return nil, false
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		rt.log.Warn("node gossips an API address that is not a URL", "node", node, "address", base)
		return nil, false
	}
	return u, true
}

// proxy runs one forward. A polling request is bounded by Timeout as a
// whole (the HTTP server's ReadTimeout still bounds reading its body); an
// upgrade only until the owner's 101, then the tunnel lasts as long as
// both sides keep it.
func (rt *Router) proxy(w http.ResponseWriter, r *http.Request, node string, target *url.URL) {
	r.Body = http.MaxBytesReader(w, r.Body, rt.cfg.MaxBodyBytes)
	uw := &upgradeWriter{ResponseWriter: w}
	if !isUpgrade(r) {
		ctx, cancel := context.WithTimeout(r.Context(), rt.cfg.Timeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the owner sees the Host the client sent (WebSocket origin checks)
			pr.SetXForwarded()
			pr.Out.Header.Set(ForwardedHeader, rt.cfg.Node)
		},
		Transport:     rt.transport,
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(rt.log.Handler(), slog.LevelDebug),
		ErrorHandler:  rt.failed(uw, node),
	}
	p.ServeHTTP(uw, r)
}

// failed answers a forward that did not get through: 413 for a body over
// the limit, "unknown session" for anything else (the owner refused the
// connection, died or did not answer in time: the client reconnects).
func (rt *Router) failed(uw *upgradeWriter, node string) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if uw.hijacked {
			rt.log.Debug("forwarded WebSocket ended", "node", node, "err", err)
			return
		}
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			http.Error(w, "Payload Too Large", http.StatusRequestEntityTooLarge)
			return
		case errors.Is(r.Context().Err(), context.Canceled):
			rt.log.Debug("client gone during a forward", "node", node, "err", err)
			return // nobody to answer
		}
		rt.log.Info("forward to the session's node failed: unknown session", "node", node, "err", err)
		unknownSession(w, r)
	}
}

// isUpgrade reports whether r asks to switch protocols (a WebSocket).
func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return r.Header.Get("Upgrade") != ""
			}
		}
	}
	return false
}

// unknownSession is Engine.IO's answer to a sid it does not know, as the
// reference server gives it: a JSON error for polling, the bare message for
// a WebSocket upgrade.
func unknownSession(w http.ResponseWriter, r *http.Request) {
	body, ctype := `{"code":1,"message":"Session ID unknown"}`, "application/json"
	if isUpgrade(r) {
		body, ctype = "Session ID unknown", "text/html"
		w.Header().Set("Connection", "close")
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, body)
}
