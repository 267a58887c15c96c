package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// randomState applies n random entries from seed.
func randomState(t testing.TB, seed uint64, n int) *State {
	gen := newCmdGen(seed)
	s := New(nil)
	for i := 1; i <= n; i++ {
		s.Apply(uint64(i), gen.entry())
	}
	return s
}

// snapshotBody is a snapshot without its checksum trailer.
func snapshotBody(t testing.TB, s *State) []byte {
	b := snapshotBytes(t, s)
	return b[:len(b)-4]
}

func withChecksum(body []byte) []byte {
	return binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
}

func TestSnapshotRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		s := randomState(t, seed, 400)
		want := snapshotBytes(t, s)
		restored := New(nil)
		// A reader that returns one byte at a time exercises every refill path.
		if err := restored.Restore(iotest.OneByteReader(bytes.NewReader(want))); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if got := snapshotBytes(t, restored); !bytes.Equal(got, want) {
			t.Fatalf("seed %d: snapshot → restore → snapshot differs", seed)
		}
		if err := checkInvariants(restored); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		at1, ok1 := s.NextDeadline()
		at2, ok2 := restored.NextDeadline()
		if at1 != at2 || ok1 != ok2 {
			t.Fatalf("seed %d: next deadline %d,%v vs %d,%v", seed, at1, ok1, at2, ok2)
		}
	}
}

// TestSnapshotLargePayloads crosses the writer's and reader's chunk sizes.
func TestSnapshotLargePayloads(t *testing.T) {
	s := New(nil)
	var msgs []*Message
	for i := 0; i < 40; i++ {
		msgs = append(msgs, &Message{ID: fmt.Sprint(i), Data: bytes.Repeat([]byte{byte(i)}, 10000+i*997)})
	}
	s.Apply(1, Entry{Time: 1, Commands: []Command{
		CreateQueue{Name: "big", Config: QueueConfig{MaxBytes: 10 << 20}},
		Publish{Queue: "big", Messages: msgs},
	}})
	want := snapshotBytes(t, s)
	restored := New(nil)
	if err := restored.Restore(bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	got, _ := restored.Read("big", 1, 100)
	if len(got) != len(msgs) || !bytes.Equal(got[39].Data, msgs[39].Data) {
		t.Fatal("payloads lost in the round trip")
	}
}

// TestRestoreErrorKeepsState feeds broken snapshots and checks that each
// is refused and the state stays exactly as it was.
func TestRestoreErrorKeepsState(t *testing.T) {
	good := snapshotBytes(t, randomState(t, 9, 200))
	body := good[:len(good)-4]
	cases := map[string][]byte{
		"empty":           {},
		"version 0":       withChecksum(append([]byte{0}, body[1:]...)),
		"version 3":       withChecksum(append([]byte{3}, body[1:]...)),
		"bad checksum":    append(bytes.Clone(body), 1, 2, 3, 4),
		"no checksum":     body,
		"truncated":       good[:len(good)/2],
		"trailing":        append(bytes.Clone(good), 0),
		"flipped bit":     flipBit(good, len(good)/3),
		"huge count":      withChecksum([]byte{1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}),
		"huge string len": withChecksum([]byte{1, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 'q'}),
	}
	for name, b := range cases {
		s := randomState(t, 3, 100)
		before := snapshotBytes(t, s)
		if err := s.Restore(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: restored without error", name)
		}
		if !bytes.Equal(snapshotBytes(t, s), before) {
			t.Errorf("%s: a failed restore changed the state", name)
		}
	}
	if err := New(nil).Restore(iotest.ErrReader(io.ErrUnexpectedEOF)); err == nil {
		t.Error("a read error restored without error")
	}
}

func flipBit(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x10
	return b
}

// TestRestoreRejectsInvariants builds states that break one invariant each
// (by reaching into the internals), snapshots them and checks that Restore
// refuses them as invalid.
func TestRestoreRejectsInvariants(t *testing.T) {
	cases := map[string]func(s *State){
		"queues out of order": func(s *State) { s.names[0], s.names[1] = s.names[1], s.names[0] },
		"last seq too low":    func(s *State) { s.queues["a"].lastSeq = 1 },
		"bad config":          func(s *State) { s.queues["a"].config.MaxMessages = 0 },
		"groups repeated":     func(s *State) { q := s.queues["a"]; q.names = append(q.names, q.names[0]) },
		"cursor below entry":  func(s *State) { s.queues["a"].groups["g"].cursor = 2 },
		"too many attempts":   func(s *State) { s.queues["a"].groups["g"].entries[3].attempts = 99 },
		"member repeated": func(s *State) {
			g := s.queues["a"].groups["g"]
			g.members = append(g.members, g.members[0])
		},
		"dead letters out of order": func(s *State) {
			d := s.queues["a"].dead.list
			d[0], d[1] = d[1], d[0]
		},
		"dedup id repeated": func(s *State) {
			q := s.queues["a"]
			q.dedup.fifo = append(q.dedup.fifo, q.dedup.fifo[0])
		},
		"message times backwards": func(s *State) {
			m, _ := s.queues["a"].store.Get(4)
			m.Time = -1
		},
	}
	for name, breakIt := range cases {
		s := invariantFixture(t)
		breakIt(s)
		err := New(nil).Restore(bytes.NewReader(snapshotBytes(t, s)))
		if !errors.Is(err, errInvalid) {
			t.Errorf("%s: got %v, want an invalid-snapshot error", name, err)
		}
	}
}

// invariantFixture: queues a and b; a has 5 messages with dedup ids, group
// g with member m holding 3–5 (after 1 and 2 were dead-lettered).
func invariantFixture(t *testing.T) *State {
	s := New(nil)
	msgs := []*Message{{ID: "1"}, {ID: "2"}, {ID: "3"}, {ID: "4"}, {ID: "5"}}
	s.Apply(1, Entry{Time: 10, Commands: []Command{
		CreateQueue{Name: "b"},
		CreateQueue{Name: "a"},
		Publish{Queue: "a", Messages: msgs},
		Join{Queue: "a", Group: "g", Member: MemberRef{ID: "m"}, Config: GroupConfig{MaxDeliver: 1}},
		Nack{Queue: "a", Group: "g", Member: "m", Seqs: []uint64{1, 2}},
	}})
	if err := checkInvariants(s); err != nil || len(s.queues["a"].dead.list) != 2 {
		t.Fatalf("fixture: %v", err)
	}
	return s
}

func FuzzRestore(f *testing.F) {
	f.Add(snapshotBody(f, New(nil)))
	f.Add(snapshotBody(f, invariantFixture(&testing.T{})))
	f.Add(snapshotBody(f, randomState(f, 5, 60)))
	base := randomState(f, 8, 10)
	baseBytes := snapshotBytes(f, base)
	f.Fuzz(func(t *testing.T, body []byte) {
		// The checksum is appended so the fuzzer reaches the decoder.
		for _, b := range [][]byte{withChecksum(body), body} {
			s := New(nil)
			if err := s.Restore(bytes.NewReader(baseBytes)); err != nil {
				t.Fatal(err)
			}
			if err := s.Restore(bytes.NewReader(b)); err != nil {
				if !bytes.Equal(snapshotBytes(t, s), baseBytes) {
					t.Fatal("a failed restore changed the state")
				}
				continue
			}
			checkRestored(t, s)
		}
	})
}

// checkRestored checks a state restored from arbitrary bytes: invariants
// hold, its snapshot is stable, and applying to it does not panic.
func checkRestored(t *testing.T, s *State) {
	if err := checkInvariants(s); err != nil {
		t.Fatalf("restored state breaks an invariant: %v", err)
	}
	first := snapshotBytes(t, s)
	again := New(nil)
	if err := again.Restore(bytes.NewReader(first)); err != nil {
		t.Fatalf("re-restore: %v", err)
	}
	if !bytes.Equal(snapshotBytes(t, again), first) {
		t.Fatal("snapshot of a restored state is not stable")
	}
	gen := newCmdGen(1)
	for i := 0; i < 20; i++ {
		e := gen.entry()
		e.Time += s.LastTime()
		s.Apply(s.AppliedIndex()+1, e)
	}
	if err := checkInvariants(s); err != nil {
		t.Fatalf("after applying to a restored state: %v", err)
	}
}

// TestRestoreVersion1 restores a snapshot of the format before dropped
// counts (version 1, kept as a fuzz seed): it is read, its queues count
// drops from zero, and it is written back as the current version.
func TestRestoreVersion1(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzRestore", "v1-random-0"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	quoted := strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "[]byte("), ")")
	body, err := strconv.Unquote(quoted)
	if err != nil {
		t.Fatalf("seed file: %v", err)
	}
	if body[0] != 1 {
		t.Fatalf("seed is version %d, want 1", body[0])
	}
	s := New(nil)
	if err := s.Restore(bytes.NewReader(withChecksum([]byte(body)))); err != nil {
		t.Fatalf("restore version 1: %v", err)
	}
	qs := s.Queues()
	if len(qs) == 0 {
		t.Fatal("no queues restored")
	}
	for _, q := range qs {
		if q.Dropped != 0 {
			t.Errorf("queue %s: dropped %d after a version 1 restore", q.Name, q.Dropped)
		}
	}
	again := snapshotBytes(t, s)
	if again[0] != snapshotVersion {
		t.Fatalf("written back as version %d", again[0])
	}
	r := New(nil)
	if err := r.Restore(bytes.NewReader(again)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, r), again) {
		t.Fatal("the rewritten snapshot does not restore to the same state")
	}
}
