package cluster

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/raft"
)

// RemoveMember removes the server id from the Raft configuration (an
// explicit leave or scale-down). Only the leader can; elsewhere it returns
// ErrNotLeader (the caller forwards to LeaderAPIAddress). It refuses with
// ErrUnknownMember for an id not in the configuration and with ErrLastVoter
// when id is the only voter. Removing the leader itself is allowed: it
// steps down once the change commits. Safe for concurrent use.
func (n *Node) RemoveMember(ctx context.Context, id string) error {
	g := n.group
	if g.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	conf, err := n.configuration()
	if err != nil {
		return err
	}
	if err := checkRemoval(conf, id); err != nil {
		return err
	}
	if err := waitFuture(ctx, g.raft.RemoveServer(raft.ServerID(id), 0, changeTimeout)); err != nil {
		return membershipErr("remove "+id, err)
	}
	g.log.Info("member removed", "member", id)
	return nil
}

// checkRemoval says whether id may be removed from conf.
func checkRemoval(conf raft.Configuration, id string) error {
	found, voter, voters := false, false, 0
	for _, s := range conf.Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
		if string(s.ID) == id {
			found, voter = true, s.Suffrage == raft.Voter
		}
	}
	switch {
	case !found:
		return fmt.Errorf("remove %s: %w", id, ErrUnknownMember)
	case voter && voters <= 1:
		return fmt.Errorf("remove %s: %w", id, ErrLastVoter)
	}
	return nil
}

// AddMember adds id at raftAddress as a nonvoter (the explicit re-add of a
// removed node that kept its data); the leader promotes it to voter once it
// has caught up. A member already in the configuration keeps its suffrage
// and gets the new address. Only the leader can; elsewhere ErrNotLeader.
func (n *Node) AddMember(ctx context.Context, id, raftAddress string) error {
	g := n.group
	if g.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	if id == "" || raftAddress == "" {
		return fmt.Errorf("add member: id and raft address are required: %w", ErrInvalidMember)
	}
	if err := validateAddr("member raft", raftAddress, true); err != nil {
		return fmt.Errorf("add member %s: %w: %w", id, ErrInvalidMember, err)
	}
	f := g.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(raftAddress), 0, changeTimeout)
	if err := waitFuture(ctx, f); err != nil {
		return membershipErr("add "+id, err)
	}
	g.log.Info("member added as nonvoter", "member", id, "address", raftAddress)
	return nil
}

// TransferLeadership hands leadership to another voter when this node is
// the leader and one exists; otherwise it does nothing. With gossip, the
// target is a voter alive in gossip, caught-up ones first, then the most
// advanced: raft alone picks by replication progress and may pick a node
// that just stopped (a rolling restart). raft itself brings the target up
// to date before handing over, so a voter not yet known to be caught up (a
// cluster that has just formed: gossip reports applied indexes once a
// second) is still a target. When no other voter is alive it does nothing:
// the election after this node stops is the best left. It returns once the
// transfer finished or failed (bounded by ctx).
func (n *Node) TransferLeadership(ctx context.Context) error {
	g := n.group
	if g.raft.State() != raft.Leader {
		return nil
	}
	conf, err := n.configuration()
	if err != nil {
		return err
	}
	if voters(conf) < 2 {
		return nil
	}
	target := ""
	if n.members != nil {
		s, ok := n.handoverTarget(conf)
		if !ok {
			g.log.Info("no other voter is alive: not handing leadership over (an election follows)")
			return nil
		}
		target = string(s.ID)
	}
	f, err := transferFuture(g.raft, conf, target)
	if err != nil {
		return err
	}
	if err := waitFuture(ctx, f); err != nil {
		return fmt.Errorf("transfer leadership: %w", err)
	}
	g.log.Info("leadership transferred", "target", target)
	return nil
}

// handoverTarget is the voter other than this node that is alive in
// gossip, caught up first, then with the highest gossiped applied index,
// then the lowest id.
func (n *Node) handoverTarget(conf raft.Configuration) (raft.Server, bool) {
	alive := map[string]uint64{}
	for _, p := range n.members.gossip.snapshot() {
		if p.State == "alive" {
			alive[p.Name] = p.Meta.Applied
		}
	}
	type candidate struct {
		s        raft.Server
		caughtUp bool
		applied  uint64
	}
	up := n.caughtUpNodes()
	var cs []candidate
	for _, s := range conf.Servers {
		id := string(s.ID)
		applied, ok := alive[id]
		if s.Suffrage == raft.Voter && id != n.id && ok {
			cs = append(cs, candidate{s, up[id], applied})
		}
	}
	if len(cs) == 0 {
		return raft.Server{}, false
	}
	best := slices.MinFunc(cs, func(a, b candidate) int {
		return cmp.Or(trueFirst(a.caughtUp, b.caughtUp), cmp.Compare(b.applied, a.applied), cmp.Compare(a.s.ID, b.s.ID))
	})
	return best.s, true
}

// trueFirst orders true before false.
func trueFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// LeaveGossip stops the membership loop, announces this node's departure
// and stops gossip. Raft keeps running; the node stays a member of the
// Raft configuration (a restarting pod is not a removed member). Calling it
// again, or on a node without gossip, does nothing.
func (n *Node) LeaveGossip() error {
	if n.members == nil {
		return nil
	}
	var err error
	n.leaveOnce.Do(func() { err = n.members.close() })
	return err
}

// LeaderAPIAddress is the API address the leader gossips, if the leader is
// known and alive in gossip.
func (n *Node) LeaderAPIAddress() (string, bool) {
	_, leader := n.group.raft.LeaderWithID()
	if leader == "" {
		return "", false
	}
	return n.MemberAPIAddress(string(leader))
}

// MemberAPIAddress is the API address node id gossips, if gossip knows id
// and sees it alive; false for a node that failed, left or was never seen,
// and on a node without gossip. Safe for concurrent use; it does not block.
func (n *Node) MemberAPIAddress(id string) (string, bool) {
	if n.members == nil {
		return "", false
	}
	p, ok := n.members.gossip.peer(id)
	if !ok || p.State != "alive" || p.Meta.APIAddr == "" {
		return "", false
	}
	return p.Meta.APIAddr, true
}

// GossipAddress is the address other nodes join this node's gossip at, or
// "" without gossip.
func (n *Node) GossipAddress() string {
	if n.members == nil {
		return ""
	}
	return n.members.gossip.localAddr()
}

func (n *Node) configuration() (raft.Configuration, error) {
	f := n.group.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raft.Configuration{}, membershipErr("read configuration", err)
	}
	return f.Configuration(), nil
}

func voters(conf raft.Configuration) int {
	n := 0
	for _, s := range conf.Servers {
		if s.Suffrage == raft.Voter {
			n++
		}
	}
	return n
}

// annotate adds what gossip knows to the Raft members, and appends the
// nodes gossip knows that are not in the configuration (Suffrage "None").
func (m *membership) annotate(members []Member, applied uint64) []Member {
	peers := map[string]peer{}
	for _, p := range m.gossip.snapshot() {
		peers[p.Name] = p
	}
	for i := range members {
		p, ok := peers[members[i].ID]
		if !ok {
			continue
		}
		delete(peers, p.Name)
		members[i] = withPeer(members[i], p)
	}
	for _, p := range m.gossip.snapshot() {
		if _, ok := peers[p.Name]; ok {
			members = append(members, withPeer(Member{ID: p.Name, Address: p.Meta.RaftAddr, Suffrage: "None"}, p))
		}
	}
	for i := range members {
		if members[i].ID == m.cfg.NodeID {
			members[i].Applied = applied
		}
	}
	return members
}

func withPeer(mb Member, p peer) Member {
	mb.Gossip, mb.GossipAddr, mb.APIAddress = p.State, p.Addr, p.Meta.APIAddr
	mb.Applied, mb.Version = p.Meta.Applied, p.Meta.Version
	return mb
}
