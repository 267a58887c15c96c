package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
)

// ghostPeer is a raft network transport on loopback that sends hand-made
// RPCs to a node, as a peer of another term would.
type ghostPeer struct {
	t  *raft.NetworkTransport
	id raft.ServerID
}

func newGhostPeer(t *testing.T, id string) *ghostPeer {
	t.Helper()
	tr, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 5*time.Second, io.Discard)
	if err != nil {
		t.Fatalf("ghost transport: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return &ghostPeer{t: tr, id: raft.ServerID(id)}
}

func (p *ghostPeer) header() raft.RPCHeader {
	return raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(p.id),
		Addr: p.t.EncodePeer(p.id, p.t.LocalAddr())}
}

// appendEntries sends req to the node at addr and returns its answer.
func (p *ghostPeer) appendEntries(t *testing.T, addr string, req *raft.AppendEntriesRequest) *raft.AppendEntriesResponse {
	t.Helper()
	req.RPCHeader = p.header()
	var resp raft.AppendEntriesResponse
	if err := p.t.AppendEntries(raft.ServerID("target"), raft.ServerAddress(addr), req, &resp); err != nil {
		t.Fatalf("AppendEntries to %s: %v", addr, err)
	}
	return &resp
}

// TestDeposedLeaderKeepsItsTerm reproduces the interleaving behind the
// fault suite's divergence after "pause the leader, then kill a follower"
// (test/fault/DESIGN.md, finding 9), deterministically: a leader of term T,
// idle in raft's leader loop, receives a heartbeat of term T+1 (in the
// finding, one that waited in the socket of the paused leader), and a
// proposal arrives right after it. raft's heartbeat fast path used to raise
// the term and make the node a follower on the transport's goroutine while
// the leader loop, not told, took the proposal and wrote it with term T+1:
// an entry of a term whose leader never sent it, so the real leader of T+1
// later "verified" it by (index, term) and committed it on this node
// alone. No entry of the node's log may carry a term it did not lead or
// receive from that term's leader.
func TestDeposedLeaderKeepsItsTerm(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	// Nothing else may wake the leader loop between the heartbeat and the
	// proposal (about a millisecond): the lease check runs once per
	// LeaderLeaseTimeout, the only timer of a single-voter leader.
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 3*time.Second, 3*time.Second, 3*time.Second
	n := startNode(t, cfg)
	mustPropose(t, n, queue.CreateQueue{Name: "q"})
	publishOne(t, n, "q", "before")
	term := n.group.raft.CurrentTerm()

	ghost := newGhostPeer(t, "ghost")
	// A heartbeat as raft sends one: term and leader only (the fast path's shape).
	resp := ghost.appendEntries(t, n.RaftAddress(), &raft.AppendEntriesRequest{Term: term + 1})
	if !resp.Success || resp.Term != term+1 {
		t.Fatalf("heartbeat of term %d: %+v", term+1, resp)
	}

	// A publish already past group.propose's leader check, as the ones
	// waiting in the paused leader were: straight into the group commit.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := n.group.batcher.propose(ctx, queue.Publish{Queue: "q", Messages: []*queue.Message{{ID: "after", Event: "test", Data: []byte(`1`)}}})
	if err == nil {
		t.Error("a node that a newer term deposed confirmed a publish")
	}

	first, _ := n.group.logs.FirstIndex()
	last, _ := n.group.logs.LastIndex()
	for i := first; i <= last; i++ {
		var e raft.Log
		if err := n.group.logs.GetLog(i, &e); err != nil {
			t.Fatalf("log %d: %v", i, err)
		}
		if e.Term > term {
			t.Errorf("log entry %d (%v) has term %d: written by this node after a heartbeat of term %d deposed it as leader of term %d", i, e.Type, e.Term, term+1, term)
		}
	}
	if got := readIDs(t, n, "q"); !slices.Equal(got, []string{"before"}) {
		t.Errorf("stored ids = %v, want [before]", got)
	}
}

// batchRecorder is a raft.BatchingFSM that records the indexes it applied.
type batchRecorder struct {
	mu      sync.Mutex
	applied []uint64
}

func (f *batchRecorder) ApplyBatch(logs []*raft.Log) []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range logs {
		if l.Type == raft.LogCommand {
			f.applied = append(f.applied, l.Index)
		}
	}
	return make([]any, len(logs))
}

func (f *batchRecorder) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

func (f *batchRecorder) Snapshot() (raft.FSMSnapshot, error) {
	return nil, errors.New("no snapshots in this test")
}

func (f *batchRecorder) Restore(io.ReadCloser) error { return errors.New("no snapshots in this test") }

func (f *batchRecorder) indexes() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.applied)
}

// TestFollowerCommitsOnlyVerifiedEntries: a follower whose log runs past
// what an AppendEntries request verifies, with an entry no leader
// committed, must not commit that entry because the request's commit index
// is higher. hashicorp/raft v1.8.0 takes min(LeaderCommitIndex, its own last
// index); the transport clamps the commit index to PrevLogEntry +
// len(Entries), the Raft paper's rule.
func TestFollowerCommitsOnlyVerifiedEntries(t *testing.T) {
	logs, stable := raft.NewInmemStore(), raft.NewInmemStore()
	voters := raft.Configuration{Servers: []raft.Server{
		{ID: "a", Address: "127.0.0.1:1"}, {ID: "b", Address: "127.0.0.1:2"}, {ID: "c", Address: "127.0.0.1:3"}}}
	entries := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(voters)},
		{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("x")},
		{Index: 3, Term: 1, Type: raft.LogCommand, Data: []byte("y")},
		{Index: 4, Term: 2, Type: raft.LogCommand, Data: []byte("a leader of term 2 never committed this")},
	}
	if err := logs.StoreLogs(entries); err != nil {
		t.Fatal(err)
	}
	if err := stable.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatal(err)
	}

	nt, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 5*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rt := newRaftTransport(nt, newVoteGuard(logs, log, false), "a")
	conf := raft.DefaultConfig()
	conf.LocalID = "a"
	conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = 30*time.Second, 30*time.Second, time.Second
	conf.Logger = newHCLogger(log, slog.LevelError, "raft")
	fsm := &batchRecorder{}
	r, err := raft.NewRaft(conf, fsm, logs, stable, raft.NewInmemSnapshotStore(), rt)
	if err != nil {
		t.Fatal(err)
	}
	rt.setRaft(r)
	t.Cleanup(func() {
		if err := r.Shutdown().Error(); err != nil {
			t.Error(err)
		}
		rt.closeRelay()
		_ = nt.Close()
	})

	ghost := newGhostPeer(t, "b")
	resp := ghost.appendEntries(t, string(nt.LocalAddr()), &raft.AppendEntriesRequest{
		Term: 3, PrevLogEntry: 3, PrevLogTerm: 1, LeaderCommitIndex: 4})
	if !resp.Success {
		t.Fatalf("AppendEntries with a matching previous entry failed: %+v", resp)
	}
	if got := r.CommitIndex(); got != 3 {
		t.Errorf("commit index %d after a request verifying up to 3, want 3", got)
	}
	waitFor(t, "entries 2 and 3 applied", func() error {
		if got := fsm.indexes(); !slices.Contains(got, 3) {
			return fmt.Errorf("applied %v", got)
		}
		return nil
	})
	if got := fsm.indexes(); !slices.Equal(got, []uint64{2, 3}) {
		t.Errorf("applied %v, want [2 3]: an entry past the verified prefix was applied", got)
	}
}
