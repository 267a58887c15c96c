package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Membership settings.
const (
	// membershipTick is how often the membership loop looks at gossip and
	// Raft even without a gossip event.
	membershipTick = 250 * time.Millisecond
	// joinRetry is the pause between join attempts (names are resolved again each time).
	joinRetry = 2 * time.Second
	// metaRefresh is the longest the applied index in this node's gossip
	// metadata goes without an update (other changes go out at once).
	metaRefresh = time.Second
	// promoteWindow: a nonvoter is promoted once it has applied (within
	// PromoteLag) what was committed this long ago; more than metaRefresh
	// plus gossip propagation, so that a node keeping up under load qualifies.
	promoteWindow = 2 * time.Second
	// changeTimeout bounds one Raft configuration change.
	changeTimeout = 10 * time.Second
)

// Errors of the membership operations.
var (
	// ErrUnknownMember: no server with that id is in the Raft configuration.
	ErrUnknownMember = errors.New("unknown member")
	// ErrLastVoter: the change would leave the cluster without enough voters.
	ErrLastVoter = errors.New("would remove the last voter")
	// ErrInvalidMember: the member to add has no id or no dialable Raft address.
	ErrInvalidMember = errors.New("invalid member")
)

// membership runs the node's gossip and the Raft membership rules: join,
// bootstrap-expect, and on the leader the reconciler (add empty nodes as
// nonvoters, promote caught-up nonvoters, demote wiped voters, remove
// long-dead servers). One goroutine (run) owns every field below gossip; the
// exported Node methods only use raft and gossip, which are safe for
// concurrent use.
type membership struct {
	cfg    Config
	g      *group
	gossip *gossip
	log    *slog.Logger
	stop   chan struct{}
	done   chan struct{}

	lastJoin     time.Time
	lastMeta     time.Time
	bootstrapped bool
	lastPlan     string
	lastWhy      string
	noted        map[string]bool      // logOnce's messages already logged
	lastAlive    map[string]time.Time // Raft members' last sighting alive in gossip
	stateSession map[string]string    // per node, the last session seen reporting Raft state
	commitsMu    sync.Mutex
	commits      []commitSample // recent commit indexes, oldest first (promotion, SafeToStop); guarded by commitsMu
}

// startMembership starts gossip and the membership loop for g.
func startMembership(cfg Config, g *group) (*membership, error) {
	m := &membership{cfg: cfg, g: g, log: g.log, stop: make(chan struct{}), done: make(chan struct{}),
		lastAlive: map[string]time.Time{}, noted: map[string]bool{}, stateSession: map[string]string{}}
	gs, err := newGossip(cfg, m.meta(m.raftState()), g.log)
	if err != nil {
		return nil, err
	}
	m.gossip = gs
	go m.run()
	return m, nil
}

// run is the membership loop; it returns when stop is closed.
func (m *membership) run() {
	defer close(m.done)
	t := time.NewTicker(membershipTick)
	defer t.Stop()
	for {
		m.step()
		select {
		case <-m.stop:
			return
		case <-t.C:
		case <-m.gossip.kick:
		}
	}
}

// step does one round of the membership work.
func (m *membership) step() {
	st := m.raftState()
	m.refreshMeta(st)
	m.joinMissing()
	m.bootstrapIfExpected(st.hasState)
	m.trackAlive(st.conf)
	m.sampleCommit()
	if m.g.raft.State() == raft.Leader {
		m.reconcile(st.conf)
	}
}

// localRaft is what this node's Raft says about itself.
type localRaft struct {
	conf     raft.Configuration
	hasState bool
	applied  uint64
}

func (m *membership) raftState() localRaft {
	var st localRaft
	if f := m.g.raft.GetConfiguration(); f.Error() == nil {
		st.conf = f.Configuration()
	}
	st.applied = m.g.raft.AppliedIndex()
	st.hasState = len(st.conf.Servers) > 0 || m.g.raft.LastIndex() > 0
	return st
}

// meta is this node's gossip metadata for st.
func (m *membership) meta(st localRaft) nodeMeta {
	return nodeMeta{
		ID: m.cfg.NodeID, RaftAddr: string(m.g.transport.LocalAddr()), APIAddr: m.cfg.APIAddress,
		Version: m.cfg.Version, Session: m.g.session, HasState: st.hasState,
		InCluster: len(st.conf.Servers) > 0, Applied: st.applied, Expect: m.expect(),
	}
}

// refreshMeta broadcasts new metadata when a flag changed, or when only the
// applied index moved and metaRefresh has passed.
func (m *membership) refreshMeta(st localRaft) {
	next := m.meta(st)
	cur := *m.gossip.meta.Load()
	prev := next
	prev.Applied = 0
	if metaWithoutApplied(cur) == prev && time.Since(m.lastMeta) < metaRefresh {
		return
	}
	m.lastMeta = time.Now()
	m.gossip.updateMeta(next)
}

// joinMissing joins, at most every joinRetry, the configured join targets
// that are not live gossip members yet (names resolved again each time).
// Seeing some peer is not enough: if this node's join reached only nodes
// that never reached a third one (it was not listening yet, and has no
// --join of its own), gossip would stay split in two islands.
func (m *membership) joinMissing() {
	if len(m.cfg.Join) == 0 || time.Since(m.lastJoin) < joinRetry {
		return
	}
	m.lastJoin = time.Now()
	missing := m.gossip.unreached(m.cfg.Join)
	if len(missing) == 0 {
		return
	}
	n, err := m.gossip.join(missing)
	if err != nil {
		m.log.Info("join failed; retrying", "err", err, "retry", joinRetry)
		return
	}
	m.log.Info("joined gossip", "contacted", n)
}

// trackAlive remembers when each Raft member was last seen alive in gossip
// (a member never seen counts from the first time this node looked), and
// the last session of each node that reported Raft state.
func (m *membership) trackAlive(conf raft.Configuration) {
	now := time.Now()
	peers := map[string]peer{}
	for _, p := range m.gossip.snapshot() {
		peers[p.Name] = p
		if p.Meta.HasState {
			m.stateSession[p.Name] = p.Meta.Session
		}
	}
	for _, s := range conf.Servers {
		id := string(s.ID)
		p, seen := peers[id]
		if _, ok := m.lastAlive[id]; !ok || (seen && p.State == "alive") {
			m.lastAlive[id] = now
		}
	}
}

// close stops the loop, leaves gossip and shuts memberlist down.
func (m *membership) close() error {
	close(m.stop)
	<-m.done
	return m.gossip.leave()
}

// membershipErr wraps a raft configuration change error.
func membershipErr(what string, err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
		return fmt.Errorf("%s: %w", what, ErrNotLeader)
	}
	return fmt.Errorf("%s: %w", what, err)
}
