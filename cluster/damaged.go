package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
)

// ErrDamagedState: the node's Raft state on disk cannot be used as it is —
// its log does not continue from the newest snapshot that can be read (a
// corrupted or truncated snapshot whose log prefix was already compacted).
// Starting raft on it would panic or, worse, apply with a gap.
var ErrDamagedState = errors.New("raft state damaged")

// damagedPrefix names a quarantined Raft directory next to the live one:
// DataDir/raft.damaged-<unix seconds>. Its presence also marks the data dir
// as having belonged to a cluster, so the node never bootstraps a new one.
const damagedPrefix = "raft.damaged-"

// checkContinuity returns an error wrapping ErrDamagedState when the log in
// logs does not continue from the newest snapshot raft would restore (the
// newest that opens, which checks its CRC), or when snapshots exist, none
// can be read, and there is no log from index 1. Otherwise nil.
func checkContinuity(logs raft.LogStore, snaps raft.SnapshotStore, log *slog.Logger) error {
	metas, err := snaps.List()
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	snapIndex := readableSnapshot(snaps, metas, log)
	first, err := logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("log first index: %w", err)
	}
	last, err := logs.LastIndex()
	if err != nil {
		return fmt.Errorf("log last index: %w", err)
	}
	if last == 0 {
		if len(metas) > 0 && snapIndex == 0 {
			return fmt.Errorf("%w: %d snapshots, none readable, and no log", ErrDamagedState, len(metas))
		}
		return nil
	}
	if first > snapIndex+1 {
		return fmt.Errorf("%w: the log starts at index %d but the newest readable snapshot ends at %d (%d snapshots on disk): entries %d..%d are missing",
			ErrDamagedState, first, snapIndex, len(metas), snapIndex+1, first-1)
	}
	return nil
}

// readableSnapshot returns the index of the newest snapshot that opens
// (raft's file store verifies the CRC of the whole state on Open), or 0.
func readableSnapshot(snaps raft.SnapshotStore, metas []*raft.SnapshotMeta, log *slog.Logger) uint64 {
	for _, m := range metas { // newest first
		_, rc, err := snaps.Open(m.ID)
		if err != nil {
			log.Error("snapshot unreadable, trying an older one", "snapshot", m.ID, "err", err)
			continue
		}
		_ = rc.Close() // only opened to verify it
		return m.Index
	}
	return 0
}

// quarantine renames the Raft directory dir to a damaged-… sibling, keeping
// every byte for inspection, and returns the new path.
func quarantine(dir string) (string, error) {
	to := filepath.Join(filepath.Dir(dir), fmt.Sprintf("%s%d", damagedPrefix, time.Now().Unix()))
	if err := os.Rename(dir, to); err != nil {
		return "", fmt.Errorf("quarantine damaged raft state: %w", err)
	}
	return to, nil
}

// wasQuarantined reports whether the data dir holding the Raft directory
// dir has a quarantined Raft directory: the node belonged to a cluster
// before and must never bootstrap a new one.
func wasQuarantined(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), damagedPrefix+"*"))
	return len(m) > 0
}
