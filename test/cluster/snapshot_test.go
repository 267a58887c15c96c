package clustertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFollowerCatchesUpBySnapshot: a follower is killed; under load the
// leader snapshots and compacts its log past everything the follower has;
// restarted, the follower can only catch up by a snapshot sent over the
// network (InstallSnapshot), restored into its message store on disk. It
// must end with every confirmed message and the same contents as the
// others.
func TestFollowerCatchesUpBySnapshot(t *testing.T) {
	const trailing = 32
	c := startCluster(t, 3, "--snapshot-threshold", "64", "--trailing-logs", strconv.Itoa(trailing),
		"--snapshot-interval", "100ms")
	l := startLoad(t, c, "snap")
	l.waitConfirmed(t, 50, 30*time.Second)
	ctx := timeout(t, 120*time.Second)
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim := follower(c, leader)
	st, err := victim.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim.Kill()
	behind := st.AppliedIndex
	err = Poll(ctx, 100*time.Millisecond, func() error {
		idx := newestSnapshot(t, leader.DataDir)
		if idx <= behind+trailing+1 {
			return fmt.Errorf("leader's newest snapshot at %d; the follower has %d", idx, behind)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("leader does not compact past the follower: %v", err)
	}
	l.waitConfirmed(t, 50, 30*time.Second)
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := victim.WaitReady(ctx); err != nil {
		t.Fatalf("%s after restart: %v", victim.ID, err)
	}
	t.Logf("%s was killed at applied index %d; the leader's log now starts past it", victim.ID, behind)
	l.waitConfirmed(t, 50, 30*time.Second)
	l.verify(t, c)
}

// newestSnapshot is the index of the newest snapshot in a node's data dir
// (raft's file snapshot store names them term-index-time), 0 when none.
func newestSnapshot(t *testing.T, dataDir string) uint64 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dataDir, "raft", "snapshots"))
	if err != nil {
		return 0
	}
	var newest uint64
	for _, e := range entries {
		parts := strings.Split(e.Name(), "-")
		if len(parts) != 3 || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		if idx, err := strconv.ParseUint(parts[1], 10, 64); err == nil {
			newest = max(newest, idx)
		}
	}
	return newest
}
