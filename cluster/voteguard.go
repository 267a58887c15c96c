package cluster

import (
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
