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

	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration // must not exceed HeartbeatTimeout
	SnapshotInterval   time.Duration // how often raft checks SnapshotThreshold
	SnapshotThreshold  uint64        // entries since the last snapshot that trigger one
	TrailingLogs       uint64        // entries kept after a snapshot for lagging followers

	MaxBatchCommands   int // commands per Raft entry (group commit)
	MaxBatchBytes      int // estimated encoded bytes per Raft entry; a larger command goes alone
	MaxInflightEntries int // entries handed to raft and not yet applied (pipelining depth)
	MaxAppendEntries   int // entries per AppendEntries RPC and per FSM apply batch

	Logger       *slog.Logger // nil: slog.Default()
	RaftLogLevel slog.Level   // records of raft and raft-wal below this are dropped
}

// DefaultConfig returns the defaults for every field but NodeID, DataDir and addresses.
// DESIGN.md explains each value.
func DefaultConfig() Config {
	return Config{
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond,
		SnapshotInterval:   30 * time.Second,
		SnapshotThreshold:  2048,
		TrailingLogs:       1024,
		MaxBatchCommands:   1024,
		MaxBatchBytes:      1 << 20,
		MaxInflightEntries: 4,
		MaxAppendEntries:   32,
		RaftLogLevel:       slog.LevelWarn,
	}
}

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
	add(c.SnapshotInterval >= 5*time.Millisecond, "snapshot interval %v is below 5ms", c.SnapshotInterval)
	add(c.SnapshotThreshold > 0, "snapshot threshold is 0")
	add(c.MaxBatchCommands > 0, "max batch commands %d is not positive", c.MaxBatchCommands)
	add(c.MaxBatchBytes > 0, "max batch bytes %d is not positive", c.MaxBatchBytes)
	add(c.MaxInflightEntries > 0, "max inflight entries %d is not positive", c.MaxInflightEntries)
	add(c.MaxAppendEntries > 0 && c.MaxAppendEntries <= 1024, "max append entries %d is not in 1..1024", c.MaxAppendEntries)
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
	rc.NotifyCh = notify
	rc.Logger = newHCLogger(logger, c.RaftLogLevel, "raft")
	return rc
}
