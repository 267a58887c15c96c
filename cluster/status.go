package cluster

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// readyLag is how far (in log entries) the applied index may trail the
// commit index for the node to be ready. Raft hands committed entries to the
// FSM in batches of up to MaxAppendEntries, so a node under load trails by a
// few batches; 100 entries is a small fraction of a second of apply work,
// while a node replaying a log after a restart or catching up trails by far more.
const readyLag = 100

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

// Member is one server of the Raft configuration, or a node gossip knows
// that is not in it (Suffrage "None").
type Member struct {
	ID       string `json:"id"`
	Address  string `json:"address"`  // Raft address
	Suffrage string `json:"suffrage"` // Voter, Nonvoter, None
	Leader   bool   `json:"leader"`

	Gossip     string `json:"gossip,omitempty"`     // alive, dead (failed or left); "" when gossip has not seen it
	GossipAddr string `json:"gossipAddr,omitempty"` // host:port of its gossip
	APIAddress string `json:"apiAddress,omitempty"` // its HTTP/WebSocket address
	Applied    uint64 `json:"applied,omitempty"`    // its applied index as last gossiped (this node's: current)
	Version    string `json:"version,omitempty"`
}

// Stats counts the group commit's work on this node since it started.
type Stats struct {
	EntriesApplied   uint64  `json:"entriesApplied"`   // Raft entries of commands applied
	CommandsApplied  uint64  `json:"commandsApplied"`  // commands in those entries
	CommandsPerEntry float64 `json:"commandsPerEntry"` // CommandsApplied / EntriesApplied
	LogAppends       uint64  `json:"logAppends"`       // log store appends, each one fsync
}

// Status reports the node's view of the cluster. AppliedIndex is the last
// index reflected in the state View reads.
func (n *Node) Status() Status {
	g := n.group
	_, leader := g.raft.LeaderWithID()
	st := Status{
		NodeID:       n.id,
		State:        g.raft.State().String(),
		Leader:       string(leader),
		Term:         g.raft.CurrentTerm(),
		CommitIndex:  g.raft.CommitIndex(),
		AppliedIndex: g.fsm.applied.Load(),
		LastLogIndex: g.raft.LastIndex(),
	}
	st.Members = g.members(leader)
	if n.members != nil {
		st.Members = n.members.annotate(st.Members, st.AppliedIndex)
	}
	return st
}

// members lists the latest Raft configuration; nil when raft cannot say
// (for example after shutdown).
func (g *group) members(leader raft.ServerID) []Member {
	f := g.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil
	}
	servers := f.Configuration().Servers
	out := make([]Member, 0, len(servers))
	for _, s := range servers {
		out = append(out, Member{
			ID:       string(s.ID),
			Address:  string(s.Address),
			Suffrage: s.Suffrage.String(),
			Leader:   s.ID == leader,
		})
	}
	return out
}

// Ready returns nil when the node is a member of its latest configuration
// (voter or nonvoter), knows a leader, has applied this run's ResetNode
// (its log replayed) and has applied close to the commit index, or an
// error saying why not.
//
// "Applied" here is raft's applied index: entries handed to the apply
// goroutine, including the no-op and barrier entries the FSM never sees
// (the FSM's own index would trail the commit index by those forever on an
// idle cluster). The apply goroutine works through them in order, so the
// two differ only by work already queued.
func (n *Node) Ready() error {
	g := n.group
	if err := g.logs.usable(); err != nil {
		return err
	}
	if p := g.storeErr.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrStoreFailed, *p)
	}
	switch st := g.raft.State(); st {
	case raft.Leader, raft.Follower:
	default:
		return fmt.Errorf("raft state is %s", st)
	}
	if _, id := g.raft.LeaderWithID(); id == "" {
		return errors.New("no leader known")
	}
	if !g.resetDone.Load() {
		// This run's ResetNode is applied here only after everything
		// committed before it: until then the node may still be replaying
		// its log (a leader's commit index says nothing before its term's
		// first commit, so the lag check alone would pass too early).
		return errors.New("replaying: this run's first entry is not applied yet")
	}
	if !g.isMember() {
		return errors.New("not a member of the cluster configuration (removed, or not added yet)")
	}
	commit, applied := g.raft.CommitIndex(), g.raft.AppliedIndex()
	if commit > applied+readyLag {
		return fmt.Errorf("applied index %d trails commit index %d by more than %d", applied, commit, readyLag)
	}
	return nil
}

// isMember reports whether this node is in its latest Raft configuration.
func (g *group) isMember() bool {
	f := g.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == g.nodeID {
			return true
		}
	}
	return false
}

// Stats reports the group commit's counters.
func (n *Node) Stats() Stats {
	g := n.group
	s := Stats{
		EntriesApplied:  g.fsm.entries.Load(),
		CommandsApplied: g.fsm.commands.Load(),
		LogAppends:      g.logs.appends.Load(),
	}
	if s.EntriesApplied > 0 {
		s.CommandsPerEntry = float64(s.CommandsApplied) / float64(s.EntriesApplied)
	}
	return s
}
