package cluster

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
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
}

// openLogStore opens (or creates) the write-ahead log in dir. The returned
// store is both raft's LogStore and its StableStore.
// segmentBytes > 0 sets raft-wal's segment size.
func openLogStore(dir string, segmentBytes int, logger hclog.Logger) (*walStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	meta := &metadb.BoltMetaDB{}
	if segmentBytes <= 0 {
		segmentBytes = wal.DefaultSegmentSize
	}
	w, err := wal.Open(dir, wal.WithLogger(logger), wal.WithMetaStore(meta), wal.WithSegmentSize(segmentBytes))
	if err != nil {
		_ = meta.Close() // may have been opened before the failure
		return nil, fmt.Errorf("open raft-wal in %s: %w", dir, err)
	}
	return &walStore{WAL: w, meta: meta}, nil
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

// countingLogStore counts successful appends to the log store. raft calls
// StoreLogs once per batch it persists, and raft-wal fsyncs once per call, so
// the count is the number of fsyncs the log paid for. Safe for concurrent use.
type countingLogStore struct {
	raft.LogStore
	appends atomic.Uint64
}

var _ raft.MonotonicLogStore = (*countingLogStore)(nil)

// StoreLog stores one entry with one fsync.
func (c *countingLogStore) StoreLog(l *raft.Log) error {
	return c.StoreLogs([]*raft.Log{l})
}

// StoreLogs stores entries with one fsync and counts the append.
func (c *countingLogStore) StoreLogs(logs []*raft.Log) error {
	if err := c.LogStore.StoreLogs(logs); err != nil {
		return err
	}
	c.appends.Add(1)
	return nil
}

// IsMonotonic passes on the wrapped store's answer: raft-wal only accepts
// appends at the tail, so raft must reset it after installing a snapshot.
func (c *countingLogStore) IsMonotonic() bool {
	m, ok := c.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}
