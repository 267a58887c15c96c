package cluster

import (
	"errors"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// raftTransport is raft's network transport as raft sees it: every RPC
// reaches raft through one relay (run), which applies three rules that
// hashicorp/raft v1.8.0 does not keep by itself. Every other method is the
// network transport's own.
//
//  1. Heartbeats from a newer term, or reaching a node that is not a
//     follower, go to raft's main loop instead of raft's fast path. raft
//     answers heartbeats on the transport's goroutine (so a follower busy
//     writing its log still answers them), and that goroutine raises the
//     term and turns the node into a follower without the main loop
//     knowing. A leader whose main loop is between its state check and
//     dispatchLogs then stamps its own new entries with the newer leader's
//     term: two different entries with the same index and term, which
//     breaks Log Matching, and the newer leader's next AppendEntries
//     "verifies" the wrong entry and commits it on this node. That is how a
//     resumed, paused leader kept its own never-committed batch (the fault
//     suite's compound scenario; hashicorp/raft#695). Heartbeats at a
//     follower of the same term, nearly all of them, keep the fast path.
//  2. An AppendEntries request's LeaderCommitIndex is clamped to the last
//     entry it verifies (PrevLogEntry + len(Entries)). raft takes
//     min(LeaderCommitIndex, its own last index), so a follower whose log
//     runs past the verified prefix with entries of an older leader commits
//     and applies them (the Raft paper's rule is "index of last new
//     entry"). The leader's next request, which covers those indexes,
//     commits what is really there.
//  3. While the vote guard is on (voteguard.go), refused votes are answered
//     here and leaders' commit points are observed.
type raftTransport struct {
	*raft.NetworkTransport
	guard  *voteGuard
	header raft.RPCHeader // of this node, on the refusals it sends
	raft   atomic.Pointer[raft.Raft]
	out    chan raft.RPC // what raft's main loop reads
	stop   chan struct{}
	done   chan struct{}
}

func newRaftTransport(t *raft.NetworkTransport, g *voteGuard, id string) *raftTransport {
	header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(id),
		Addr: t.EncodePeer(raft.ServerID(id), t.LocalAddr())}
	rt := &raftTransport{NetworkTransport: t, guard: g, header: header,
		out: make(chan raft.RPC), stop: make(chan struct{}), done: make(chan struct{})}
	go rt.run()
	return rt
}

// setRaft tells the transport the raft instance it serves, whose state
// decides which heartbeats may take the fast path. Until then none do.
func (t *raftTransport) setRaft(r *raft.Raft) { t.raft.Store(r) }

// Consumer is what raft's main loop reads its RPCs from (raft asks once, in
// NewRaft).
func (t *raftTransport) Consumer() <-chan raft.RPC { return t.out }

// errGuarded is what a vote request this node would send returns while the
// guard is on: raft counts it as a vote not granted.
var errGuarded = errors.New("vote guard: this node may lack committed entries; not campaigning until caught up with a leader")

// errTransportClosed answers an RPC that arrived while the node shut down.
var errTransportClosed = errors.New("raft transport closed")

// RequestVote asks target for its vote, unless the guard holds this node back.
func (t *raftTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	if !t.guard.mayCampaign() {
		return errGuarded
	}
	return t.NetworkTransport.RequestVote(id, target, args, resp)
}

// RequestPreVote is RequestVote's pre-vote round, held back the same way.
func (t *raftTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	if !t.guard.mayCampaign() {
		return errGuarded
	}
	return t.NetworkTransport.RequestPreVote(id, target, args, resp)
}

// SetHeartbeatHandler installs raft's fast path behind rule 1: cb runs on
// the transport's goroutine only for a heartbeat of this node's current
// term while it is a follower; any other heartbeat is queued for the main
// loop like any RPC (the transport waits for its answer either way).
func (t *raftTransport) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	if cb == nil {
		t.NetworkTransport.SetHeartbeatHandler(nil)
		return
	}
	t.NetworkTransport.SetHeartbeatHandler(func(rpc raft.RPC) {
		a, ok := rpc.Command.(*raft.AppendEntriesRequest)
		if !ok {
			cb(rpc)
			return
		}
		t.guard.observe(a.Term, a.LeaderCommitIndex)
		if t.fastPathSafe(a.Term) {
			cb(rpc)
			return
		}
		t.toMainLoop(rpc)
	})
}

// fastPathSafe reports whether a heartbeat of term may run concurrently with
// raft's main loop: only when it changes nothing but the leader's contact
// time, that is at a follower already in that term. A node that turns
// candidate meanwhile has a newer term, and raft then ignores the heartbeat.
func (t *raftTransport) fastPathSafe(term uint64) bool {
	r := t.raft.Load()
	return r != nil && r.State() == raft.Follower && r.CurrentTerm() == term
}

// toMainLoop hands rpc to raft's main loop, or answers it with an error once
// the transport is closing.
func (t *raftTransport) toMainLoop(rpc raft.RPC) {
	select {
	case t.out <- rpc:
	case <-t.stop:
		rpc.Respond(nil, errTransportClosed)
	}
}

// run passes the network transport's RPCs on to raft, applying rules 2 and
// 3, until close.
func (t *raftTransport) run() {
	defer close(t.done)
	in := t.NetworkTransport.Consumer()
	for {
		select {
		case rpc := <-in:
			if t.filter(rpc) {
				continue
			}
			t.toMainLoop(rpc)
		case <-t.stop:
			return
		}
	}
}

// filter applies rules 2 and 3 to rpc; it reports whether it answered rpc
// itself (a vote the guard refuses).
func (t *raftTransport) filter(rpc raft.RPC) bool {
	switch c := rpc.Command.(type) {
	case *raft.AppendEntriesRequest:
		t.guard.observe(c.Term, c.LeaderCommitIndex)
		clampCommit(c)
	case *raft.RequestVoteRequest:
		if t.guard.refuse(c.LastLogTerm, c.LastLogIndex) {
			t.guard.log.Warn("refusing a vote: started without Raft state or with a damaged log tail, and the candidate is behind the last commit point heard of", "candidate", string(c.ID), "term", c.Term)
			rpc.Respond(&raft.RequestVoteResponse{RPCHeader: t.header, Term: c.Term}, nil)
			return true
		}
	case *raft.RequestPreVoteRequest:
		if t.guard.refuse(c.LastLogTerm, c.LastLogIndex) {
			rpc.Respond(&raft.RequestPreVoteResponse{RPCHeader: t.header, Term: c.Term}, nil)
			return true
		}
	}
	return false
}

// clampCommit lowers a's commit index to the last entry a verifies (rule 2).
func clampCommit(a *raft.AppendEntriesRequest) {
	a.LeaderCommitIndex = min(a.LeaderCommitIndex, a.PrevLogEntry+uint64(len(a.Entries)))
}

// closeRelay stops the relay; raft must be shut down first.
func (t *raftTransport) closeRelay() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	<-t.done
}
