package faulttest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carriermq/carrier/client"
	clustertest "github.com/carriermq/carrier/test/cluster"
	"github.com/carriermq/carrier/test/nemesis"
)

// diskFullLeader fills the leader's disk to the last byte and, to use up the
// Raft log segment it already has preallocated, pushes large messages
// through it until a publish fails. Publishes must then fail, never be
// confirmed; when space returns the node catches up (started again if it
// exited).
func diskFullLeader(ctx context.Context, e *env) (string, error) {
	l, err := e.leader(ctx)
	if err != nil {
		return "", err
	}
	d := e.disks[l.ID]
	if d == nil {
		return "", fmt.Errorf("%w: node data dirs are not on size-limited mounts (tmpfs needs root)", errSkip)
	}
	e.diskFault = true
	if err := d.Start(ctx); err != nil {
		return "", errors.Join(err, d.Heal(context.Background()))
	}
	pushed, pushErr := fillThrough(ctx, l)
	holdErr := sleep(ctx, e.hold)
	state := nodeState(ctx, l)
	if err := d.Heal(context.Background()); err != nil {
		return "", err
	}
	note := fmt.Sprintf("filled %s's disk; %d large publishes confirmed before the first error (%v); then %s", l.ID, pushed, pushErr, state)
	return note, holdErr
}

// fillThrough publishes 64 KiB messages through n until one fails (at most
// 64 MiB): the disk-full node's log needs a new segment and cannot get one.
func fillThrough(ctx context.Context, n *clustertest.Node) (int, error) {
	payload := []byte(`"` + strings.Repeat("x", 64<<10) + `"`)
	for i := range 1024 {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := n.Admin().Publish(pctx, "fault-fill", client.Message{Event: "fill", Data: payload})
		cancel()
		if err != nil {
			return i, err
		}
	}
	return 1024, nil
}

// nodeState says whether n still runs and what it thinks it is.
func nodeState(ctx context.Context, n *clustertest.Node) string {
	if !n.Running() {
		return "it exited"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := n.Status(ctx)
	if err != nil {
		return "its status failed: " + err.Error()
	}
	return fmt.Sprintf("it is %s (leader %q)", st.State, st.Leader)
}

// corruptLogTail stops a random node with kill -9, damages the newest
// records of its Raft log (flips the last 64 written bytes, or cuts the
// last 300), and starts it: it must notice, keep the damaged bytes aside,
// neither vote nor campaign until it holds a leader's commit point (it may
// have lost entries it acknowledged), catch up, and agree with the others.
func corruptLogTail(ctx context.Context, e *env) (string, error) {
	n := e.pick(e.c.Nodes())
	n.Kill()
	seg, err := nemesis.NewestSegment(n.DataDir)
	if err != nil {
		return "", errors.Join(err, n.Start())
	}
	how := "flipped the last 64 bytes of"
	if e.rng.IntN(2) == 0 {
		_, err = nemesis.FlipTail(seg, 64)
	} else {
		how = "cut the last 300 bytes of"
		_, err = nemesis.TruncateTail(seg, 300)
	}
	if err != nil {
		return "", errors.Join(err, n.Start())
	}
	from := logSize(n)
	if err := n.Start(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s's %s; %s", how, n.ID, filepath.Base(seg), damageSeen(ctx, n, from)), nil
}

// damageSeen waits (up to 20 s) for n's log, from offset from on, to say
// that n found its log tail damaged and holds back its votes.
func damageSeen(ctx context.Context, n *clustertest.Node, from int64) string {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := clustertest.Poll(ctx, 100*time.Millisecond, func() error {
		b, err := os.ReadFile(n.LogPath)
		if err != nil {
			return err
		}
		if from < int64(len(b)) && strings.Contains(string(b[from:]), "tail was damaged on disk") {
			return nil
		}
		return errors.New("not yet")
	})
	if err != nil {
		return "the damage was NOT reported (cut at a batch boundary looks like a log that ended there)"
	}
	return "it found the damage and held its votes until caught up"
}

func logSize(n *clustertest.Node) int64 {
	fi, err := os.Stat(n.LogPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// corruptSnapshot waits until a random node has a snapshot, stops it with
// kill -9, damages the snapshot's newest bytes, and starts it. The node
// must not start with a gap: it restores an older snapshot when its log
// still continues from it, or moves its Raft state aside (kept, never
// deleted) and re-syncs from the cluster.
func corruptSnapshot(ctx context.Context, e *env) (string, error) {
	n := e.pick(e.c.Nodes())
	var snap string
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := clustertest.Poll(wctx, 200*time.Millisecond, func() error {
		var err error
		snap, err = nemesis.NewestSnapshot(n.DataDir)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("no snapshot on %s to corrupt: %w", n.ID, err)
	}
	n.Kill()
	snap, err = nemesis.NewestSnapshot(n.DataDir) // a newer one may have been written meanwhile
	if err != nil {
		return "", errors.Join(err, n.Start())
	}
	if _, err := nemesis.FlipTail(snap, 64); err != nil {
		return "", errors.Join(err, n.Start())
	}
	if err := n.Start(); err != nil {
		return "", err
	}
	return fmt.Sprintf("flipped the end of %s's snapshot %s; %s", n.ID, filepath.Base(filepath.Dir(snap)), quarantined(ctx, n)), nil
}

// quarantined reports, once n is ready, whether it moved its Raft state
// aside. Then it does what the operator is told to do once the moved state
// is inspected: it removes it (each copy holds a whole log and snapshots, and
// a soak would otherwise fill the node's small disk with them).
func quarantined(ctx context.Context, n *clustertest.Node) string {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		return "not ready: " + err.Error()
	}
	m, _ := filepath.Glob(filepath.Join(n.DataDir, "raft.damaged-*"))
	if len(m) == 0 {
		return "it restored an older snapshot and replayed its log"
	}
	moved := filepath.Base(m[len(m)-1])
	wal, _ := filepath.Glob(filepath.Join(m[len(m)-1], "wal", "*.wal"))
	for _, dir := range m {
		_ = os.RemoveAll(dir)
	}
	return fmt.Sprintf("it moved its Raft state (%d log segments) to %s and re-synced", len(wal), moved)
}

// corruptStore stops a random node with kill -9 and damages its message
// store: it flips the last 64 bytes of every queue's newest segment file
// and deletes the oldest segment of one queue (a missing file), then starts
// it. The node must never serve what it lost: it rebuilds its stores from
// its snapshot and log, catches up, and agrees with the others (the probe
// and the final divergence check compare every seq).
func corruptStore(ctx context.Context, e *env) (string, error) {
	n := e.pick(e.c.Nodes())
	n.Kill()
	segs, err := nemesis.StoreSegments(n.DataDir)
	if err != nil || len(segs) == 0 {
		return "", errors.Join(fmt.Errorf("%w: no message store segments on %s (memory store?)", errSkip, n.ID), err, n.Start())
	}
	flipped, err := damageStore(segs)
	if err != nil {
		return "", errors.Join(err, n.Start())
	}
	if err := n.Start(); err != nil {
		return "", err
	}
	return fmt.Sprintf("flipped the tail of %d and deleted 1 of %s's %d store segments", flipped, n.ID, len(segs)), nil
}

// damageStore flips the tail of the newest segment of each queue directory
// and removes the first segment file of the list.
func damageStore(segs []string) (int, error) {
	newest := map[string]string{}
	for _, s := range segs {
		newest[filepath.Dir(s)] = s // sorted: the last one per directory wins
	}
	for _, s := range newest {
		if _, err := nemesis.FlipTail(s, 64); err != nil {
			return 0, err
		}
	}
	if err := os.Remove(segs[0]); err != nil {
		return 0, fmt.Errorf("remove store segment: %w", err)
	}
	return len(newest), nil
}
