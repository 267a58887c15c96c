package diskstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/carriermq/carrier/queue"
)

func msg(seq uint64) *queue.Message {
	return &queue.Message{Seq: seq, ID: fmt.Sprintf("m%d", seq), Data: []byte(fmt.Sprintf(`{"n":%d}`, seq)), Time: int64(seq)}
}

func fill(t *testing.T, s *Store, from, to uint64) {
	t.Helper()
	for seq := from; seq <= to; seq++ {
		if err := s.Append(seq, msg(seq)); err != nil {
			t.Fatalf("append %d: %v", seq, err)
		}
	}
}

func closeT(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkPrefix checks that s holds exactly 1..n of msg, with applied n.
func checkPrefix(t *testing.T, s *Store, n uint64) {
	t.Helper()
	if s.Len() != int64(n) || (n > 0 && (s.FirstSeq() != 1 || s.LastSeq() != n)) || s.Applied() != n {
		t.Fatalf("store has %d..%d (%d), applied %d; want 1..%d", s.FirstSeq(), s.LastSeq(), s.Len(), s.Applied(), n)
	}
	msgs, err := s.Read(1, int(n)+1)
	if err != nil || uint64(len(msgs)) != n {
		t.Fatalf("read: %d, %v", len(msgs), err)
	}
	var bytes int64
	for i, m := range msgs {
		if m.Seq != uint64(i+1) || m.ID != msg(m.Seq).ID || string(m.Data) != string(msg(m.Seq).Data) {
			t.Fatalf("message %d = %+v", i+1, m)
		}
		bytes += m.Size()
	}
	if bytes != s.Bytes() {
		t.Fatalf("bytes %d, messages sum to %d", s.Bytes(), bytes)
	}
}

// TestTornTailIsCut cuts the newest segment at every length within its
// last records, as a crash in the middle of a write would: the store opens
// with the records before the cut, at the applied index of the last whole
// one, and takes new appends.
func TestTornTailIsCut(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	fill(t, s, 1, 5)
	closeT(t, s)
	path := segFiles(t, dir)[0]
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rec := len(appendMsgRecord(nil, 5, msg(5)))
	for cut := len(whole) - 2*rec; cut < len(whole); cut++ {
		if err := os.WriteFile(path, whole[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		s := openT(t, dir, Options{})
		kept := uint64(3)
		if cut >= len(whole)-rec {
			kept = 4
		}
		checkPrefix(t, s, kept)
		fill(t, s, kept+1, kept+1)
		closeT(t, s)
	}
}

// TestDamageIsDetected: a flipped byte in a sealed segment or a missing
// segment is damage (ErrDamaged), never a silent gap; a flipped byte in the
// newest segment's last record is cut like a torn write.
func TestDamageIsDetected(t *testing.T) {
	setup := func(t *testing.T) (string, []string) {
		dir := t.TempDir()
		s := openT(t, dir, small)
		fill(t, s, 1, 40)
		closeT(t, s)
		files := segFiles(t, dir)
		if len(files) < 3 {
			t.Fatalf("%d segments, want at least 3", len(files))
		}
		return dir, files
	}
	flip := func(t *testing.T, path string, at int) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[(len(b)+at)%len(b)] ^= 0x55
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("flipped byte in a sealed segment", func(t *testing.T) {
		dir, files := setup(t)
		flip(t, files[1], 20)
		if _, err := Open(dir, small); !errors.Is(err, ErrDamaged) {
			t.Fatalf("open: %v, want ErrDamaged", err)
		}
	})
	t.Run("missing segment", func(t *testing.T) {
		dir, files := setup(t)
		if err := os.Remove(files[1]); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, small); !errors.Is(err, ErrDamaged) {
			t.Fatalf("open: %v, want ErrDamaged", err)
		}
	})
	t.Run("missing first segment", func(t *testing.T) {
		dir, files := setup(t)
		if err := os.Remove(files[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, small); !errors.Is(err, ErrDamaged) {
			t.Fatalf("open: %v, want ErrDamaged", err)
		}
	})
	t.Run("flipped byte in the newest record", func(t *testing.T) {
		dir, files := setup(t)
		flip(t, files[len(files)-1], -3)
		s := openT(t, dir, small)
		checkPrefix(t, s, 39)
		closeT(t, s)
	})
}

// TestDropsSurviveReopen: whole segments are deleted by a drop, the rest is
// a record, and a reopened store has the same bounds and bytes.
func TestDropsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, small)
	fill(t, s, 1, 60)
	before := len(segFiles(t, dir))
	if n, err := s.DropThrough(61, 45); err != nil || n != 45 {
		t.Fatalf("drop: %d, %v", n, err)
	}
	if after := len(segFiles(t, dir)); after >= before {
		t.Fatalf("drop deleted no segment: %d files before, %d after", before, after)
	}
	first, last, n, bytes := s.FirstSeq(), s.LastSeq(), s.Len(), s.Bytes()
	closeT(t, s)
	s = openT(t, dir, small)
	defer closeT(t, s)
	if s.FirstSeq() != first || s.LastSeq() != last || s.Len() != n || s.Bytes() != bytes || s.Applied() != 61 {
		t.Fatalf("reopened %d..%d %d %dB applied %d; want %d..%d %d %dB applied 61",
			s.FirstSeq(), s.LastSeq(), s.Len(), s.Bytes(), s.Applied(), first, last, n, bytes)
	}
}

// TestMemoryPerMessage: what the store keeps in memory does not grow per
// message: a sparse index entry per indexEvery messages, and a tail cache
// bounded by its budget.
func TestMemoryPerMessage(t *testing.T) {
	s := openT(t, t.TempDir(), Options{SegmentBytes: 64 << 10, CacheBytes: 4 << 10})
	defer closeT(t, s)
	const n = 20000
	fill(t, s, 1, n)
	entries := 0
	for _, g := range s.segs {
		entries += len(g.offs)
		if want := int((g.n + indexEvery - 1) / indexEvery); len(g.offs) != want || len(g.cum) != want {
			t.Fatalf("segment %d: %d index entries for %d messages, want %d", g.id, len(g.offs), g.n, want)
		}
	}
	if entries > n/indexEvery+len(s.segs) {
		t.Fatalf("%d index entries for %d messages", entries, n)
	}
	if s.cache.bytes > 4<<10 || s.cache.n >= n/10 {
		t.Fatalf("cache holds %d messages, %d bytes; budget 4 KiB", s.cache.n, s.cache.bytes)
	}
	m, err := s.Get(17)
	if err != nil || m.ID != "m17" {
		t.Fatalf("get 17 from the files: %+v, %v", m, err)
	}
}
