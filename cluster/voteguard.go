package cluster

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// A node that starts with no Raft state although it may be a voter — its
// volume was lost, or its damaged state was moved aside — must not vote
// until it holds everything the cluster committed. Its earlier self may
// have been part of the majority that committed an entry; empty, it would
// grant its vote to any candidate, and a candidate missing that entry (a
// follower that lagged) would then win with it and the entry would be
// lost. Raft assumes storage is never lost; this restores the assumption.
// The fault suite lost confirmed messages exactly this way (a node restarted
// empty within an election timeout of the leader's loss) before the guard.
// The same holds for a node whose newest log records were torn or damaged
// on disk (walrepair.go cut them at start): it may have lost entries it
// acknowledged, and with them missing it must neither vote for a lagging
// candidate nor become leader itself (bit rot on a minority of nodes is how
// JetStream lost acknowledged messages). The suite lost 6 confirmed
// messages, and seqs were given twice, that way before the guard covered it.
//
// voteGuard is that rule, for votes this node grants (refuse) and votes it
// asks for (mayCampaign). It is on from the start of such a node until the
// node's log holds an entry a leader has reported as committed in that
// leader's own term: a leader commits an entry of its term only once its
// log holds every entry committed before, so by Log Matching the node has
// them all. It never turns on again in this process. A node that forms a
// new cluster (bootstrap) turns it off: there is nothing to protect.
type voteGuard struct {
	active atomic.Bool
	log    *slog.Logger
	logs   raft.LogStore

	mu     sync.Mutex
	term   uint64 // of the newest leader seen
	commit uint64 // that leader's commit index
}

func newVoteGuard(logs raft.LogStore, log *slog.Logger, active bool) *voteGuard {
	g := &voteGuard{logs: logs, log: log}
	g.active.Store(active)
	return g
}

// observe records a leader's commit index from an AppendEntries request.
func (g *voteGuard) observe(term, commit uint64) {
	if !g.active.Load() {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if term > g.term || (term == g.term && commit > g.commit) {
		g.term, g.commit = term, commit
	}
}

// formationIndex is the last log index of a node that holds nothing but
// the configuration it bootstrapped with (BootstrapCluster writes it at
// index 1).
const formationIndex = 1

// refuse reports whether a vote for a candidate whose log ends at
// (lastTerm, lastIndex) must be refused now. It lifts the guard once this
// node's log holds the newest leader's commit point (T, C) of its own term.
//
// Until then a vote is still safe for a candidate whose log is at least as
// up to date as (T, C): an entry of term T at index ≥ C came from that
// leader, and an entry of a later term from a leader whose log held C, so
// by Log Matching the candidate holds everything committed up to C. Only
// candidates behind it — the ones that could lack what this node's earlier
// self helped commit — are refused, and any candidate while no leader has
// been heard from at all.
//
// A candidate that holds nothing but its bootstrap configuration is not
// refused: during formation with --bootstrap-expect one node may bootstrap
// before the others see it, and those then wait to be contacted by it
// (bootstrap.go) — refusing it would deadlock formation. Such a candidate
// can only lose data if a node lagging since formation meets a wiped one
// while the rest of the cluster is down.
func (g *voteGuard) refuse(lastTerm, lastIndex uint64) bool {
	if !g.active.Load() || lastIndex <= formationIndex {
		return false
	}
	g.mu.Lock()
	term, commit := g.term, g.commit
	g.mu.Unlock()
	if g.caughtUp(term, commit) {
		return false
	}
	if commit == 0 {
		return true
	}
	return lastTerm < term || (lastTerm == term && lastIndex < commit)
}

// mayCampaign reports whether this node may ask for votes: not while the
// guard is on, since its own log may lack what it once helped commit.
func (g *voteGuard) mayCampaign() bool {
	if !g.active.Load() {
		return true
	}
	g.mu.Lock()
	term, commit := g.term, g.commit
	g.mu.Unlock()
	return g.caughtUp(term, commit)
}

// caughtUp lifts the guard and reports true once this node's log holds the
// leader's commit point (term, commit).
func (g *voteGuard) caughtUp(term, commit uint64) bool {
	var e raft.Log
	if commit > 0 && g.logs.GetLog(commit, &e) == nil && e.Term == term {
		g.lift("caught up with the leader's commit index", "index", commit, "term", term)
		return true
	}
	return false
}

// lift turns the guard off for good.
func (g *voteGuard) lift(why string, args ...any) {
	if g.active.CompareAndSwap(true, false) {
		g.log.Info("voting again: "+why, args...)
	}
}

// guardedTransport is raft's network transport with the vote guard in front
// of raft's RPC consumer: vote and pre-vote requests are refused while the
// guard is on, and leaders' commit indexes are observed (also from the
// heartbeat fast path). Every other method is the transport's own.
type guardedTransport struct {
	*raft.NetworkTransport
	guard  *voteGuard
	header raft.RPCHeader // of this node, on the refusals it sends
	out    chan raft.RPC
	stop   chan struct{}
	done   chan struct{}
}

func newGuardedTransport(t *raft.NetworkTransport, g *voteGuard, id string) *guardedTransport {
	header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(id),
		Addr: t.EncodePeer(raft.ServerID(id), t.LocalAddr())}
	gt := &guardedTransport{NetworkTransport: t, guard: g, header: header,
		stop: make(chan struct{}), done: make(chan struct{})}
	if !g.active.Load() {
		close(gt.done) // a node with state votes at once: raft reads the transport directly
		return gt
	}
	gt.out = make(chan raft.RPC)
	go gt.run()
	return gt
}

// Consumer is what raft reads its RPCs from (raft asks once, in NewRaft):
// the filtered channel while the guard is on, else the transport's own.
func (t *guardedTransport) Consumer() <-chan raft.RPC {
	if t.out == nil {
		return t.NetworkTransport.Consumer()
	}
	return t.out
}

// errGuarded is what a vote request this node would send returns while the
// guard is on: raft counts it as a vote not granted.
var errGuarded = errors.New("vote guard: this node may lack committed entries; not campaigning until caught up with a leader")

// RequestVote asks target for its vote, unless the guard holds this node back.
func (t *guardedTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	if !t.guard.mayCampaign() {
		return errGuarded
	}
	return t.NetworkTransport.RequestVote(id, target, args, resp)
}

// RequestPreVote is RequestVote's pre-vote round, held back the same way.
func (t *guardedTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	if !t.guard.mayCampaign() {
		return errGuarded
	}
	return t.NetworkTransport.RequestPreVote(id, target, args, resp)
}

// SetHeartbeatHandler observes heartbeats before raft's handler runs.
func (t *guardedTransport) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	t.NetworkTransport.SetHeartbeatHandler(func(rpc raft.RPC) {
		if a, ok := rpc.Command.(*raft.AppendEntriesRequest); ok {
			t.guard.observe(a.Term, a.LeaderCommitIndex)
		}
		cb(rpc)
	})
}

// run passes RPCs on to raft, answering refused votes itself, until close.
func (t *guardedTransport) run() {
	defer close(t.done)
	in := t.NetworkTransport.Consumer()
	for {
		select {
		case rpc := <-in:
			if t.filter(rpc) {
				continue
			}
			select {
			case t.out <- rpc:
			case <-t.stop:
				return
			}
		case <-t.stop:
			return
		}
	}
}

// filter observes rpc and answers it when it is a vote the guard refuses;
// it reports whether it answered.
func (t *guardedTransport) filter(rpc raft.RPC) bool {
	switch c := rpc.Command.(type) {
	case *raft.AppendEntriesRequest:
		t.guard.observe(c.Term, c.LeaderCommitIndex)
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

// closeGuard stops the forwarding goroutine; raft must be shut down first.
func (t *guardedTransport) closeGuard() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	<-t.done
}
