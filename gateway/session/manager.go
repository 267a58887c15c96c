// Package session is the core that every client protocol of the gateway
// shares: one client's session — its subscriptions (tails and consumer
// group members), its publishes in flight, acks and nacks, and the limits
// on all of them — and the delivery of what the node applies to the
// sessions waiting for it (Hub). A session talks to its client through two
// interfaces it is given: a Codec (codec.go) turns inbound messages into
// Commands and the session's Replies and Deliveries into frames, and a
// Transport (transport.go) carries the frames. Backpressure, the outbound
// budget, slow consumers, write deadlines and the close are decided here,
// once, for every protocol and every transport. See ../DESIGN.md.
package session

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/protocol"
)

// Config is what bounds sessions. Every field must be set (package gateway
// fills them from its own Config, with its defaults).
type Config struct {
	Limits                 // one publish; checked by the codecs
	MaxFrameBytes    int64 // one inbound message; a publish lane proposes at most twice this at once
	MaxSubscriptions int   // per session
	MaxSessions      int   // per gateway
	MaxRequests      int   // commands in flight per session; the reader waits beyond
	OutboundBytes    int64 // items queued for one session before it is a slow consumer
	WriteTimeout     time.Duration
	PingInterval     time.Duration
	CloseGrace       time.Duration // how long a close may take
	Logger           *slog.Logger
}

// Manager holds the sessions of one gateway: admission (the session limit,
// shutdown), the hub that routes applied events to their subscriptions, and
// the node they all use. All methods are safe for concurrent use.
type Manager struct {
	node Node
	cfg  Config
	log  *slog.Logger
	hub  *Hub

	// baseCtx bounds every goroutine of every session; cancelled when
	// Shutdown ends.
	baseCtx context.Context
	cancel  context.CancelFunc

	nextSession   atomic.Uint64
	tailFallbacks atomic.Int64   // live tails that overflowed and went back to replaying
	wg            sync.WaitGroup // one per session, from Open until it has ended

	watchDone chan struct{} // closed when watchMembers has returned

	mu       sync.Mutex // guards sessions and closing
	sessions map[*Session]struct{}
	closing  bool
}

// NewManager returns a manager of sessions on node. Register its Hub with
// the node (Backend.Observe) to make deliveries flow.
func NewManager(node Node, cfg Config) *Manager {
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{node: node, cfg: cfg, log: cfg.Logger, hub: newHub(),
		baseCtx: ctx, cancel: cancel, sessions: map[*Session]struct{}{}, watchDone: make(chan struct{})}
	go m.watchMembers()
	return m
}

// Hub is the cluster.Observer (and RestoreObserver) of the sessions.
func (m *Manager) Hub() *Hub { return m.hub }

// Len is the number of sessions admitted and not ended.
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// TailFallbacks counts the live tails that overflowed their buffer and went
// back to replaying from the node's state.
func (m *Manager) TailFallbacks() int64 { return m.tailFallbacks.Load() }

// Open admits a new session speaking codec, or says why not
// (too_many_connections, unavailable while shutting down). The caller then
// calls Serve with its transport, or Discard.
func (m *Manager) Open(codec Codec) (*Session, *apierr.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return nil, apierr.Errorf(protocol.CodeUnavailable, "the server is shutting down")
	}
	if len(m.sessions) >= m.cfg.MaxSessions {
		return nil, apierr.Errorf(protocol.CodeTooManyConns, "this node serves %d connections, its limit", len(m.sessions))
	}
	s := m.newSession(codec)
	m.sessions[s] = struct{}{}
	m.wg.Add(1)
	return s, nil
}

// unregister forgets a session that has ended.
func (m *Manager) unregister(s *Session) {
	m.mu.Lock()
	delete(m.sessions, s)
	m.mu.Unlock()
	m.wg.Done()
}

// Shutdown stops admitting sessions, proposes Leave for the group members
// of every session, closes them (CloseGoingAway) and waits for all of their
// goroutines. If ctx ends first, the remaining sessions are cut and ctx's
// error is returned.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closing = true
	sessions := make([]*Session, 0, len(m.sessions))
	for s := range m.sessions {
		sessions = append(sessions, s)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Go(s.goAway)
	}
	wg.Wait()
	return m.wait(ctx)
}

// wait waits for every session to end, or cuts them when ctx ends.
func (m *Manager) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		m.cancel()
		<-m.watchDone
		return nil
	case <-ctx.Done():
		m.cancel()
		<-done
		<-m.watchDone
		return fmt.Errorf("waiting for sessions: %w", ctx.Err())
	}
}
