package queue

import (
	"bytes"
	"reflect"
	"sync"
	"testing"
)

func snapshotBytes(t testing.TB, s *State) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := s.Snapshot().WriteTo(&b); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return b.Bytes()
}

// TestDeterminism applies the same random command stream to two states,
// one of them through the codec (encode, decode), and checks that results,
// events and snapshots are identical and every invariant holds throughout.
func TestDeterminism(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		gen := newCmdGen(seed)
		a, b := New(nil), New(nil)
		for i := uint64(1); i <= 600; i++ {
			e := gen.entry()
			ra, ea := a.Apply(i, e)
			rb, eb := b.Apply(i, roundTrip(t, e))
			if !reflect.DeepEqual(ra, rb) || !reflect.DeepEqual(ea, eb) {
				t.Fatalf("seed %d entry %d: replicas differ\n%+v\n%+v", seed, i, ra, rb)
			}
			if err := checkInvariants(a); err != nil {
				t.Fatalf("seed %d entry %d: %v", seed, i, err)
			}
		}
		if !bytes.Equal(snapshotBytes(t, a), snapshotBytes(t, b)) {
			t.Fatalf("seed %d: snapshots differ", seed)
		}
	}
}

func roundTrip(t testing.TB, e Entry) Entry {
	t.Helper()
	b, err := EncodeEntry(e)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	d, err := DecodeEntry(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return d
}

// TestSnapshotRestoreContinues checks that a state restored from a snapshot
// taken mid-stream behaves exactly like the original from then on: same
// results, events and snapshot bytes.
func TestSnapshotRestoreContinues(t *testing.T) {
	for seed := uint64(20); seed < 26; seed++ {
		gen := newCmdGen(seed)
		orig := New(nil)
		var entries []Entry
		for i := 0; i < 900; i++ {
			entries = append(entries, gen.entry())
		}
		for i, e := range entries[:300] {
			orig.Apply(uint64(i+1), e)
		}
		restored := New(nil)
		if err := restored.Restore(bytes.NewReader(snapshotBytes(t, orig))); err != nil {
			t.Fatalf("seed %d: restore: %v", seed, err)
		}
		for i, e := range entries[300:] {
			idx := uint64(i + 301)
			r1, e1 := orig.Apply(idx, e)
			r2, e2 := restored.Apply(idx, e)
			if !reflect.DeepEqual(r1, r2) || !reflect.DeepEqual(e1, e2) {
				t.Fatalf("seed %d entry %d: restored state diverges\n%+v\n%+v", seed, idx, r1, r2)
			}
		}
		if !bytes.Equal(snapshotBytes(t, orig), snapshotBytes(t, restored)) {
			t.Fatalf("seed %d: final snapshots differ", seed)
		}
		if orig.AppliedIndex() != restored.AppliedIndex() || orig.LastTime() != restored.LastTime() {
			t.Fatalf("seed %d: applied index or time differ", seed)
		}
	}
}

// TestSnapshotWhileApplying writes a captured snapshot from another
// goroutine while the state keeps applying (run with -race), and checks the
// bytes are those of the state at capture time.
func TestSnapshotWhileApplying(t *testing.T) {
	gen := newCmdGen(77)
	s := New(nil)
	i := uint64(0)
	for ; i < 400; i++ {
		s.Apply(i+1, gen.entry())
	}
	want := snapshotBytes(t, s)
	sn := s.Snapshot()
	var got bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := sn.WriteTo(&got); err != nil {
			t.Errorf("write: %v", err)
		}
	}()
	for ; i < 800; i++ {
		s.Apply(i+1, gen.entry())
	}
	wg.Wait()
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("a snapshot written during Apply differs from the state at capture")
	}
}
