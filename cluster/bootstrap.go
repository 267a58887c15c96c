package cluster

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/raft"
)

// bootstrapPlan decides, from the peers gossip shows (this node included),
// whether this node may bootstrap the cluster with --bootstrap-expect, and
// with which configuration. It is the Consul rule, made strict:
//   - if any peer reports Raft state or membership of a cluster, never
//     (a cluster exists; this node waits to be added);
//   - only when exactly expect live peers with an expect are seen (nodes
//     started without one only wait to be added), all empty, all with the
//     same expect and a Raft address: every one of them computes the same
//     configuration (all voters, sorted by id) and bootstraps with it, which
//     raft accepts as one cluster.
//
// It returns the configuration, or a reason to wait. It is pure: the caller
// also requires the same plan twice in a row (the view settled) and that the
// node itself has no Raft state.
func bootstrapPlan(expect int, peers []peer) (raft.Configuration, string) {
	var live []peer
	for _, p := range peers {
		if p.State != "alive" {
			continue
		}
		if p.Meta.HasState || p.Meta.InCluster {
			return raft.Configuration{}, fmt.Sprintf("node %s already has Raft state: waiting to be added", p.Name)
		}
		if p.Meta.Expect == 0 {
			continue // joins without bootstrap-expect: it waits to be added, and does not count
		}
		live = append(live, p)
	}
	if len(live) != expect {
		return raft.Configuration{}, fmt.Sprintf("%d empty nodes seen, waiting for exactly %d", len(live), expect)
	}
	var conf raft.Configuration
	for _, p := range live {
		if p.Meta.Expect != expect {
			return raft.Configuration{}, fmt.Sprintf("node %s expects %d nodes, this node %d", p.Name, p.Meta.Expect, expect)
		}
		if p.Meta.RaftAddr == "" || p.Meta.ID != p.Name {
			return raft.Configuration{}, fmt.Sprintf("node %s has no usable metadata yet", p.Name)
		}
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(p.Name), Address: raft.ServerAddress(p.Meta.RaftAddr),
		})
	}
	slices.SortFunc(conf.Servers, func(a, b raft.Server) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return conf, ""
}

// planKey is a comparable form of a configuration (ids and addresses).
func planKey(conf raft.Configuration) string {
	var b strings.Builder
	for _, s := range conf.Servers {
		fmt.Fprintf(&b, "%s=%s;", s.ID, s.Address)
	}
	return b.String()
}

// bootstrapIfExpected bootstraps the cluster when bootstrapPlan allows it
// for two steps in a row and this node has no Raft state. Called only from
// the membership loop.
func (m *membership) bootstrapIfExpected(hasState bool) {
	if m.expect() == 0 || hasState || m.bootstrapped {
		return
	}
	conf, why := bootstrapPlan(m.cfg.BootstrapExpect, m.gossip.snapshot())
	if why != "" {
		m.lastPlan = ""
		if why != m.lastWhy {
			m.log.Info("not bootstrapping yet", "reason", why)
			m.lastWhy = why
		}
		return
	}
	if key := planKey(conf); key != m.lastPlan {
		m.lastPlan = key // wait one more step with the same view
		return
	}
	m.log.Info("bootstrapping the cluster", "servers", m.lastPlan)
	if err := m.g.raft.BootstrapCluster(conf).Error(); err != nil {
		m.log.Error("bootstrap failed", "err", err)
		return
	}
	m.g.guard.lift("bootstrapped the cluster")
	m.bootstrapped = true
}

// expect is the bootstrap-expect this node takes part in: 0 for a node whose
// damaged Raft state was moved aside (it belonged to a cluster, so it waits
// to be re-synced and never counts toward forming a new one).
func (m *membership) expect() int {
	if m.g.quarantined {
		return 0
	}
	return m.cfg.BootstrapExpect
}
