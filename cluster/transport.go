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

// tcpStreamLayer is raft's TCP stream layer with one difference from
// raft.NewTCPTransport: the advertised address may be a DNS name
// ("carrier-0.carrier:7001"), which is what a Kubernetes StatefulSet gives a
// pod across restarts, while raft's own layer only accepts a resolved IP.
// Accept and Close may be called from any goroutine.
type tcpStreamLayer struct {
	net.Listener
	advertise net.Addr
	dialer    net.Dialer // leaves from the bind IP (dialerFrom)
}

// advertisedAddr is a host:port that is dialed as given (names are resolved
// at dial time, so a pod that comes back with a new IP is found again).
type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

// Dial connects to a peer's Raft address.
func (s *tcpStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := s.dialer
	d.Timeout = timeout
	return d.Dial("tcp", string(address))
}

// dialerFrom returns a dialer whose connections leave from bind's IP when
// bind names one (not 0.0.0.0 or ::), so that peers — and firewall rules —
// see a node's traffic come from the address it listens on, as on a pod
// network. Otherwise the kernel picks the source (on loopback that is
// 127.0.0.1 whatever 127.x address the node listens on).
func dialerFrom(bind string) net.Dialer {
	host, _, err := net.SplitHostPort(bind)
	ip := net.ParseIP(host)
	if err != nil || ip == nil || ip.IsUnspecified() {
		return net.Dialer{}
	}
	return net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
}

// Addr is the address peers dial: the advertised one, or the bound one.
func (s *tcpStreamLayer) Addr() net.Addr {
	if s.advertise != nil {
		return s.advertise
	}
	return s.Listener.Addr()
}

// newTransport listens on bind and returns raft's network transport over it,
// and the listener's mux, which also carries forward connections
// (forward_mux.go). advertise may be empty (peers dial the bound address,
// which must then be a concrete IP; port 0 resolves to the port the kernel
// chose). Closing the transport closes the mux.
func newTransport(bind, advertise string, logger hclog.Logger, log *slog.Logger) (*raft.NetworkTransport, *muxListener, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on raft address %s: %w", bind, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); advertise == "" && (!ok || tcp.IP.IsUnspecified()) {
		_ = ln.Close()
		return nil, nil, fmt.Errorf("raft bind address %s is not dialable by peers: set the advertise address", bind)
	}
	mux := newMuxListener(ln, log)
	layer := &tcpStreamLayer{Listener: mux, dialer: dialerFrom(bind)}
	if advertise != "" {
		layer.advertise = advertisedAddr(advertise)
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:          layer,
		MaxPool:         transportMaxPool,
		MaxRPCsInFlight: transportMaxRPCsInFlight,
		Timeout:         transportTimeout,
		Logger:          logger,
	}), mux, nil
}
