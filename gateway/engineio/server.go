// Package engineio is an Engine.IO v4 server: the transport under
// socket.io. It answers the handshake, keeps the table of sessions by sid,
// carries each session's packets over HTTP long-polling, a WebSocket, or
// polling upgraded to a WebSocket, and runs the heartbeat. Each Engine.IO
// session is one session.Transport (Conn) to the gateway's session core,
// also across the upgrade; what the messages mean is the codec's (package
// socketio). See ../DESIGN.md, "Engine.IO".
package engineio

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/gateway/ws"
)

// Config sets up an Engine.IO endpoint. Every field must be set except
// NewSID and Logger.
type Config struct {
	PingInterval   time.Duration // the server pings this often
	PingTimeout    time.Duration // no pong this long after a ping closes the session
	MaxPayload     int64         // the largest POST body or WebSocket message a client may send
	MaxSessions    int           // sessions in the table
	UpgradeTimeout time.Duration // a WebSocket must finish the upgrade in this time
	WriteTimeout   time.Duration // writes the server makes on its own (open packet, probe, noop)
	// NewSID makes a session id; nil: 20 random bytes, base64url. Ids are
	// opaque to this package: a router may put the owning node in them.
	NewSID func() (string, error)
	// Open admits a new session (its codec, its limits) or says why not.
	Open   func() (Session, *apierr.Error)
	Logger *slog.Logger
}

// Session is a session the endpoint serves (a *session.Session).
type Session interface {
	// Serve runs the session over t until it ends.
	Serve(t session.Transport)
	// Discard forgets a session that will not be served.
	Discard()
}

// Server is the endpoint: an http.Handler for every request under its
// path (GET and POST polls, WebSocket upgrades). Safe for concurrent use.
type Server struct {
	cfg      Config
	upgrader *ws.Upgrader

	mu    sync.Mutex
	conns map[string]*Conn
}

// New returns an endpoint for cfg.
func New(cfg Config) *Server {
	if cfg.NewSID == nil {
		cfg.NewSID = randomSID
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, conns: map[string]*Conn{}}
	s.upgrader = ws.NewUpgrader(ws.Config{MaxFrameBytes: cfg.MaxPayload,
		Idle: cfg.PingInterval + cfg.PingTimeout, Error: s.upgradeError})
	return s
}

func randomSID() (string, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Len is the number of sessions in the table.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// ServeHTTP checks a request as the reference server does, in its order,
// and hands it to its session or opens one.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	transport := q.Get("transport")
	upgrade := websocket.IsWebSocketUpgrade(r)
	if transport != "polling" && transport != "websocket" {
		writeError(w, r, errUnknownTransport)
		return
	}
	if sid := q.Get("sid"); sid != "" {
		s.serveSession(w, r, sid, transport, upgrade)
		return
	}
	switch {
	case r.Method != http.MethodGet:
		writeError(w, r, errBadHandshakeMethod)
	case transport == "websocket" && !upgrade:
		writeError(w, r, errBadRequest)
	case q.Get("EIO") != "4":
		writeError(w, r, errUnsupportedProtocol)
	case transport == "websocket":
		s.handshakeWS(w, r)
	default:
		s.handshakePolling(w, r)
	}
}

// serveSession serves a request of an existing session.
func (s *Server) serveSession(w http.ResponseWriter, r *http.Request, sid, transport string, upgrade bool) {
	c := s.lookup(sid)
	if c == nil {
		writeError(w, r, errUnknownSID)
		return
	}
	m, _, _, _ := c.state()
	current := "polling"
	if m == modeWebSocket {
		current = "websocket"
	}
	switch {
	case (!upgrade && transport != current) || r.URL.Query().Get("EIO") != "4":
		writeError(w, r, errBadRequest)
	case upgrade && transport == "websocket":
		c.serveUpgrade(w, r)
	case upgrade:
		writeError(w, r, errBadRequest)
	case r.Method == http.MethodGet:
		c.servePoll(w, r)
	case r.Method == http.MethodPost:
		c.servePost(w, r)
	default:
		writeError(w, r, errBadRequest)
	}
}

func (s *Server) lookup(sid string) *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[sid]
}

// forget drops c from the table.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c.sid] == c {
		delete(s.conns, c.sid)
	}
}

// open admits a session and gives it a sid in the table.
func (s *Server) open(m mode, t *ws.Transport) (*Conn, Session, *protocolError) {
	sess, e := s.cfg.Open()
	if e != nil {
		return nil, nil, refused(e)
	}
	c, perr := s.add(m, t)
	if perr != nil {
		sess.Discard()
		return nil, nil, perr
	}
	return c, sess, nil
}

// add registers a new Conn under a fresh sid, within MaxSessions.
func (s *Server) add(m mode, t *ws.Transport) (*Conn, *protocolError) {
	for range 3 {
		sid, err := s.cfg.NewSID()
		if err != nil {
			s.cfg.Logger.Warn("engine.io session id", "err", err)
			return nil, errBadRequest
		}
		s.mu.Lock()
		if len(s.conns) >= s.cfg.MaxSessions {
			n := len(s.conns)
			s.mu.Unlock()
			return nil, tooMany(n)
		}
		if s.conns[sid] == nil {
			c := newConn(s, sid, m, t)
			s.conns[sid] = c
			s.mu.Unlock()
			return c, nil
		}
		s.mu.Unlock()
	}
	return nil, errBadRequest
}

// openPacket is the handshake's answer.
func (s *Server) openPacket(sid string, upgrades []string) []byte {
	b, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int64    `json:"maxPayload"`
	}{sid, upgrades, s.cfg.PingInterval.Milliseconds(), s.cfg.PingTimeout.Milliseconds(), s.cfg.MaxPayload})
	return append([]byte{typeOpen}, b...)
}

// handshakePolling opens a polling session; the GET is answered with the
// open packet at once.
func (s *Server) handshakePolling(w http.ResponseWriter, r *http.Request) {
	c, sess, perr := s.open(modePolling, nil)
	if perr != nil {
		writeError(w, r, perr)
		return
	}
	go sess.Serve(c)
	_ = writePayload(w, s.openPacket(c.sid, []string{"websocket"}), time.Now().Add(s.cfg.WriteTimeout))
}

// handshakeWS opens a session on a WebSocket from the start. Admission
// comes first, so a refusal is an HTTP answer.
func (s *Server) handshakeWS(w http.ResponseWriter, r *http.Request) {
	c, sess, perr := s.open(modeWebSocket, nil)
	if perr != nil {
		writeError(w, r, perr)
		return
	}
	t, err := s.upgrader.Upgrade(w, r)
	if err != nil {
		c.fail(err) // the upgrader has answered
		sess.Discard()
		return
	}
	c.mu.Lock()
	c.ws = t
	c.mu.Unlock()
	t.Begin()
	werr := t.WriteFrame(session.Text, s.openPacket(c.sid, []string{}))
	if werr = errors.Join(werr, t.Flush(time.Now().Add(s.cfg.WriteTimeout))); werr != nil {
		c.fail(werr)
		sess.Discard()
		return
	}
	go sess.Serve(c)
}

// upgradeError answers a failed WebSocket handshake as the reference
// server does: 400 and the reason as text.
func (s *Server) upgradeError(w http.ResponseWriter, _ *http.Request, status int, reason error) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reason.Error())
}

// Pending reports whether session sid has a GET waiting for packets.
func (s *Server) Pending(sid string) bool {
	c := s.lookup(sid)
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.get != nil
}
