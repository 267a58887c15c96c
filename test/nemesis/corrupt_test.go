//go:build linux

package nemesis

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

const walEntries = 200

// writeWAL writes entries 1…n with raft-wal, as a node does, under
// dataDir/raft/wal and closes it.
func writeWAL(t *testing.T, dataDir string, n int) {
	t.Helper()
	dir := filepath.Join(dataDir, "raft", "wal")
	w, meta := openWAL(t, dir)
	logs := make([]*raft.Log, n)
	for i := range logs {
		logs[i] = &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand,
			Data: bytes.Repeat([]byte{byte(i%250 + 1)}, 100)}
	}
	if err := w.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	closeWAL(t, w, meta)
}

func openWAL(t *testing.T, dir string) (*wal.WAL, *metadb.BoltMetaDB) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	meta := &metadb.BoltMetaDB{}
	w, err := wal.Open(dir, wal.WithMetaStore(meta), wal.WithLogger(hclog.NewNullLogger()))
	if err != nil {
		t.Fatal(err)
	}
	return w, meta
}

func closeWAL(t *testing.T, w *wal.WAL, meta *metadb.BoltMetaDB) {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := meta.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTruncateSegmentTail cuts the newest records off a real raft-wal
// segment: the bytes before the cut are unchanged, the file ends at the
// cut, and raft-wal reopened has lost entries at the tail.
func TestTruncateSegmentTail(t *testing.T) {
	dataDir := t.TempDir()
	writeWAL(t, dataDir, walEntries)
	seg, err := NewestSegment(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	before := readFile(t, seg)
	end, err := DataEnd(seg)
	if err != nil || end == 0 || end > int64(len(before)) {
		t.Fatalf("data end %d of a %d-byte segment: %v", end, len(before), err)
	}
	size, err := TruncateTail(seg, 300)
	if err != nil {
		t.Fatal(err)
	}
	after := readFile(t, seg)
	if size != end-300 || int64(len(after)) != size || !bytes.Equal(after, before[:size]) {
		t.Fatalf("after truncation: size %d (want %d), prefix kept %v", len(after), end-300,
			bytes.Equal(after, before[:min(len(before), len(after))]))
	}
	w, meta := openWAL(t, filepath.Dir(seg))
	last, err := w.LastIndex()
	closeWAL(t, w, meta)
	if err != nil || last >= walEntries {
		t.Fatalf("raft-wal after a torn tail: last index %d (%v), want < %d", last, err, walEntries)
	}
}

func TestFlipSegmentTail(t *testing.T) {
	dataDir := t.TempDir()
	writeWAL(t, dataDir, walEntries)
	seg, err := NewestSegment(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	before := readFile(t, seg)
	end, _ := DataEnd(seg)
	off, err := FlipTail(seg, 64)
	if err != nil {
		t.Fatal(err)
	}
	after := readFile(t, seg)
	if off != end-64 || len(after) != len(before) {
		t.Fatalf("flip at %d (want %d), size %d → %d", off, end-64, len(before), len(after))
	}
	for i := range after {
		want := before[i]
		if int64(i) >= off && int64(i) < end {
			want ^= 0xFF
		}
		if after[i] != want {
			t.Fatalf("byte %d is %#x, want %#x (flipped range [%d,%d))", i, after[i], want, off, end)
		}
	}
}

// TestCorruptNewestSnapshot finds the newest of two real raft file
// snapshots and truncates its state: raft's store then refuses it (CRC).
func TestCorruptNewestSnapshot(t *testing.T) {
	dataDir := t.TempDir()
	store, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dataDir, "raft"), 2, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	older := writeSnapshot(t, store, 10)
	newer := writeSnapshot(t, store, 20)
	path, err := NewestSnapshot(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(filepath.Dir(path)) != newer {
		t.Fatalf("newest snapshot %s, want %s", path, newer)
	}
	before := readFile(t, path)
	if _, err := TruncateTail(path, 16); err != nil {
		t.Fatal(err)
	}
	if after := readFile(t, path); len(after) != len(before)-16 || !bytes.HasPrefix(before, after) {
		t.Fatalf("state.bin %d → %d bytes, want a 16-byte shorter prefix", len(before), len(after))
	}
	if _, rc, err := store.Open(newer); err == nil {
		rc.Close()
		t.Fatal("raft opened the truncated snapshot")
	}
	if _, rc, err := store.Open(older); err != nil {
		t.Fatalf("older snapshot no longer opens: %v", err)
	} else {
		rc.Close()
	}
}

func writeSnapshot(t *testing.T, store *raft.FileSnapshotStore, index uint64) string {
	t.Helper()
	sink, err := store.Create(raft.SnapshotVersionMax, index, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(bytes.Repeat([]byte("state"), 1000)); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return sink.ID()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSmallDiskStopsRaftWAL fills the disk under a real raft-wal and
// appends until it fails: the failure is ENOSPC, and it arrives only when
// the preallocated 64 MiB segment is used up and the next one cannot be
// created — appends into the current segment still succeed on a full disk.
func TestSmallDiskStopsRaftWAL(t *testing.T) {
	ctx := ctxT(t)
	if os.Geteuid() != 0 {
		t.Skipf("SKIP %s: mounting tmpfs needs root", t.Name())
	}
	d := &SmallDisk{Dir: filepath.Join(t.TempDir(), "data"), Size: 80 << 20}
	if err := d.Mount(); err != nil {
		t.Skipf("SKIP %s: %v", t.Name(), err)
	}
	t.Cleanup(func() { _ = d.Unmount() })
	w, meta := openWAL(t, filepath.Join(d.Dir, "raft", "wal"))
	defer closeWAL(t, w, meta)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{1}, 64<<10)
	for i := uint64(1); i <= 2000; i++ { // 2000 × 64 KiB > one segment
		err := w.StoreLogs([]*raft.Log{{Index: i, Term: 1, Type: raft.LogCommand, Data: data}})
		if errors.Is(err, syscall.ENOSPC) {
			t.Logf("ENOSPC at entry %d (%d MiB appended on a full disk)", i, (i-1)*64>>10)
			return
		}
		if err != nil {
			t.Fatalf("entry %d: %v, want ENOSPC", i, err)
		}
	}
	t.Fatal("2000 × 64 KiB appended on a full disk without ENOSPC")
}
