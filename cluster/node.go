package cluster

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/carriermq/carrier/queue"
)

// CONTRACT STUB: the cluster implementation replaces the bodies below; the
// signatures are what gateway/ and cmd/ code against.

// Errors returned by Propose. Each maps to a stable protocol code in the gateway.
var (
	// ErrNotLeader: this node cannot accept writes now (no leader known, or
	// forwarding is not possible). Safe to retry elsewhere or later.
	ErrNotLeader = errors.New("not the leader")
	// ErrUnavailable: the group has no quorum or is shutting down.
	ErrUnavailable = errors.New("cluster unavailable")
	// ErrUnknownOutcome: the write may or may not have been committed
	// (leadership lost after proposing). Retrying with the same message ids is safe.
	ErrUnknownOutcome = errors.New("outcome unknown")
	// ErrClosed: the node is shut down.
	ErrClosed = errors.New("node closed")
)

// Config configures a node.
type Config struct {
	NodeID        string // stable name, the Raft server ID
	DataDir       string // Raft log, stable store and snapshots live here
	RaftBind      string // host:port the Raft transport listens on
	RaftAdvertise string // host:port peers dial; defaults to RaftBind
	Bootstrap     bool   // form a single-voter cluster when there is no Raft state

	HeartbeatTimeout  time.Duration
	ElectionTimeout   time.Duration
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64

	MaxBatchCommands int // commands per Raft entry (group commit)
	MaxBatchBytes    int // encoded bytes per Raft entry

	Logger *slog.Logger
}

// DefaultConfig returns the defaults for every field but NodeID, DataDir and addresses.
func DefaultConfig() Config { panic("unimplemented") }

// Observer receives the events of every applied entry.
type Observer interface {
	// OnApply is called on the apply goroutine, in log order, while the
	// state's write lock is held. It must not block and must not call back
	// into the Node.
	OnApply(events []queue.Event)
}

// Status is a node's view of its Raft group.
type Status struct {
	NodeID       string   `json:"nodeId"`
	State        string   `json:"state"` // Leader, Follower, Candidate, Shutdown
	Leader       string   `json:"leader"`
	Term         uint64   `json:"term"`
	CommitIndex  uint64   `json:"commitIndex"`
	AppliedIndex uint64   `json:"appliedIndex"`
	LastLogIndex uint64   `json:"lastLogIndex"`
	Members      []Member `json:"members"`
}

// Member is one server of the Raft configuration.
type Member struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"` // Voter, Nonvoter
	Leader   bool   `json:"leader"`
}

// Node runs one Carrier server's share of the cluster.
type Node struct{}

// New opens the node's stores and starts Raft. It returns once Raft is running.
func New(cfg Config) (*Node, error) { panic("unimplemented") }

// ID is the node's stable name.
func (n *Node) ID() string { panic("unimplemented") }

// Session identifies this run of the node; it changes on every start.
func (n *Node) Session() string { panic("unimplemented") }

// Propose replicates cmd and returns its result once it is committed by a
// majority (on disk) and applied on this node. Concurrent proposals are
// batched into shared entries (group commit).
func (n *Node) Propose(ctx context.Context, cmd queue.Command) (queue.Result, error) {
	panic("unimplemented")
}

// View runs fn with a read lock on the applied state. fn must not keep
// references to the State past its return (messages it read are immutable
// and may be kept).
func (n *Node) View(fn func(s *queue.State)) { panic("unimplemented") }

// Observe registers o for events until the returned function is called.
func (n *Node) Observe(o Observer) (cancel func()) { panic("unimplemented") }

// Status reports the node's view of the cluster.
func (n *Node) Status() Status { panic("unimplemented") }

// Ready returns nil when the node is a member that knows a leader and has
// applied close to the commit index, or an error saying why not.
func (n *Node) Ready() error { panic("unimplemented") }

// Close hands leadership over if leader, stops Raft and closes the stores.
func (n *Node) Close(ctx context.Context) error { panic("unimplemented") }
