package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// Config configures a node. Start from DefaultConfig and set NodeID, DataDir
// and the addresses; New rejects a Config that fails Validate.
type Config struct {
	NodeID        string // stable name, the Raft server ID
	DataDir       string // Raft log, stable store and snapshots live here
	RaftBind      string // host:port the Raft transport listens on
	RaftAdvertise string // host:port peers dial; defaults to RaftBind
	Bootstrap     bool   // form a single-voter cluster when there is no Raft state

	// Peer TLS (peertls.go): all three or none. With them, every
	// node-to-node connection (Raft, forwarding) is mutual TLS 1.3 and a
	// peer is accepted only with a certificate chaining to PeerTLSCA. The
	// files are read again when they change. Gossip then needs GossipKey.
	PeerTLSCA   string // PEM bundle of the cluster's own CA
	PeerTLSCert string // PEM certificate of this node (usable for server and client auth)
	PeerTLSKey  string // PEM private key of PeerTLSCert

	// Membership (membership.go, gossip.go, bootstrap.go). Gossip is off
	// when GossipBind is empty: the node is then a single node as before.
	GossipBind      string        // host:port memberlist listens on (TCP and UDP)
	GossipAdvertise string        // host:port peers reach; defaults to GossipBind; a name is resolved once at start
	GossipKey       []byte        // memberlist encryption key (16, 24 or 32 bytes); nil: clear text
	Join            []string      // gossip addresses or DNS names of peers, re-resolved until joined
	BootstrapExpect int           // form one cluster when this many empty nodes see each other; 0: never (unless Bootstrap)
	APIAddress      string        // advertised HTTP/WebSocket address, carried in gossip metadata
	Version         string        // software version, carried in gossip metadata
	PromoteLag      uint64        // a nonvoter within this many entries of the commit index is promoted
	DeadServerAfter time.Duration // a Raft member unseen in gossip this long is removed (never below BootstrapExpect voters); 0: never

	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration // must not exceed HeartbeatTimeout
	// CommitTimeout: after this long (randomised up to twice) without new
	// entries, the leader sends each follower its commit index. A write
	// forwarded by a follower returns once the follower applied it, so on an
	// idle cluster this bounds that wait (DESIGN.md, forwarding).
	CommitTimeout     time.Duration
	SnapshotInterval  time.Duration // how often raft checks SnapshotThreshold
	SnapshotThreshold uint64        // entries since the last snapshot that trigger one
	TrailingLogs      uint64        // entries kept after a snapshot for lagging followers
	// SegmentBytes is the size of one raft-wal segment file (preallocated);
	// 0 keeps raft-wal's default (64 MiB). Smaller segments make a full disk
	// show at once rather than when the current segment is used up (the fault
	// suite uses it); larger ones mean fewer files.
	SegmentBytes int
	// Store is where queue messages are kept: StoreDisk (segment files
	// under DataDir/raft/store) or StoreMemory ("" is memory).
	Store string

	MaxBatchCommands   int // commands per Raft entry (group commit)
	MaxBatchBytes      int // estimated encoded bytes per Raft entry; a larger command goes alone
	MaxInflightEntries int // entries handed to raft and not yet applied (pipelining depth)
	MaxAppendEntries   int // entries per AppendEntries RPC and per FSM apply batch

	Logger       *slog.Logger // nil: slog.Default()
	RaftLogLevel slog.Level   // records of raft and raft-wal below this are dropped

	// stores, when set (tests only), replaces the stores Store chooses.
	stores stateStores
}

// DefaultConfig returns the defaults for every field but NodeID, DataDir and addresses.
// DESIGN.md explains each value.
func DefaultConfig() Config {
	return Config{
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
		SnapshotInterval:   30 * time.Second,
		SnapshotThreshold:  2048,
		TrailingLogs:       1024,
		MaxBatchCommands:   1024,
		MaxBatchBytes:      1 << 20,
		MaxInflightEntries: 4,
		MaxAppendEntries:   32,
		RaftLogLevel:       slog.LevelWarn,
		PromoteLag:         readyLag,
		DeadServerAfter:    0,
	}
}

// minSegmentBytes is the smallest raft-wal segment accepted: one segment
// must hold a whole entry (MaxBatchBytes, 1 MiB by default, plus framing).
const minSegmentBytes = 2 << 20

// Validate reports every problem of c at once, or nil.
func (c Config) Validate() error {
	var errs []error
	add := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	add(c.NodeID != "", "node id is empty")
	add(c.DataDir != "", "data dir is empty")
	add(c.Store == "" || c.Store == StoreDisk || c.Store == StoreMemory, "store %q: want %q or %q", c.Store, StoreDisk, StoreMemory)
	errs = append(errs, validateAddr("raft bind", c.RaftBind, false))
	if c.RaftAdvertise != "" {
		errs = append(errs, validateAddr("raft advertise", c.RaftAdvertise, true))
	} else {
		errs = append(errs, validateAddr("raft bind (advertised: set RaftAdvertise)", c.RaftBind, true))
	}
	add(c.HeartbeatTimeout >= 5*time.Millisecond, "heartbeat timeout %v is below 5ms", c.HeartbeatTimeout)
	add(c.ElectionTimeout >= c.HeartbeatTimeout, "election timeout %v is below heartbeat timeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	add(c.LeaderLeaseTimeout >= 5*time.Millisecond, "leader lease timeout %v is below 5ms", c.LeaderLeaseTimeout)
	add(c.LeaderLeaseTimeout <= c.HeartbeatTimeout, "leader lease timeout %v exceeds heartbeat timeout %v", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	add(c.CommitTimeout >= time.Millisecond, "commit timeout %v is below 1ms", c.CommitTimeout)
	add(c.SnapshotInterval >= 5*time.Millisecond, "snapshot interval %v is below 5ms", c.SnapshotInterval)
	add(c.SnapshotThreshold > 0, "snapshot threshold is 0")
	add(c.SegmentBytes == 0 || c.SegmentBytes >= minSegmentBytes, "raft segment size %d is below %d bytes", c.SegmentBytes, minSegmentBytes)
	add(c.MaxBatchCommands > 0, "max batch commands %d is not positive", c.MaxBatchCommands)
	add(c.MaxBatchBytes > 0, "max batch bytes %d is not positive", c.MaxBatchBytes)
	add(c.MaxInflightEntries > 0, "max inflight entries %d is not positive", c.MaxInflightEntries)
	add(c.MaxAppendEntries > 0 && c.MaxAppendEntries <= 1024, "max append entries %d is not in 1..1024", c.MaxAppendEntries)
	errs = append(errs, c.validateMembership(), c.validatePeerTLS())
	return errors.Join(errs...)
}

// validateAddr checks a host:port; advertised addresses need a concrete IP
// or name (peers cannot dial 0.0.0.0). Port 0 is allowed on a bind address
// (the kernel picks one; tests use it).
func validateAddr(what, addr string, advertised bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s address %q: %w", what, addr, err)
	}
	if port == "" {
		return fmt.Errorf("%s address %q has no port", what, addr)
	}
	if !advertised {
		return nil
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("%s address %q is not dialable by peers", what, addr)
	}
	return nil
}

// logger returns the configured logger or the default one.
func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// raftConfig translates c into hashicorp/raft's configuration.
func (c Config) raftConfig(notify chan bool, logger *slog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.NodeID)
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	rc.SnapshotInterval = c.SnapshotInterval
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.TrailingLogs = c.TrailingLogs
	rc.MaxAppendEntries = c.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.CommitTimeout = c.CommitTimeout
	rc.NotifyCh = notify
	rc.Logger = newHCLogger(logger, c.RaftLogLevel, "raft")
	return rc
}

// validateMembership checks the gossip and bootstrap settings.
func (c Config) validateMembership() error {
	var errs []error
	gossipNeeded := len(c.Join) > 0 || c.BootstrapExpect > 0
	if c.GossipBind == "" {
		if gossipNeeded {
			errs = append(errs, errors.New("join or bootstrap-expect needs a gossip bind address"))
		}
		return errors.Join(errs...)
	}
	errs = append(errs, validateAddr("gossip bind", c.GossipBind, false))
	if c.GossipAdvertise != "" {
		errs = append(errs, validateAddr("gossip advertise", c.GossipAdvertise, true))
	}
	if n := len(c.GossipKey); n != 0 && n != 16 && n != 24 && n != 32 {
		errs = append(errs, fmt.Errorf("gossip key is %d bytes, want 16, 24 or 32", n))
	}
	if c.BootstrapExpect < 0 {
		errs = append(errs, fmt.Errorf("bootstrap expect %d is negative", c.BootstrapExpect))
	}
	if c.Bootstrap && c.BootstrapExpect > 1 {
		errs = append(errs, errors.New("bootstrap (single node) and bootstrap expect > 1 exclude each other"))
	}
	if c.DeadServerAfter < 0 {
		errs = append(errs, fmt.Errorf("dead server timeout %v is negative", c.DeadServerAfter))
	}
	return errors.Join(errs...)
}

// validatePeerTLS checks that the peer TLS files come together, and that
// gossip is encrypted when peers are TLS.
func (c Config) validatePeerTLS() error {
	set := 0
	for _, f := range []string{c.PeerTLSCA, c.PeerTLSCert, c.PeerTLSKey} {
		if f != "" {
			set++
		}
	}
	switch {
	case set == 0:
		return nil
	case set != 3:
		return errors.New("peer TLS needs all three files: the cluster CA bundle, this node's certificate and its key")
	case c.GossipBind != "" && len(c.GossipKey) == 0:
		return errors.New("peer TLS is on but gossip would be clear text: set the gossip key")
	}
	return nil
}
