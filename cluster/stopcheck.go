package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/raft"
)

// ErrNotVoter: a leadership transfer named a server that is not a voter.
var ErrNotVoter = errors.New("not a voter")

// StopCheck is the leader's answer to "may member stop now?": whether the
// voters that stay, and are caught up, still make a quorum.
type StopCheck struct {
	Member   string   `json:"member"`
	Safe     bool     `json:"safe"`
	Reason   string   `json:"reason"`
	Leader   bool     `json:"leader"`   // member leads now: transfer leadership before stopping it
	Voter    bool     `json:"voter"`    // member is a voter (stopping a nonvoter never costs quorum)
	Voters   int      `json:"voters"`   // voters in the configuration
	Quorum   int      `json:"quorum"`   // voters/2 + 1
	CaughtUp []string `json:"caughtUp"` // voters caught up now (the leader is)
	Lagging  []string `json:"lagging"`  // voters not caught up or not alive in gossip
}

// SafeToStop says whether stopping member now keeps a quorum of caught-up
// voters: the voters other than member that are caught up must be at least
// a quorum of the configuration. A voter is caught up when it is the leader,
// or alive in gossip with an applied index within PromoteLag of the commit
// index of promoteWindow ago (the rule that promotes nonvoters: gossip is up
// to a second old). Only the leader can say; elsewhere it returns
// ErrNotLeader (the caller forwards to LeaderAPIAddress). A member not in
// the configuration is ErrUnknownMember. Safe for concurrent use.
func (n *Node) SafeToStop(member string) (StopCheck, error) {
	g := n.group
	if g.raft.State() != raft.Leader {
		return StopCheck{}, ErrNotLeader
	}
	conf, err := n.configuration()
	if err != nil {
		return StopCheck{}, err
	}
	if !slices.ContainsFunc(conf.Servers, func(s raft.Server) bool { return string(s.ID) == member }) {
		return StopCheck{}, fmt.Errorf("safe to stop %s: %w", member, ErrUnknownMember)
	}
	up := n.caughtUpNodes()
	return stopCheck(conf, member, n.id, func(id string) bool { return up[id] }), nil
}

// caughtUpNodes is the set of nodes caught up now (see SafeToStop): this
// node, and the peers alive in gossip that pass membership's caughtUpPeer.
func (n *Node) caughtUpNodes() map[string]bool {
	up := map[string]bool{n.id: true}
	if n.members == nil {
		return up
	}
	commit := n.members.commitBefore(promoteWindow)
	for _, p := range n.members.gossip.snapshot() {
		if p.State == "alive" && n.members.caughtUpPeer(p, commit) {
			up[p.Name] = true
		}
	}
	return up
}

// stopCheck is SafeToStop's rule over a configuration; caughtUp says which
// voters are caught up.
func stopCheck(conf raft.Configuration, member, leader string, caughtUp func(string) bool) StopCheck {
	c := StopCheck{Member: member, Leader: member == leader, CaughtUp: []string{}, Lagging: []string{}}
	staying := 0
	for _, s := range conf.Servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		id := string(s.ID)
		c.Voters++
		if id == member {
			c.Voter = true
		}
		if !caughtUp(id) {
			c.Lagging = append(c.Lagging, id)
			continue
		}
		c.CaughtUp = append(c.CaughtUp, id)
		if id != member {
			staying++
		}
	}
	c.Quorum = c.Voters/2 + 1
	switch {
	case !c.Voter:
		c.Safe, c.Reason = true, "not a voter: stopping it does not change the quorum"
	case staying >= c.Quorum:
		c.Safe, c.Reason = true, fmt.Sprintf("%d caught-up voters stay, quorum is %d", staying, c.Quorum)
		if c.Leader {
			c.Reason += "; it leads: transfer leadership first"
		}
	default:
		c.Reason = fmt.Sprintf("only %d caught-up voters would stay, quorum is %d", staying, c.Quorum)
	}
	return c
}

// TransferLeadershipTo hands leadership to voter target, or to the most
// up-to-date other voter when target is "". Only the leader can
// (ErrNotLeader elsewhere); a target not in the configuration is
// ErrUnknownMember, a nonvoter ErrNotVoter; a target that already leads is
// done. A single-voter cluster has no one to hand over to (ErrLastVoter).
// It returns once raft finished the transfer or failed (bounded by ctx).
func (n *Node) TransferLeadershipTo(ctx context.Context, target string) error {
	g := n.group
	if target == n.id && g.raft.State() == raft.Leader {
		return nil
	}
	if g.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	conf, err := n.configuration()
	if err != nil {
		return err
	}
	if voters(conf) < 2 {
		return fmt.Errorf("transfer leadership: %w", ErrLastVoter)
	}
	f, err := transferFuture(g.raft, conf, target)
	if err != nil {
		return err
	}
	if err := waitFuture(ctx, f); err != nil {
		return fmt.Errorf("transfer leadership: %w", err)
	}
	g.log.Info("leadership transferred on request", "target", target)
	return nil
}

// transferFuture starts the transfer to target ("" for raft's choice).
func transferFuture(r *raft.Raft, conf raft.Configuration, target string) (raft.Future, error) {
	if target == "" {
		return r.LeadershipTransfer(), nil
	}
	i := slices.IndexFunc(conf.Servers, func(s raft.Server) bool { return string(s.ID) == target })
	switch {
	case i < 0:
		return nil, fmt.Errorf("transfer leadership to %s: %w", target, ErrUnknownMember)
	case conf.Servers[i].Suffrage != raft.Voter:
		return nil, fmt.Errorf("transfer leadership to %s: %w", target, ErrNotVoter)
	}
	s := conf.Servers[i]
	return r.LeadershipTransferToServer(s.ID, s.Address), nil
}
