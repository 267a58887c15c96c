// Package storetest is the conformance suite of queue.Store: every
// implementation runs it (the memory store in queue, the disk store in
// queue/diskstore).
package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/carriermq/carrier/queue"
)

// Impl describes a Store implementation under test.
type Impl struct {
	// New returns a new, empty store; the test closes or removes it.
	New func(t *testing.T) queue.Store
	// Reopen closes s and opens it again from what it kept; nil for a
	// store that keeps nothing (the memory store).
	Reopen func(t *testing.T, s queue.Store) queue.Store
}

// Run runs the conformance suite against impl.
func Run(t *testing.T, impl Impl) {
	tests := map[string]func(*testing.T, queue.Store){
		"empty":             storeEmpty,
		"append and get":    storeAppendGet,
		"message fields":    storeFields,
		"contiguous seqs":   storeContiguous,
		"read":              storeRead,
		"drop through":      storeDropThrough,
		"jump after drop":   storeJumpAfterDrop,
		"capture is frozen": storeCaptureFrozen,
		"applied index":     storeApplied,
		"remove":            storeRemove,
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			s := impl.New(t)
			test(t, s)
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
		})
	}
	if impl.Reopen != nil {
		t.Run("reopen", func(t *testing.T) { storeReopen(t, impl) })
	}
}

func msgSeq(seq uint64, data string) *queue.Message {
	return &queue.Message{Seq: seq, Data: []byte(data)}
}

func appendAll(t *testing.T, s queue.Store, from, to uint64) {
	t.Helper()
	for seq := from; seq <= to; seq++ {
		if err := s.Append(seq+100, msgSeq(seq, "xy")); err != nil {
			t.Fatalf("append %d: %v", seq, err)
		}
	}
}

func wantBounds(t *testing.T, s queue.Store, first, last uint64, n, bytes int64) {
	t.Helper()
	if s.FirstSeq() != first || s.LastSeq() != last || s.Len() != n || s.Bytes() != bytes {
		t.Fatalf("first, last, len, bytes = %d, %d, %d, %d; want %d, %d, %d, %d",
			s.FirstSeq(), s.LastSeq(), s.Len(), s.Bytes(), first, last, n, bytes)
	}
}

func drop(t *testing.T, s queue.Store, index, seq uint64) int64 {
	t.Helper()
	n, err := s.DropThrough(index, seq)
	if err != nil {
		t.Fatalf("drop through %d: %v", seq, err)
	}
	return n
}

func storeEmpty(t *testing.T, s queue.Store) {
	wantBounds(t, s, 0, 0, 0, 0)
	if s.Applied() != 0 {
		t.Fatalf("new store applied %d", s.Applied())
	}
	if _, err := s.Get(1); !errors.Is(err, queue.ErrNotStored) {
		t.Fatalf("get on empty: %v", err)
	}
	if msgs, err := s.Read(0, 10); err != nil || len(msgs) != 0 {
		t.Fatalf("read on empty: %v, %v", msgs, err)
	}
	if n := drop(t, s, 1, 100); n != 0 {
		t.Fatalf("drop on empty: %d", n)
	}
}

func storeAppendGet(t *testing.T, s queue.Store) {
	appendAll(t, s, 1, 5)
	wantBounds(t, s, 1, 5, 5, 10)
	for seq := uint64(1); seq <= 5; seq++ {
		if m, err := s.Get(seq); err != nil || m.Seq != seq {
			t.Fatalf("get %d: %v, %v", seq, m, err)
		}
	}
	for _, seq := range []uint64{0, 6, 1 << 63} {
		if _, err := s.Get(seq); !errors.Is(err, queue.ErrNotStored) {
			t.Fatalf("get %d: %v, want ErrNotStored", seq, err)
		}
	}
}

// fullMessage has every field set.
func fullMessage(seq uint64) *queue.Message {
	return &queue.Message{Seq: seq, ID: fmt.Sprintf("id-%d", seq), Event: "pickup",
		Data: []byte(`{"n":1}`), Binary: seq%2 == 0, Headers: map[string]string{"traceparent": "00-ab", "k": "v"},
		Time: int64(seq) * 1000, DeliverAt: int64(seq) * 2000}
}

func sameMessage(a, b *queue.Message) bool {
	if a.Seq != b.Seq || a.ID != b.ID || a.Event != b.Event || string(a.Data) != string(b.Data) ||
		a.Binary != b.Binary || a.Time != b.Time || a.DeliverAt != b.DeliverAt || len(a.Headers) != len(b.Headers) {
		return false
	}
	for k, v := range a.Headers {
		if w, ok := b.Headers[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func storeFields(t *testing.T, s queue.Store) {
	var size int64
	for seq := uint64(7); seq <= 9; seq++ {
		m := fullMessage(seq)
		size += m.Size()
		if err := s.Append(seq, m); err != nil {
			t.Fatal(err)
		}
	}
	wantBounds(t, s, 7, 9, 3, size)
	for seq := uint64(7); seq <= 9; seq++ {
		if m, err := s.Get(seq); err != nil || !sameMessage(m, fullMessage(seq)) {
			t.Fatalf("get %d = %+v, %v; want %+v", seq, m, err, fullMessage(seq))
		}
	}
}

func storeContiguous(t *testing.T, s queue.Store) {
	if err := s.Append(1, msgSeq(0, "")); err == nil {
		t.Fatal("append of seq 0 accepted")
	}
	appendAll(t, s, 10, 11)
	for _, seq := range []uint64{11, 13, 9} {
		if err := s.Append(200, msgSeq(seq, "")); err == nil {
			t.Fatalf("append of %d after 11 accepted", seq)
		}
	}
	wantBounds(t, s, 10, 11, 2, 4)
}

func storeRead(t *testing.T, s queue.Store) {
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

func storeDropThrough(t *testing.T, s queue.Store) {
	appendAll(t, s, 1, 10)
	steps := []struct {
		through     uint64
		dropped     int64
		first, last uint64
	}{{0, 0, 1, 10}, {3, 3, 4, 10}, {3, 0, 4, 10}, {9, 6, 10, 10}}
	for _, st := range steps {
		if n := drop(t, s, 300, st.through); n != st.dropped {
			t.Fatalf("drop through %d: %d; want %d", st.through, n, st.dropped)
		}
		wantBounds(t, s, st.first, st.last, int64(st.last-st.first+1), 2*int64(st.last-st.first+1))
	}
	if n := drop(t, s, 301, 1<<63); n != 1 {
		t.Fatalf("drop of all: %d", n)
	}
	wantBounds(t, s, 0, 0, 0, 0)
}

func storeJumpAfterDrop(t *testing.T, s queue.Store) {
	appendAll(t, s, 1, 3)
	drop(t, s, 200, 3)
	appendAll(t, s, 50, 51)
	wantBounds(t, s, 50, 51, 2, 4)
	if _, err := s.Get(3); !errors.Is(err, queue.ErrNotStored) {
		t.Fatal("dropped seq still readable")
	}
}

func viewSeqs(t *testing.T, v queue.MessageView) []uint64 {
	t.Helper()
	var seqs []uint64
	if err := v.Each(func(m *queue.Message) error { seqs = append(seqs, m.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	return seqs
}

func storeCaptureFrozen(t *testing.T, s queue.Store) {
	appendAll(t, s, 1, 6)
	view := s.Capture()
	defer view.Close()
	drop(t, s, 200, 4)
	appendAll(t, s, 7, 40)
	drop(t, s, 201, 30)
	seqs := viewSeqs(t, view)
	if view.Len() != 6 || len(seqs) != 6 || seqs[0] != 1 || seqs[5] != 6 {
		t.Fatalf("captured view changed: len %d, seqs %v", view.Len(), seqs)
	}
	stop := errors.New("stop")
	n := 0
	if err := view.Each(func(*queue.Message) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Each does not stop at the first error: %v after %d", err, n)
	}
}

func storeApplied(t *testing.T, s queue.Store) {
	appendAll(t, s, 1, 3) // indexes 101..103
	if s.Applied() != 103 {
		t.Fatalf("applied %d after appends, want 103", s.Applied())
	}
	drop(t, s, 150, 1)
	if s.Applied() != 150 {
		t.Fatalf("applied %d after a drop, want 150", s.Applied())
	}
	drop(t, s, 151, 0) // drops nothing: need not be recorded
	if a := s.Applied(); a != 150 && a != 151 {
		t.Fatalf("applied %d after an empty drop, want 150 or 151", a)
	}
}

func storeRemove(t *testing.T, s queue.Store) {
	appendAll(t, s, 1, 20)
	view := s.Capture()
	if err := s.Remove(); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if seqs := viewSeqs(t, view); len(seqs) != 20 {
		t.Fatalf("a view taken before Remove reads %d messages, want 20", len(seqs))
	}
	if err := view.Close(); err != nil {
		t.Fatalf("close view: %v", err)
	}
}

// storeReopen checks that a reopened store has exactly what was stored:
// bounds, messages and the applied index.
func storeReopen(t *testing.T, impl Impl) {
	s := impl.New(t)
	for seq := uint64(1); seq <= 50; seq++ {
		if err := s.Append(seq, fullMessage(seq)); err != nil {
			t.Fatal(err)
		}
	}
	drop(t, s, 60, 20)
	first, last, n, bytes := s.FirstSeq(), s.LastSeq(), s.Len(), s.Bytes()
	s = impl.Reopen(t, s)
	wantBounds(t, s, first, last, n, bytes)
	if s.Applied() != 60 {
		t.Fatalf("reopened applied %d, want 60", s.Applied())
	}
	msgs, err := s.Read(0, 100)
	if err != nil || len(msgs) != 30 {
		t.Fatalf("reopened read: %d messages, %v", len(msgs), err)
	}
	for _, m := range msgs {
		if !sameMessage(m, fullMessage(m.Seq)) {
			t.Fatalf("reopened message %d = %+v", m.Seq, m)
		}
	}
	drop(t, s, 61, 1<<62)
	s = impl.Reopen(t, s)
	wantBounds(t, s, 0, 0, 0, 0)
	if s.Applied() != 61 {
		t.Fatalf("reopened empty store applied %d, want 61", s.Applied())
	}
	appendAll(t, s, 70, 71)
	wantBounds(t, s, 70, 71, 2, 4)
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
}
