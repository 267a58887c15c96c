package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/carriermq/carrier/queue"
)

// damagedDataDir runs a single node until it has a snapshot and a
// compacted log, closes it, and flips one byte of its newest snapshot's
// state: the log now continues from a snapshot nobody can read.
func damagedDataDir(t *testing.T) Config {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	cfg.SnapshotThreshold, cfg.SnapshotInterval, cfg.TrailingLogs = 8, 20*time.Millisecond, 2
	n := startNode(t, cfg)
	mustPropose(t, n, queue.CreateQueue{Name: "q"})
	for i := range 40 {
		publishOne(t, n, "q", fmt.Sprintf("m%d", i))
	}
	var snapID string
	waitFor(t, "a snapshot and a compacted log", func() error {
		metas, err := n.group.snaps.List()
		if err != nil || len(metas) == 0 {
			return fmt.Errorf("snapshots %v: %w", metas, err)
		}
		if first, err := n.group.wal.FirstIndex(); err != nil || first <= 1 {
			return fmt.Errorf("first log index %d: %w", first, err)
		}
		snapID = metas[0].ID
		return nil
	})
	cfg.RaftBind = n.RaftAddress()
	closeNode(t, n)
	flipByte(t, filepath.Join(cfg.DataDir, "raft", "snapshots", snapID, "state.bin"))
	return cfg
}

func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		t.Fatalf("read %s: %d bytes, %v", path, len(b), err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedStateRefusedOnSingleNode: a single node has nobody to re-sync
// from, so it refuses to start (instead of raft panicking or applying with
// a gap) and leaves every file where it was.
func TestDamagedStateRefusedOnSingleNode(t *testing.T) {
	cfg := damagedDataDir(t)
	n, err := New(cfg)
	if err == nil {
		closeNode(t, n)
		t.Fatal("New on a log that does not continue from a readable snapshot: no error")
	}
	if !errors.Is(err, ErrDamagedState) {
		t.Fatalf("New: %v, want ErrDamagedState", err)
	}
	if m, _ := filepath.Glob(filepath.Join(cfg.DataDir, damagedPrefix+"*")); len(m) != 0 {
		t.Errorf("single node moved its state aside: %v", m)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "raft", "wal")); err != nil {
		t.Errorf("log gone: %v", err)
	}
	t.Logf("refused: %v", err)
}

// TestDamagedStateQuarantinedInCluster: with peers to re-sync from (gossip
// on), the node moves the damaged state aside, keeping it, and starts empty
// without bootstrapping a cluster of its own.
func TestDamagedStateQuarantinedInCluster(t *testing.T) {
	cfg := damagedDataDir(t)
	cfg.GossipBind = "127.0.0.1:0"
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { closeNode(t, n) })
	moved, _ := filepath.Glob(filepath.Join(cfg.DataDir, damagedPrefix+"*", "wal", "*.wal"))
	if len(moved) == 0 {
		t.Fatal("no quarantined log segment under raft.damaged-*")
	}
	if !n.group.quarantined {
		t.Error("group not marked quarantined")
	}
	st := n.Status()
	if st.LastLogIndex != 0 || st.State == "Leader" {
		t.Errorf("status after quarantine = %+v, want an empty follower", st)
	}
	for _, m := range st.Members {
		if m.Suffrage != "None" {
			t.Errorf("member %+v: a quarantined node must not be in any configuration of its own", m)
		}
	}
}
