package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/types"
)

// fullDisk is raft-wal's real file system, except that while full is set,
// Create makes the file and then fails the way a full disk fails
// preallocation: the file stays behind, empty, and the call returns ENOSPC.
// While tear is set, a write stops short of its last 8 bytes (the commit
// frame raft-wal writes last) and returns ENOSPC.
type fullDisk struct {
	*walfs.FS
	full atomic.Bool
	tear atomic.Bool
}

// tearingFile is a segment file of fullDisk.
type tearingFile struct {
	types.WritableFile
	disk *fullDisk
}

func (f tearingFile) WriteAt(p []byte, off int64) (int, error) {
	if !f.disk.tear.Load() || len(p) <= 8 {
		return f.WritableFile.WriteAt(p, off)
	}
	n, err := f.WritableFile.WriteAt(p[:len(p)-8], off)
	if err != nil {
		return n, err
	}
	return n, &fs.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}
}

func (d *fullDisk) Create(dir, name string, size uint64) (types.WritableFile, error) {
	if !d.full.Load() {
		f, err := d.FS.Create(dir, name, size)
		if err != nil {
			return nil, err
		}
		return tearingFile{f, d}, nil
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	_ = f.Close()
	return nil, &fs.PathError{Op: "fallocate", Path: name, Err: syscall.ENOSPC}
}

func walLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func entry(i uint64, data string) *raft.Log {
	return &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte(data)}
}

// storeRange stores entries lo..hi, one StoreLogs call each.
func storeRange(t *testing.T, s raft.LogStore, lo, hi uint64, tag string) {
	t.Helper()
	for i := lo; i <= hi; i++ {
		if err := s.StoreLogs([]*raft.Log{entry(i, fmt.Sprintf("%s-%d", tag, i))}); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
}

// TestLogStoreFailStopsOnTruncateENOSPC replays what the fault suite's soak
// met on a full disk: a leader that lost leadership truncates its
// uncommitted tail, raft-wal commits the truncation to its metadata, then
// cannot create the next segment file. The store must refuse every later
// write and report the failure once; reopening the directory must give the
// truncated log and take new entries.
func TestLogStoreFailStopsOnTruncateENOSPC(t *testing.T) {
	dir := t.TempDir()
	disk := &fullDisk{FS: walfs.New()}
	w, err := openLogStoreOn(disk, dir, 0, newHCLogger(walLogger(), slog.LevelError, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	c := newCountingLogStore(w)
	storeRange(t, c, 1, 10, "old")

	disk.full.Store(true)
	err = c.DeleteRange(8, 10)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("DeleteRange on a full disk: got %v, want ENOSPC", err)
	}
	select {
	case got := <-c.failed:
		if !errors.Is(got, syscall.ENOSPC) {
			t.Fatalf("reported failure %v, want ENOSPC", got)
		}
	default:
		t.Fatal("the failure was not reported on failed")
	}
	disk.full.Store(false)

	// Why the store must stop: raft-wal itself stays broken after space returns.
	if err := w.StoreLogs([]*raft.Log{entry(11, "x")}); err == nil {
		t.Fatal("raft-wal took an entry after its failed truncation; the fail-stop may no longer be needed")
	}
	if err := c.StoreLogs([]*raft.Log{entry(8, "new-8")}); !errors.Is(err, ErrLogStoreFailed) {
		t.Fatalf("write after the failure: got %v, want ErrLogStoreFailed", err)
	}
	if err := c.DeleteRange(1, 2); !errors.Is(err, ErrLogStoreFailed) {
		t.Fatalf("delete after the failure: got %v, want ErrLogStoreFailed", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close after the failure: %v", err)
	}

	reopened := reopenWAL(t, dir)
	wantIndexes(t, reopened, 1, 7)
	storeRange(t, reopened, 8, 9, "new")
	wantData(t, reopened, 7, "old-7")
	wantData(t, reopened, 8, "new-8")
	if err := reopened.Close(); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, reopenWAL(t, dir), 1, 9)
}

// TestLogStoreFailStopsOnRotateENOSPC: the segment is full and the next one
// cannot be created (raft-wal rotates in the background and only logs that
// error); the next write fails, the store stops, and a reopened log holds
// every entry that was confirmed stored and takes more.
func TestLogStoreFailStopsOnRotateENOSPC(t *testing.T) {
	dir := t.TempDir()
	disk := &fullDisk{FS: walfs.New()}
	const segmentBytes = 64 << 10
	w, err := openLogStoreOn(disk, dir, segmentBytes, newHCLogger(walLogger(), slog.LevelError+4, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	c := newCountingLogStore(w)
	disk.full.Store(true)
	payload := string(bytes.Repeat([]byte("p"), 4<<10))
	var last uint64
	for i := uint64(1); i <= uint64(2*segmentBytes/len(payload)); i++ {
		if err := c.StoreLogs([]*raft.Log{entry(i, payload)}); err != nil {
			break
		}
		last = i
	}
	select {
	case err := <-c.failed:
		t.Logf("failed after index %d: %v", last, err)
	default:
		t.Fatalf("stored %d entries of %d bytes in %d-byte segments with no new segment possible, and no failure", last, len(payload), segmentBytes)
	}
	disk.full.Store(false)
	if err := c.StoreLogs([]*raft.Log{entry(last+1, "late")}); !errors.Is(err, ErrLogStoreFailed) {
		t.Fatalf("write after the failure: got %v, want ErrLogStoreFailed", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close after the failure: %v", err)
	}

	reopened := reopenWAL(t, dir)
	wantIndexes(t, reopened, 1, last)
	storeRange(t, reopened, last+1, last+3, "after")
	wantData(t, reopened, last+3, fmt.Sprintf("after-%d", last+3))
	if err := reopened.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLogStoreRepairsTornSeal: the append that fills a segment writes its
// entries, the index frame that seals the segment, and a commit frame, in
// one write. A full disk tore that write before the commit frame; the node
// fail-stopped. raft-wal alone then reopens a tail that refuses every append
// ("segment is sealed"); openLogStore cuts the torn write off first, and
// the log takes entries again with everything committed before it intact.
func TestLogStoreRepairsTornSeal(t *testing.T) {
	dir := t.TempDir()
	disk := &fullDisk{FS: walfs.New()}
	const segmentBytes = 64 << 10
	w, err := openLogStoreOn(disk, dir, segmentBytes, newHCLogger(walLogger(), slog.LevelError, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	payload := string(bytes.Repeat([]byte("p"), 4<<10))
	storeRange(t, w, 1, 10, payload) // 40 KiB of 64: the next 6 seal the segment
	disk.tear.Store(true)
	batch := make([]*raft.Log, 6)
	for i := range batch {
		batch[i] = entry(uint64(11+i), payload)
	}
	if err := w.StoreLogs(batch); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("the torn sealing append: got %v, want ENOSPC", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// raft-wal alone: the reopened tail refuses appends. If this starts to
	// pass, raft-wal recovers torn seals itself and the repair can go.
	raw := openRawWAL(t, dir)
	if err := raw.StoreLogs([]*raft.Log{entry(11, "x")}); !errors.Is(err, types.ErrSealed) {
		t.Fatalf("raft-wal on a tail with a torn seal: got %v, want ErrSealed", err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	repaired := reopenWAL(t, dir)
	wantIndexes(t, repaired, 1, 10)
	if kept, _ := filepath.Glob(filepath.Join(dir, "*.wal.torn-*")); len(kept) != 1 {
		t.Fatalf("the cut bytes were not kept beside the segment: %v", kept)
	}
	if !repaired.tailDamaged {
		t.Fatal("a sealing write cut off at the end of the file was not reported as damage")
	}
	wantData(t, repaired, 10, payload+"-10")
	storeRange(t, repaired, 11, 30, "after") // fills and rotates past the old seal point
	if err := repaired.Close(); err != nil {
		t.Fatal(err)
	}
	again := reopenWAL(t, dir)
	wantIndexes(t, again, 1, 30)
	wantData(t, again, 30, "after-30")
	if again.tailDamaged {
		t.Fatal("a clean reopen reported a cut tail")
	}
}

// TestLogStoreCutsDamagedTail: the newest records' bytes flipped on disk
// (bit rot in the last commit). The reopened log ends at the commit before,
// the damaged bytes are kept beside the segment, and the cut is reported so
// the node does not vote or campaign until it has caught up.
func TestLogStoreCutsDamagedTail(t *testing.T) {
	dir := t.TempDir()
	w := reopenWAL(t, dir)
	storeRange(t, w, 1, 20, "e")
	if w.tailDamaged {
		t.Fatal("a new log reported a cut tail")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := newestSegments(dir, 1)
	if err != nil || len(segs) != 1 {
		t.Fatalf("newest segment: %v %v", segs, err)
	}
	flipLastWritten(t, segs[0], 16)

	damaged := reopenWAL(t, dir)
	wantIndexes(t, damaged, 1, 19)
	wantData(t, damaged, 19, "e-19")
	if !damaged.tailDamaged {
		t.Fatal("a damaged tail was not reported")
	}
	if kept, _ := filepath.Glob(filepath.Join(dir, "*.wal.torn-*")); len(kept) != 1 {
		t.Fatalf("the damaged bytes were not kept: %v", kept)
	}
	storeRange(t, damaged, 20, 21, "new")
	if err := damaged.Close(); err != nil {
		t.Fatal(err)
	}
	again := reopenWAL(t, dir)
	wantIndexes(t, again, 1, 21)
	if again.tailDamaged {
		t.Fatal("the repaired log reported a cut tail again")
	}
}

// flipLastWritten inverts the last n bytes of path's written data.
func flipLastWritten(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	end, err := lastNonZero(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, end-n); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] ^= 0xFF
	}
	if _, err := f.WriteAt(buf, end-n); err != nil {
		t.Fatal(err)
	}
}

// openRawWAL opens dir with raft-wal alone, without the repair.
func openRawWAL(t *testing.T, dir string) *wal.WAL {
	t.Helper()
	meta := &metadb.BoltMetaDB{}
	w, err := wal.Open(dir, wal.WithMetaStore(meta), wal.WithLogger(newHCLogger(walLogger(), slog.LevelError, "wal")))
	if err != nil {
		t.Fatalf("raft-wal open: %v", err)
	}
	t.Cleanup(func() { _ = meta.Close() })
	return w
}

func reopenWAL(t *testing.T, dir string) *walStore {
	t.Helper()
	w, err := openLogStore(dir, 0, newHCLogger(walLogger(), slog.LevelError, "wal"))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func wantIndexes(t *testing.T, s raft.LogStore, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if f != first || l != last {
		t.Fatalf("log holds %d..%d, want %d..%d", f, l, first, last)
	}
}

func wantData(t *testing.T, s raft.LogStore, i uint64, data string) {
	t.Helper()
	var e raft.Log
	if err := s.GetLog(i, &e); err != nil {
		t.Fatalf("get %d: %v", i, err)
	}
	if string(e.Data) != data {
		t.Fatalf("entry %d holds %.20q, want %.20q", i, e.Data, data)
	}
}

// TestLogStoreCutsTornTail: a crash interrupted the last append before its
// commit frame reached the disk (whole entry frames, then zeros). The entry
// was never acknowledged: the log ends before it, the bytes are kept, and
// the node is not held back (a whole cluster restarting after a power loss
// must be able to elect).
func TestLogStoreCutsTornTail(t *testing.T) {
	dir := t.TempDir()
	w := reopenWAL(t, dir)
	storeRange(t, w, 1, 20, "e")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := newestSegments(dir, 1)
	if err != nil || len(segs) != 1 {
		t.Fatalf("newest segment: %v %v", segs, err)
	}
	f, err := os.OpenFile(segs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	end, err := lastNonZero(f, 0)
	if err == nil {
		commitEnd := (end + 7) / 8 * 8
		_, err = f.WriteAt(make([]byte, 8), commitEnd-8) // the last commit frame never written
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	torn := reopenWAL(t, dir)
	wantIndexes(t, torn, 1, 19)
	if torn.tailDamaged {
		t.Fatal("a torn write was reported as damage: the node would not vote")
	}
	if kept, _ := filepath.Glob(filepath.Join(dir, "*.wal.torn-*")); len(kept) != 1 {
		t.Fatalf("the torn bytes were not kept: %v", kept)
	}
	storeRange(t, torn, 20, 22, "new")
	wantData(t, torn, 22, "new-22")
}
