package queue

import (
	"bytes"
	"testing"
	"time"
)

func applyOne(t *testing.T, s *State, index uint64, c Command) Result {
	t.Helper()
	res, _ := s.Apply(index, Entry{Time: int64(index) * int64(time.Second), Commands: []Command{c}})
	return res[0]
}

// TestUpdateIfMatch: an update naming the ETag it read applies; one naming
// an ETag of settings changed since is refused with precondition_failed and
// changes nothing; no IfMatch is unconditional.
func TestUpdateIfMatch(t *testing.T) {
	s := New(nil)
	created := applyOne(t, s, 1, CreateQueue{Name: "q"}).Queue
	if created.ETag == "" || created.ETag != created.Config.ETag() || len(created.ETag) != etagLen {
		t.Fatalf("etag %q of %+v", created.ETag, created.Config)
	}
	v1 := created.ETag
	first := applyOne(t, s, 2, UpdateQueue{Name: "q", Config: QueueConfig{MaxMessages: 10}, IfMatch: v1})
	if first.Err != nil || first.Queue.ETag == v1 {
		t.Fatalf("update with the current etag: %+v", first)
	}
	lost := applyOne(t, s, 3, UpdateQueue{Name: "q", Config: QueueConfig{MaxMessages: 20}, IfMatch: v1})
	if CodeOf(lost.Err) != CodePreconditionFailed {
		t.Fatalf("update with a stale etag: %v, want %s", lost.Err, CodePreconditionFailed)
	}
	if info, _ := s.Queue("q"); info.Config.MaxMessages != 10 || info.ETag != first.Queue.ETag {
		t.Fatalf("a refused update changed the queue: %+v", info.Config)
	}
	if res := applyOne(t, s, 4, UpdateQueue{Name: "q", Config: QueueConfig{MaxMessages: 30}}); res.Err != nil {
		t.Fatalf("unconditional update: %v", res.Err)
	}

	applyOne(t, s, 5, CreateGroup{Queue: "q", Group: "g"})
	info, _ := s.Queue("q")
	g1 := info.Groups[0].ETag
	if g1 != info.Groups[0].Config.ETag() {
		t.Fatalf("group etag %q", g1)
	}
	if res := applyOne(t, s, 6, UpdateGroup{Queue: "q", Group: "g", Config: GroupConfig{MaxDeliver: 2}, IfMatch: g1}); res.Err != nil {
		t.Fatalf("group update with the current etag: %v", res.Err)
	}
	if res := applyOne(t, s, 7, UpdateGroup{Queue: "q", Group: "g", Config: GroupConfig{MaxDeliver: 9}, IfMatch: g1}); CodeOf(res.Err) != CodePreconditionFailed {
		t.Fatalf("group update with a stale etag: %v", res.Err)
	}
	if info, _ := s.Queue("q"); info.Groups[0].Config.MaxDeliver != 2 {
		t.Fatalf("a refused group update changed the group: %+v", info.Groups[0].Config)
	}
}

// TestETagDependsOnSettingsOnly: equal settings give equal ETags, whatever
// else differs, and a state restored from a snapshot reports the same.
func TestETagDependsOnSettingsOnly(t *testing.T) {
	a, b := New(nil), New(nil)
	applyOne(t, a, 1, CreateQueue{Name: "q", Config: QueueConfig{MaxMessages: 5}})
	applyOne(t, b, 7, CreateQueue{Name: "q"})
	applyOne(t, b, 8, Publish{Queue: "q", Messages: []*Message{{ID: "x"}}})
	applyOne(t, b, 9, UpdateQueue{Name: "q", Config: QueueConfig{MaxMessages: 5}})
	ia, _ := a.Queue("q")
	ib, _ := b.Queue("q")
	if ia.ETag != ib.ETag {
		t.Fatalf("same settings, etags %q and %q", ia.ETag, ib.ETag)
	}
	var buf bytes.Buffer
	if _, err := b.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r := New(nil)
	if err := r.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if ir, _ := r.Queue("q"); ir.ETag != ib.ETag {
		t.Fatalf("restored etag %q, want %q", ir.ETag, ib.ETag)
	}
}

// TestIfMatchEncoding: an UpdateQueue without IfMatch keeps the encoding it
// had before the field existed (so builds that predate it read it), and a
// present but empty optional field is refused.
func TestIfMatchEncoding(t *testing.T) {
	cfg := sampleConfig()
	var old encoder
	old.byte(entryVersion)
	old.varint(0)
	old.uvarint(1)
	var body encoder
	body.string("q")
	body.queueConfig(cfg)
	old.byte(byte(OpUpdateQueue))
	old.uvarint(uint64(len(body.buf)))
	old.buf = append(old.buf, body.buf...)
	got, err := EncodeEntry(Entry{Commands: []Command{UpdateQueue{Name: "q", Config: cfg}}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, old.buf) {
		t.Fatal("UpdateQueue without IfMatch encodes differently from before the field")
	}
	body.string("")
	var bad encoder
	bad.byte(entryVersion)
	bad.varint(0)
	bad.uvarint(1)
	bad.byte(byte(OpUpdateQueue))
	bad.uvarint(uint64(len(body.buf)))
	bad.buf = append(bad.buf, body.buf...)
	if _, err := DecodeEntry(bad.buf); err == nil {
		t.Fatal("an empty IfMatch present in the encoding was accepted")
	}
}
