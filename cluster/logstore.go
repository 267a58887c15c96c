package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// The log store is hashicorp/raft-wal, chosen over raft-boltdb by measurement
// (see DESIGN.md and BenchmarkLogStore). raft-wal writes each StoreLogs call
// as one commit frame and fsyncs the segment file before returning
// (segment.Writer.Append → appendCommit → sync → File.Sync); its stable store
// (term, vote) is a bbolt file opened with NoSync false, so it fsyncs on every
// update too. There is no option that turns either off, so an entry raft
// reports as stored is on disk.

// walStore is raft-wal's WAL plus its metadata database, which WAL.Close
// leaves open (raft-wal v0.4.0): without closing it, the bbolt file lock
// stays held and the same directory cannot be opened again in this process.
type walStore struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
	// tailDamaged: the newest segment's tail was damaged on disk, not just
	// torn by a crash (walrepair.go); entries this node acknowledged may be
	// gone.
	tailDamaged bool
}

// openLogStore opens (or creates) the write-ahead log in dir. The returned
// store is both raft's LogStore and its StableStore.
// segmentBytes > 0 sets raft-wal's segment size.
func openLogStore(dir string, segmentBytes int, logger hclog.Logger) (*walStore, error) {
	return openLogStoreOn(fs.New(), dir, segmentBytes, logger)
}

// openLogStoreOn is openLogStore on the file system files (tests put a
// failing one in front of the real one).
func openLogStoreOn(files types.VFS, dir string, segmentBytes int, logger hclog.Logger) (*walStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	cut, damaged, err := cutTails(dir)
	if err != nil {
		return nil, err
	}
	for _, path := range cut {
		logger.Warn("the log's newest segment had bytes after its last valid commit: kept beside it and cut",
			"file", filepath.Base(path), "damaged", damaged)
	}
	meta := &metadb.BoltMetaDB{}
	if segmentBytes <= 0 {
		segmentBytes = wal.DefaultSegmentSize
	}
	w, err := wal.Open(dir, wal.WithLogger(logger), wal.WithMetaStore(meta),
		wal.WithSegmentSize(segmentBytes), wal.WithSegmentFiler(segment.NewFiler(dir, files)))
	if err != nil {
		_ = meta.Close() // may have been opened before the failure
		return nil, fmt.Errorf("open raft-wal in %s: %w", dir, err)
	}
	return &walStore{WAL: w, meta: meta, tailDamaged: damaged}, nil
}

// Close closes the log, then its metadata database. Callers stop raft first.
func (s *walStore) Close() error {
	if err := s.WAL.Close(); err != nil {
		return fmt.Errorf("close wal: %w", err)
	}
	if err := s.meta.Close(); err != nil {
		return fmt.Errorf("close wal metadata: %w", err)
	}
	return nil
}

// logCacheEntries is how many of the newest entries raft keeps in memory in
// front of the log store (raft.LogCache, write-through: an entry is cached
// only after the store has it on disk). Without it the leader reads each
// entry it just wrote back from raft-wal to replicate it, and followers to
// apply it: 11% of a node's CPU under a publish load (perf, 3 nodes, 4
// publishers). 64 entries of at most MaxBatchBytes (1 MiB) bound it at 64 MiB.
const logCacheEntries = 64

// ErrLogStoreFailed marks every log write after the log store failed one:
// the node has stopped taking entries and must be restarted (Node.Failed).
var ErrLogStoreFailed = errors.New("raft log store failed; the node must restart")

// countingLogStore is the log store as raft sees it. It counts successful
// appends: raft calls StoreLogs once per batch it persists, and raft-wal
// fsyncs once per call, so the count is the number of fsyncs the log paid for.
//
// It also makes the node fail-stop on the first failed write (StoreLogs or
// DeleteRange). raft-wal commits its metadata before it creates a new
// segment file, so a write that fails half-way (ENOSPC while creating the
// segment that follows a truncation or a rotation) leaves its in-memory state
// behind its disk state, and every later write fails for good ("file
// exists"). Reopening the directory brings the two back together (tested in
// logstore_test.go). So after a failed write the store refuses every other
// one, and the failure is reported once on failed: the node stops and its
// supervisor starts it again, as etcd and PostgreSQL do when their log
// cannot be written. Safe for concurrent use.
type countingLogStore struct {
	raft.LogStore
	appends atomic.Uint64

	failOnce sync.Once
	failErr  atomic.Pointer[error]
	failed   chan error // capacity 1; receives the first write error
}

var _ raft.MonotonicLogStore = (*countingLogStore)(nil)

func newCountingLogStore(s raft.LogStore) *countingLogStore {
	return &countingLogStore{LogStore: s, failed: make(chan error, 1)}
}

// StoreLog stores one entry with one fsync.
func (c *countingLogStore) StoreLog(l *raft.Log) error {
	return c.StoreLogs([]*raft.Log{l})
}

// StoreLogs stores entries with one fsync and counts the append.
func (c *countingLogStore) StoreLogs(logs []*raft.Log) error {
	if err := c.usable(); err != nil {
		return err
	}
	if err := c.LogStore.StoreLogs(logs); err != nil {
		return c.fail(fmt.Errorf("store %d log entries from index %d: %w", len(logs), logs[0].Index, err))
	}
	c.appends.Add(1)
	return nil
}

// DeleteRange removes a prefix (compaction) or a suffix (conflicting
// entries) of the log.
func (c *countingLogStore) DeleteRange(lo, hi uint64) error {
	if err := c.usable(); err != nil {
		return err
	}
	if err := c.LogStore.DeleteRange(lo, hi); err != nil {
		return c.fail(fmt.Errorf("delete log entries %d-%d: %w", lo, hi, err))
	}
	return nil
}

// usable returns ErrLogStoreFailed once a write has failed.
func (c *countingLogStore) usable() error {
	if p := c.failErr.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrLogStoreFailed, *p)
	}
	return nil
}

// fail records the first write failure, reports it on failed, and returns
// err for raft.
func (c *countingLogStore) fail(err error) error {
	c.failOnce.Do(func() {
		c.failErr.Store(&err)
		c.failed <- err
	})
	return err
}

// IsMonotonic passes on the wrapped store's answer: raft-wal only accepts
// appends at the tail, so raft must reset it after installing a snapshot.
func (c *countingLogStore) IsMonotonic() bool {
	m, ok := c.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}
