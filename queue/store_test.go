package queue

import (
	"errors"
	"testing"
)

// TestMemoryStore runs the Store conformance suite against the in-memory
// store. A future on-disk store runs the same suite.
func TestMemoryStore(t *testing.T) { storeConformance(t, NewMemoryStore) }

// storeConformance checks the Store contract on fresh stores from newStore.
func storeConformance(t *testing.T, newStore func() Store) {
	tests := map[string]func(*testing.T, Store){
		"empty":             storeEmpty,
		"append and get":    storeAppendGet,
		"contiguous seqs":   storeContiguous,
		"read":              storeRead,
		"drop through":      storeDropThrough,
		"jump after drop":   storeJumpAfterDrop,
		"capture is frozen": storeCaptureFrozen,
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) { test(t, newStore()) })
	}
}

func msgSeq(seq uint64, data string) *Message { return &Message{Seq: seq, Data: []byte(data)} }

func appendAll(t *testing.T, s Store, from, to uint64) {
	t.Helper()
	for seq := from; seq <= to; seq++ {
		if err := s.Append(msgSeq(seq, "xy")); err != nil {
			t.Fatalf("append %d: %v", seq, err)
		}
	}
}

func wantBounds(t *testing.T, s Store, first, last uint64, n, bytes int64) {
	t.Helper()
	if s.FirstSeq() != first || s.LastSeq() != last || s.Len() != n || s.Bytes() != bytes {
		t.Fatalf("first, last, len, bytes = %d, %d, %d, %d; want %d, %d, %d, %d",
			s.FirstSeq(), s.LastSeq(), s.Len(), s.Bytes(), first, last, n, bytes)
	}
}

func storeEmpty(t *testing.T, s Store) {
	wantBounds(t, s, 0, 0, 0, 0)
	if _, err := s.Get(1); !errors.Is(err, ErrNotStored) {
		t.Fatalf("get on empty: %v", err)
	}
	if msgs, err := s.Read(0, 10); err != nil || len(msgs) != 0 {
		t.Fatalf("read on empty: %v, %v", msgs, err)
	}
	if n, err := s.DropThrough(100); err != nil || n != 0 {
		t.Fatalf("drop on empty: %d, %v", n, err)
	}
}

func storeAppendGet(t *testing.T, s Store) {
	appendAll(t, s, 1, 5)
	wantBounds(t, s, 1, 5, 5, 10)
	for seq := uint64(1); seq <= 5; seq++ {
		if m, err := s.Get(seq); err != nil || m.Seq != seq {
			t.Fatalf("get %d: %v, %v", seq, m, err)
		}
	}
	for _, seq := range []uint64{0, 6, 1 << 63} {
		if _, err := s.Get(seq); !errors.Is(err, ErrNotStored) {
			t.Fatalf("get %d: %v, want ErrNotStored", seq, err)
		}
	}
}

func storeContiguous(t *testing.T, s Store) {
	if err := s.Append(msgSeq(0, "")); err == nil {
		t.Fatal("append of seq 0 accepted")
	}
	appendAll(t, s, 10, 11)
	for _, seq := range []uint64{11, 13, 9} {
		if err := s.Append(msgSeq(seq, "")); err == nil {
			t.Fatalf("append of %d after 11 accepted", seq)
		}
	}
	wantBounds(t, s, 10, 11, 2, 4)
}

func storeRead(t *testing.T, s Store) {
	appendAll(t, s, 3, 12)
	cases := []struct {
		from        uint64
		limit       int
		first, nmsg int
	}{
		{0, 100, 3, 10}, {3, 4, 3, 4}, {10, 100, 10, 3}, {12, 1, 12, 1}, {13, 5, 0, 0}, {5, 0, 0, 0}, {5, -1, 0, 0},
	}
	for _, c := range cases {
		msgs, err := s.Read(c.from, c.limit)
		if err != nil || len(msgs) != c.nmsg {
			t.Fatalf("read(%d, %d): %d messages, %v; want %d", c.from, c.limit, len(msgs), err, c.nmsg)
		}
		for i, m := range msgs {
			if m.Seq != uint64(c.first+i) {
				t.Fatalf("read(%d, %d)[%d] = seq %d", c.from, c.limit, i, m.Seq)
			}
		}
	}
}

func storeDropThrough(t *testing.T, s Store) {
	appendAll(t, s, 1, 10)
	steps := []struct {
		through     uint64
		dropped     int64
		first, last uint64
	}{{0, 0, 1, 10}, {3, 3, 4, 10}, {3, 0, 4, 10}, {9, 6, 10, 10}}
	for _, st := range steps {
		n, err := s.DropThrough(st.through)
		if err != nil || n != st.dropped {
			t.Fatalf("drop through %d: %d, %v; want %d", st.through, n, err, st.dropped)
		}
		wantBounds(t, s, st.first, st.last, int64(st.last-st.first+1), 2*int64(st.last-st.first+1))
	}
	if n, _ := s.DropThrough(1 << 63); n != 1 {
		t.Fatalf("drop of all: %d", n)
	}
	wantBounds(t, s, 0, 0, 0, 0)
}

func storeJumpAfterDrop(t *testing.T, s Store) {
	appendAll(t, s, 1, 3)
	if _, err := s.DropThrough(3); err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, 50, 51)
	wantBounds(t, s, 50, 51, 2, 4)
	if _, err := s.Get(3); !errors.Is(err, ErrNotStored) {
		t.Fatal("dropped seq still readable")
	}
}

func storeCaptureFrozen(t *testing.T, s Store) {
	appendAll(t, s, 1, 6)
	view := s.Capture()
	if _, err := s.DropThrough(4); err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, 7, 40)
	var seqs []uint64
	if err := view.Each(func(m *Message) error { seqs = append(seqs, m.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if view.Len() != 6 || len(seqs) != 6 || seqs[0] != 1 || seqs[5] != 6 {
		t.Fatalf("captured view changed: len %d, seqs %v", view.Len(), seqs)
	}
	stop := errors.New("stop")
	n := 0
	if err := view.Each(func(*Message) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Each does not stop at the first error: %v after %d", err, n)
	}
}
