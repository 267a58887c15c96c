package cluster

import (
	"encoding/json"
	"time"

	"github.com/hashicorp/raft"
)

// metaWithoutApplied decodes encoded metadata with its applied index zeroed.
func metaWithoutApplied(b []byte) nodeMeta {
	var meta nodeMeta
	_ = json.Unmarshal(b, &meta) // this node's own encoding; an error leaves a zero value that differs
	meta.Applied = 0
	return meta
}

// reconcile is the leader's pass over gossip and the Raft configuration:
//   - a live node not in the configuration that reports no Raft state is
//     added as a nonvoter; one with Raft state (a removed member with old
//     data) is left out: only AddMember brings it back;
//   - a nonvoter whose gossiped applied index is within PromoteLag of the
//     commit index of promoteWindow ago is promoted to voter (gossip is up
//     to metaRefresh old, so comparing with the commit index of now would
//     never promote under steady load);
//   - a voter that reports no Raft state in a new run after this node saw
//     it with state (its data was wiped) is demoted to nonvoter, so it
//     cannot vote before it has the log again;
//   - a member unseen in gossip for DeadServerAfter is removed, never
//     shrinking the voters below BootstrapExpect (nor to zero).
//
// Each change is one raft call awaited in turn; the next step sees its
// result. Called only from the membership loop.
func (m *membership) reconcile(conf raft.Configuration) {
	servers := map[string]raft.Server{}
	for _, s := range conf.Servers {
		servers[string(s.ID)] = s
	}
	commit := m.commitBefore(promoteWindow)
	for _, p := range m.gossip.snapshot() {
		if p.Name == m.cfg.NodeID || p.State != "alive" || p.Meta.RaftAddr == "" {
			continue
		}
		s, ok := servers[p.Name]
		switch {
		case !ok && !p.Meta.HasState:
			m.change("add nonvoter", p.Name, m.g.raft.AddNonvoter(raft.ServerID(p.Name), raft.ServerAddress(p.Meta.RaftAddr), 0, changeTimeout))
		case !ok:
			m.logOnce("not re-adding a node with Raft state (re-add it explicitly)", p.Name)
		case s.Suffrage == raft.Nonvoter && m.caughtUpPeer(p, commit):
			m.change("promote to voter", p.Name, m.g.raft.AddVoter(s.ID, s.Address, 0, changeTimeout))
		case s.Suffrage == raft.Voter && m.wiped(p):
			m.change("demote wiped voter", p.Name, m.g.raft.DemoteVoter(s.ID, 0, changeTimeout))
		}
	}
	m.removeDead(conf)
}

// caughtUpPeer is the one rule for "caught up", shared by promotion and
// SafeToStop: p has Raft state and has applied within PromoteLag of commit,
// the commit index of promoteWindow ago (gossip is up to metaRefresh old,
// so comparing with the commit index of now would never pass under load).
func (m *membership) caughtUpPeer(p peer, commit uint64) bool {
	return p.Meta.HasState && p.Meta.Applied > 0 && p.Meta.Applied+m.cfg.PromoteLag >= commit
}

// commitSample is the leader's commit index at a time.
type commitSample struct {
	at     time.Time
	commit uint64
}

// sampleCommit records the commit index, keeping samples for twice
// promoteWindow. Called every step.
func (m *membership) sampleCommit() {
	m.commitsMu.Lock()
	defer m.commitsMu.Unlock()
	now := time.Now()
	m.commits = append(m.commits, commitSample{at: now, commit: m.g.raft.CommitIndex()})
	drop := 0
	for drop < len(m.commits)-1 && now.Sub(m.commits[drop].at) > 2*promoteWindow {
		drop++
	}
	m.commits = m.commits[drop:]
}

// commitBefore is the newest sampled commit index at least d old, or the
// oldest sample when none is that old (a leader of a moment ago: stricter).
func (m *membership) commitBefore(d time.Duration) uint64 {
	m.commitsMu.Lock()
	defer m.commitsMu.Unlock()
	cutoff := time.Now().Add(-d)
	for i := len(m.commits) - 1; i >= 0; i-- {
		if !m.commits[i].at.After(cutoff) {
			return m.commits[i].commit
		}
	}
	if len(m.commits) == 0 {
		return m.g.raft.CommitIndex()
	}
	return m.commits[0].commit
}

// wiped reports whether p restarted without its data: it reports no Raft
// state in a session other than the one this node last saw with state.
// Metadata that is merely stale (a node that just bootstrapped, whose
// update has not arrived yet) is from a session never seen with state, so
// it does not count.
func (m *membership) wiped(p peer) bool {
	last, ok := m.stateSession[p.Name]
	return !p.Meta.HasState && ok && last != p.Meta.Session
}

// removeDead removes members unseen for DeadServerAfter, keeping at least
// max(BootstrapExpect, 1) voters.
func (m *membership) removeDead(conf raft.Configuration) {
	if m.cfg.DeadServerAfter <= 0 {
		return
	}
	voters := 0
	for _, s := range conf.Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	floor := max(m.cfg.BootstrapExpect, 1)
	for _, s := range conf.Servers {
		id := string(s.ID)
		if id == m.cfg.NodeID || time.Since(m.lastAlive[id]) < m.cfg.DeadServerAfter {
			continue
		}
		if s.Suffrage == raft.Voter {
			if voters-1 < floor {
				m.logOnce("dead server kept: removing it would leave fewer voters than bootstrap-expect", id)
				continue
			}
			voters--
		}
		m.change("remove dead server", id, m.g.raft.RemoveServer(s.ID, 0, changeTimeout))
	}
}

// change waits for a configuration change and logs its outcome.
func (m *membership) change(what, id string, f raft.IndexFuture) {
	if err := f.Error(); err != nil {
		m.log.Warn("membership change failed", "change", what, "member", id, "err", err)
		return
	}
	m.log.Info("membership changed", "change", what, "member", id, "index", f.Index())
}

// logOnce logs msg for id the first time only (the loop runs often).
func (m *membership) logOnce(msg, id string) {
	key := msg + "\x00" + id
	if m.noted[key] {
		return
	}
	m.noted[key] = true
	m.log.Info(msg, "member", id)
}
