package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/carriermq/carrier/queue"
)

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

// Observer receives the events of every applied entry.
type Observer interface {
	// OnApply is called on the apply goroutine, in log order, while the
	// state's write lock is held. It must not block and must not call back
	// into the Node.
	OnApply(events []queue.Event)
}

// RestoreObserver is an Observer that is also told when the whole state was
// replaced by a snapshot (at startup, or on a follower that fell too far
// behind): positions it tracks may have jumped, and it should resynchronise
// from View. OnRestore is called like OnApply: on the apply goroutine, under
// the write lock, not blocking, not calling into the Node.
type RestoreObserver interface {
	Observer
	OnRestore()
}

// Node runs one Carrier server's share of the cluster. Its methods are safe
// for concurrent use.
type Node struct {
	id      string
	session string
	group   *group      // the single Raft group; several once queues are sharded
	members *membership // gossip and membership rules; nil without gossip

	leaveOnce sync.Once
}

// New opens the node's stores and starts Raft. It returns once Raft is
// running (use Ready to learn when the node serves); a node with Raft state
// recovers it (snapshot, then the log as it is committed again).
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid cluster config: %w", err)
	}
	session, err := newSession()
	if err != nil {
		return nil, err
	}
	g, err := openGroup(cfg, session, filepath.Join(cfg.DataDir, "raft"))
	if err != nil {
		return nil, err
	}
	n := &Node{id: cfg.NodeID, session: session, group: g}
	if cfg.GossipBind != "" {
		if n.members, err = startMembership(cfg, g); err != nil {
			return nil, errors.Join(err, g.close(context.Background()))
		}
		g.setDeadNodes(n.members.deadNodes) // members of dead nodes are removed (forward_gone.go)
	}
	return n, nil
}

// newSession returns 16 random hex digits.
func newSession() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make session id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ID is the node's stable name.
func (n *Node) ID() string { return n.id }

// Session identifies this run of the node; it changes on every start.
func (n *Node) Session() string { return n.session }

// RaftAddress is the address peers dial to reach this node's Raft transport
// (the advertised one, or the bound one with the port the kernel chose).
func (n *Node) RaftAddress() string { return string(n.group.transport.LocalAddr()) }

// Propose replicates cmd and returns its result once it is committed by a
// majority (on disk) and applied on this node. Concurrent proposals are
// batched into shared entries (group commit). A rejection by the state
// machine is in Result.Err; the error is about replication:
//   - ErrNotLeader: not proposed (this node is not the leader); safe to retry.
//   - ErrUnknownOutcome: proposed, then leadership was lost or ctx ended
//     (ctx's error is wrapped too); retrying with the same message ids is safe.
//   - ErrClosed: the node is closing; when the command had already been
//     proposed, ErrUnknownOutcome is in the chain as well.
//   - ErrUnavailable: raft failed to store or commit the entry.
//   - a *queue.Error with CodeBadCommand: cmd cannot be encoded; not proposed.
//   - ctx's error alone: ctx ended before cmd was queued; not proposed.
func (n *Node) Propose(ctx context.Context, cmd queue.Command) (queue.Result, error) {
	return n.group.propose(ctx, cmd)
}

// View runs fn with a read lock on the applied state. fn must not keep
// references to the State past its return (messages it read are immutable
// and may be kept), and must not call Propose or Observe (deadlock).
func (n *Node) View(fn func(s *queue.State)) { n.group.fsm.view(fn) }

// Observe registers o for events until the returned function is called.
// Registration and cancellation wait for an apply in progress to finish.
func (n *Node) Observe(o Observer) (cancel func()) { return n.group.fsm.observe(o) }

// Failed receives, once, the error of a failed write to the Raft log (disk
// full, I/O error), wrapping ErrLogStoreFailed, or of the message store,
// wrapping ErrStoreFailed. By then the node has stopped Raft (it neither votes nor
// leads) and is not Ready: the owner must close it and start it again,
// which reopens the log from what is on disk (see countingLogStore).
// carrier serve exits non-zero.
func (n *Node) Failed() <-chan error { return n.group.failed }

// Close stops the group commit (queued proposals get ErrClosed, those in
// flight finish or fail, bounded by ctx), stops Raft and closes the stores.
// It leaves gossip first (LeaveGossip; the node stays a Raft member) and
// does not transfer leadership (see TransferLeadership).
// Calling Close again returns the first call's result.
func (n *Node) Close(ctx context.Context) error {
	return errors.Join(n.LeaveGossip(), n.group.close(ctx))
}
