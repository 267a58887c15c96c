package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Gossip settings, tuned for loopback and a Kubernetes pod network (LAN-like
// latency, tens of nodes at most).
const (
	// deadNodeReclaim lets a node that comes back with the same name and a
	// new address (a pod rescheduled with a new IP) replace its dead or
	// left entry after this long, instead of being refused as a conflict.
	deadNodeReclaim = time.Second
	// updateTimeout bounds the wait for a metadata broadcast.
	updateTimeout = time.Second
	// leaveTimeout bounds the wait for the leave broadcast.
	leaveTimeout = 2 * time.Second
)

// nodeMeta is what every node gossips about itself (memberlist node
// metadata, JSON, well under memberlist.MetaMaxSize).
type nodeMeta struct {
	ID        string `json:"id"`
	RaftAddr  string `json:"raftAddr"`
	APIAddr   string `json:"apiAddr,omitempty"`
	Version   string `json:"version,omitempty"`
	Session   string `json:"session"`
	HasState  bool   `json:"hasState"`  // the node has a Raft log, snapshot or configuration
	InCluster bool   `json:"inCluster"` // its Raft configuration is not empty
	Applied   uint64 `json:"applied"`   // raft's applied index when the metadata was refreshed
	Expect    int    `json:"expect,omitempty"`
}

// peer is one node as gossip knows it.
type peer struct {
	Name  string
	Addr  string // gossip host:port
	State string // alive, or dead (failed or left: memberlist does not say which)
	Meta  nodeMeta
	Since time.Time // when this state was first seen
}

// gossip wraps memberlist: this node's metadata, the table of peers, and a
// kick channel that wakes the membership loop on every change. memberlist
// calls the delegate methods from its own goroutines (the event ones never
// concurrently); the table has its own lock.
type gossip struct {
	ml   *memberlist.Memberlist
	log  *slog.Logger
	meta atomic.Pointer[[]byte] // encoded nodeMeta that NodeMeta returns
	kick chan struct{}          // capacity 1

	mu    sync.Mutex
	peers map[string]peer // by node name (= node id)
}

// newGossip starts memberlist on cfg's gossip addresses with meta as the
// first metadata. It does not join anyone (see join).
func newGossip(cfg Config, meta nodeMeta, logger *slog.Logger) (*gossip, error) {
	g := &gossip{log: logger, kick: make(chan struct{}, 1), peers: map[string]peer{}}
	if err := g.setMeta(meta); err != nil {
		return nil, err
	}
	mc, err := memberlistConfig(cfg, logger)
	if err != nil {
		return nil, err
	}
	mc.Delegate, mc.Events = g, g
	g.ml, err = memberlist.Create(mc)
	if err != nil {
		_ = mc.Transport.Shutdown()
		return nil, fmt.Errorf("start gossip on %s: %w", cfg.GossipBind, err)
	}
	return g, nil
}

// memberlistConfig is memberlist's LAN configuration with Carrier's
// addresses, name, key and logger.
func memberlistConfig(cfg Config, logger *slog.Logger) (*memberlist.Config, error) {
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.NodeID
	host, port, err := splitPort(cfg.GossipBind)
	if err != nil {
		return nil, fmt.Errorf("gossip bind: %w", err)
	}
	mc.BindAddr, mc.BindPort, mc.AdvertisePort = host, port, port
	if cfg.GossipAdvertise != "" {
		if err := setAdvertise(mc, cfg.GossipAdvertise); err != nil {
			return nil, err
		}
	}
	mc.DeadNodeReclaimTime = deadNodeReclaim
	mc.ProbeInterval = 500 * time.Millisecond
	mc.ProbeTimeout = 250 * time.Millisecond
	mc.GossipInterval = 100 * time.Millisecond
	mc.PushPullInterval = 10 * time.Second
	mc.SecretKey = cfg.GossipKey
	mc.Logger = log.New(&memberlistLog{log: logger.With("component", "gossip")}, "", 0)
	return mc, setTransport(mc, cfg.GossipBind)
}

// setTransport gives memberlist its network transport, dialing TCP from
// the bind IP (dialerFrom; its UDP already leaves from the bound socket).
func setTransport(mc *memberlist.Config, bind string) error {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{mc.BindAddr}, BindPort: mc.BindPort, Logger: mc.Logger})
	if err != nil {
		return fmt.Errorf("start gossip transport on %s: %w", bind, err)
	}
	if mc.BindPort == 0 {
		mc.BindPort = nt.GetAutoBindPort()
		if mc.AdvertiseAddr == "" {
			mc.AdvertisePort = mc.BindPort
		}
	}
	mc.Transport = &gossipTransport{NetTransport: nt, dialer: dialerFrom(bind)}
	return nil
}

// gossipTransport is memberlist's NetTransport with its TCP dials (push/pull,
// fallback pings) leaving from the bind IP.
type gossipTransport struct {
	*memberlist.NetTransport
	dialer net.Dialer
}

// DialTimeout implements memberlist.Transport.
func (t *gossipTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (t *gossipTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := t.dialer
	d.Timeout = timeout
	return d.Dial("tcp", a.Addr)
}

// setAdvertise resolves the advertised gossip address (memberlist wants an IP).
func setAdvertise(mc *memberlist.Config, addr string) error {
	host, port, err := splitPort(addr)
	if err != nil {
		return fmt.Errorf("gossip advertise: %w", err)
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return fmt.Errorf("resolve gossip advertise address %s: %w", host, err)
	}
	mc.AdvertiseAddr, mc.AdvertisePort = ips[0].String(), port
	return nil
}

func splitPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: bad port: %w", addr, err)
	}
	return host, port, nil
}

// localAddr is the gossip address peers reach this node at (with the port
// the kernel chose when bound to port 0).
func (g *gossip) localAddr() string { return g.ml.LocalNode().Address() }

// setMeta stores meta for the next NodeMeta call; it reports whether it changed.
func (g *gossip) setMeta(meta nodeMeta) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode gossip metadata: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return fmt.Errorf("gossip metadata is %d bytes, over memberlist's %d", len(b), memberlist.MetaMaxSize)
	}
	g.meta.Store(&b)
	return nil
}

// updateMeta replaces the metadata and broadcasts it when it changed.
func (g *gossip) updateMeta(meta nodeMeta) {
	old := g.meta.Load()
	if err := g.setMeta(meta); err != nil {
		g.log.Error("gossip metadata not updated", "err", err)
		return
	}
	if bytes.Equal(*old, *g.meta.Load()) {
		return
	}
	if err := g.ml.UpdateNode(updateTimeout); err != nil {
		g.log.Debug("gossip metadata broadcast", "err", err)
	}
}

// join contacts the given addresses (names are resolved by memberlist on
// every call, all their A records) and reports how many nodes answered.
func (g *gossip) join(addrs []string) (int, error) {
	n, err := g.ml.Join(addrs)
	if err != nil && n == 0 {
		return 0, fmt.Errorf("join %v: %w", addrs, err)
	}
	return n, nil
}

// unreached resolves targets (host:port; host may be a DNS name) and returns
// the addresses that are not a live member's gossip address; a target that
// does not resolve (or has no port) is returned as given, for Join to try.
func (g *gossip) unreached(targets []string) []string {
	live := map[string]bool{}
	for _, n := range g.ml.Members() {
		live[n.Address()] = true
	}
	var out []string
	for _, t := range targets {
		host, port, err := net.SplitHostPort(t)
		if err != nil {
			out = append(out, t)
			continue
		}
		ips, err := net.LookupHost(host)
		if err != nil {
			out = append(out, t)
			continue
		}
		for _, ip := range ips {
			if addr := net.JoinHostPort(ip, port); !live[addr] {
				out = append(out, addr)
			}
		}
	}
	return out
}

// snapshot returns every known peer, this node included, sorted by name.
func (g *gossip) snapshot() []peer {
	g.mu.Lock()
	out := make([]peer, 0, len(g.peers))
	for _, p := range g.peers {
		out = append(out, p)
	}
	g.mu.Unlock()
	slices.SortFunc(out, func(a, b peer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// peer returns the peer named name, this node included, if gossip knows it.
func (g *gossip) peer(name string) (peer, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.peers[name]
	return p, ok
}

// leave broadcasts this node's departure and stops gossip. Safe to call
// once. A leave broadcast nobody acknowledged in time (every peer is down,
// as when a whole cluster stops) is logged, not returned: the peers that
// come back learn it from the node's next alive message.
func (g *gossip) leave() error {
	if err := g.ml.Leave(leaveTimeout); err != nil {
		g.log.Warn("gossip leave not acknowledged", "err", err)
	}
	if err := g.ml.Shutdown(); err != nil {
		return fmt.Errorf("stop gossip: %w", err)
	}
	return nil
}

// record updates the peer table from a memberlist event and wakes the
// loop. state comes from the kind of event, not from n.State: memberlist
// passes its Node copy, whose State field it does not keep up to date.
// NotifyLeave does not say whether the node failed or left; both are
// recorded as "dead".
func (g *gossip) record(n *memberlist.Node, state string) {
	var meta nodeMeta
	if err := json.Unmarshal(n.Meta, &meta); err != nil {
		g.log.Warn("undecodable gossip metadata", "node", n.Name, "err", err)
	}
	g.mu.Lock()
	old, ok := g.peers[n.Name]
	since := time.Now()
	if ok && old.State == state {
		since = old.Since
	}
	g.peers[n.Name] = peer{Name: n.Name, Addr: n.Address(), State: state, Meta: meta, Since: since}
	g.mu.Unlock()
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// NodeMeta implements memberlist.Delegate.
func (g *gossip) NodeMeta(limit int) []byte {
	b := *g.meta.Load()
	if len(b) > limit {
		return nil // setMeta keeps it under MetaMaxSize, the only limit memberlist asks for
	}
	return b
}

// NotifyMsg, GetBroadcasts, LocalState and MergeRemoteState implement
// memberlist.Delegate; Carrier sends no user messages over gossip.
func (g *gossip) NotifyMsg([]byte)                  {}
func (g *gossip) GetBroadcasts(_, _ int) [][]byte   { return nil }
func (g *gossip) LocalState(bool) []byte            { return nil }
func (g *gossip) MergeRemoteState(_ []byte, _ bool) {}
func (g *gossip) NotifyJoin(n *memberlist.Node)     { g.record(n, "alive") }
func (g *gossip) NotifyLeave(n *memberlist.Node)    { g.record(n, "dead") }
func (g *gossip) NotifyUpdate(n *memberlist.Node)   { g.record(n, "alive") }

var _ memberlist.EventDelegate = (*gossip)(nil)

// memberlistLog turns memberlist's "[LEVEL] memberlist: text" lines into slog records.
type memberlistLog struct{ log *slog.Logger }

func (l *memberlistLog) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	level := slog.LevelDebug
	for prefix, lv := range map[string]slog.Level{"[ERR]": slog.LevelError, "[WARN]": slog.LevelWarn, "[INFO]": slog.LevelInfo} {
		if len(line) >= len(prefix) && line[:len(prefix)] == prefix {
			level, line = lv, line[len(prefix):]
		}
	}
	if strings.HasSuffix(line, closedConn) {
		level = slog.LevelDebug // a send racing this node's own shutdown
	}
	l.log.Log(context.Background(), level, string(bytes.TrimSpace([]byte(line))))
	return len(p), nil
}

var _ io.Writer = (*memberlistLog)(nil)
