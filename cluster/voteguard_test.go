package cluster

import (
	"io"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"
)

// TestVoteGuard: an empty node refuses votes to candidates behind the commit
// point a leader reported in its own term (to all while it has heard of
// none) until its own log holds that point; a candidate holding only its
// bootstrap configuration is never refused; once lifted, the guard stays off.
func TestVoteGuard(t *testing.T) {
	logs := raft.NewInmemStore()
	g := newVoteGuard(logs, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	if !g.refuse(9, 500) {
		t.Fatal("empty node with no leader seen granted a vote")
	}
	if g.refuse(1, formationIndex) {
		t.Fatal("a forming cluster's candidate was refused")
	}
	g.observe(3, 10)
	g.observe(2, 50) // an older leader's report does not replace the newer one
	store := func(from, to, term uint64) {
		for i := from; i <= to; i++ {
			if err := logs.StoreLog(&raft.Log{Index: i, Term: term, Type: raft.LogCommand}); err != nil {
				t.Fatal(err)
			}
		}
	}
	store(1, 9, 3)
	if !g.refuse(3, 9) || !g.refuse(2, 50) {
		t.Fatal("granted a vote to a candidate behind the commit point (3, 10)")
	}
	if g.refuse(3, 10) || g.refuse(4, 2) {
		t.Fatal("refused a candidate holding the commit point (3, 10)")
	}
	if !g.active.Load() {
		t.Fatal("guard lifted by a vote for an up-to-date candidate")
	}
	store(10, 10, 2) // index 10 of another term: not the leader's entry
	if !g.refuse(3, 5) {
		t.Fatal("granted a vote holding a different entry at the commit index")
	}
	if err := logs.DeleteRange(10, 10); err != nil {
		t.Fatal(err)
	}
	store(10, 12, 3)
	if g.refuse(3, 5) {
		t.Fatal("refused a vote after catching up")
	}
	if g.active.Load() {
		t.Fatal("guard still active after catching up")
	}
	if err := logs.DeleteRange(1, 12); err != nil {
		t.Fatal(err)
	}
	if g.refuse(1, 5) {
		t.Fatal("a lifted guard came back")
	}
}

// TestVoteGuardOffWithState: a node that starts with Raft state, or that
// bootstraps, votes normally.
func TestVoteGuardOffWithState(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg) // bootstraps a single-voter cluster
	if n.group.guard.active.Load() {
		t.Error("guard active after bootstrap")
	}
	cfg.RaftBind = n.RaftAddress()
	closeNode(t, n)
	n2 := startNode(t, cfg) // restarts with state
	if n2.group.guard.active.Load() {
		t.Error("guard active on a node restarted with its state")
	}
}

// TestVoteGuardHoldsCampaign: while the guard is on, the node may not ask
// for votes (its own log may lack what it once helped commit), also after a
// leader was heard of, until its log holds that leader's commit point.
func TestVoteGuardHoldsCampaign(t *testing.T) {
	logs := raft.NewInmemStore()
	g := newVoteGuard(logs, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	if g.mayCampaign() {
		t.Fatal("a guarded node with no leader heard of may campaign")
	}
	for i := uint64(1); i <= 7; i++ {
		if err := logs.StoreLog(&raft.Log{Index: i, Term: 4, Type: raft.LogCommand}); err != nil {
			t.Fatal(err)
		}
	}
	g.observe(4, 9)
	if g.mayCampaign() {
		t.Fatal("a guarded node behind the commit point (4, 9) may campaign")
	}
	for i := uint64(8); i <= 9; i++ {
		if err := logs.StoreLog(&raft.Log{Index: i, Term: 4, Type: raft.LogCommand}); err != nil {
			t.Fatal(err)
		}
	}
	if !g.mayCampaign() || g.active.Load() {
		t.Fatal("a node holding the commit point is still held back")
	}
	if !newVoteGuard(logs, slog.New(slog.NewTextHandler(io.Discard, nil)), false).mayCampaign() {
		t.Fatal("a node started with intact state may not campaign")
	}
}
