package cluster

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Raft transport settings. Connections are on loopback or a pod network.
//
// transportMaxRPCsInFlight 1 turns hashicorp/raft's pipelined replication
// off: replication to each follower is one AppendEntries at a time (each
// carries up to MaxAppendEntries entries of up to 1,024 commands). With
// pipelining (v1.8), a follower answering Success=false — a full disk, a
// log it cannot extend — ends the pipeline's decoder while the sender can
// park on the pipeline's unbuffered channel for good: the follower then
// gets heartbeats but never another entry, and with one other node down the
// cluster stops committing. The fault suite's soak hit it after a full disk
// (goroutine dump: pipelineSend parked in netPipeline.AppendEntries,
// decodeResponses parked on doneCh, no pipelineDecode).
const (
	transportMaxPool         = 3
	transportTimeout         = 10 * time.Second
	transportMaxRPCsInFlight = 1
)

// peerNet is the node-to-node transport: every connection between two
// nodes' Raft ports goes through it. Its listener (muxListener) accepts them
// and routes each by its first byte to raft or to the forward server; its
// dial is the only way this node connects to a peer's Raft port (raft's
// RPCs, forwarding). So whatever protects node-to-node traffic is added here
// once.
//
// peerNet is raft's StreamLayer: Accept returns the connections meant for
// raft, Dial opens one to a peer. Accept, Dial, Close and Addr may be
// called from any goroutine.
type peerNet struct {
	mux       *muxListener
	tls       *peerTLS   // nil: plain TCP (peertls.go)
	advertise net.Addr   // nil: the bound address
	dialer    net.Dialer // leaves from the bind IP (dialerFrom)
}

// listenPeers listens on cfg.RaftBind for peers, with mutual TLS when
// cfg sets the peer TLS files. cfg.RaftAdvertise may be empty (peers dial
// the bound address, which must then be a concrete IP; port 0 resolves to
// the port the kernel chose).
func listenPeers(cfg Config, log *slog.Logger) (*peerNet, error) {
	bind, advertise := cfg.RaftBind, cfg.RaftAdvertise
	var pt *peerTLS
	if cfg.PeerTLSCert != "" {
		var err error
		if pt, err = newPeerTLS(cfg, log); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("listen on raft address %s: %w", bind, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); advertise == "" && (!ok || tcp.IP.IsUnspecified()) {
		_ = ln.Close()
		return nil, fmt.Errorf("raft bind address %s is not dialable by peers: set the advertise address", bind)
	}
	p := &peerNet{mux: newMuxListener(ln, pt, log), tls: pt, dialer: dialerFrom(bind)}
	if advertise != "" {
		p.advertise = advertisedAddr(advertise)
	}
	return p, nil
}

// dial connects to a peer's Raft port at address (host:port; a name is
// resolved now, so a pod that came back with a new IP is found again). The
// caller writes the stream's first byte. With peer TLS, the handshake is
// done within the same timeout.
func (p *peerNet) dial(address string, timeout time.Duration) (net.Conn, error) {
	start := time.Now()
	d := p.dialer
	d.Timeout = timeout
	c, err := d.Dial("tcp", address)
	if err != nil || p.tls == nil {
		return c, err
	}
	return p.tls.connect(c, timeout-time.Since(start))
}

// Dial implements raft.StreamLayer.
func (p *peerNet) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return p.dial(string(address), timeout)
}

// Accept implements net.Listener for raft: the next connection meant for raft.
func (p *peerNet) Accept() (net.Conn, error) { return p.mux.Accept() }

// Close stops the listener and closes the connections it handed to raft.
func (p *peerNet) Close() error { return p.mux.Close() }

// Addr is the address peers dial: the advertised one, or the bound one.
func (p *peerNet) Addr() net.Addr {
	if p.advertise != nil {
		return p.advertise
	}
	return p.mux.Addr()
}

// setForwardHandler installs the forward server (forward_mux.go).
func (p *peerNet) setForwardHandler(h func(net.Conn)) { p.mux.setForwardHandler(h) }

// raftNetwork returns raft's network transport over p. Closing the
// transport closes p.
func (p *peerNet) raftNetwork(logger hclog.Logger) *raft.NetworkTransport {
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:          p,
		MaxPool:         transportMaxPool,
		MaxRPCsInFlight: transportMaxRPCsInFlight,
		Timeout:         transportTimeout,
		Logger:          logger,
	})
}

// advertisedAddr is a host:port that is dialed as given (names are resolved
// at dial time, so a pod that comes back with a new IP is found again).
// raft's own TCP layer only accepts a resolved IP; a Kubernetes StatefulSet
// gives a pod a stable name ("carrier-0.carrier:7421") across restarts.
type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

// dialerFrom returns a dialer whose connections leave from bind's IP when
// bind names one (not 0.0.0.0 or ::), so that peers — and firewall rules —
// see a node's traffic come from the address it listens on, as on a pod
// network. Otherwise the kernel picks the source (on loopback that is
// 127.0.0.1 whatever 127.x address the node listens on). Gossip's TCP dials
// follow the same rule (gossip.go).
func dialerFrom(bind string) net.Dialer {
	host, _, err := net.SplitHostPort(bind)
	ip := net.ParseIP(host)
	if err != nil || ip == nil || ip.IsUnspecified() {
		return net.Dialer{}
	}
	return net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
}
