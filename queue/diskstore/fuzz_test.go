package diskstore

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/carriermq/carrier/queue"
)

var writeSeeds = flag.Bool("seeds", false, "rewrite the fuzz seed corpus in testdata/fuzz")

// FuzzDecodeRecord: any bytes decode to a record or fail with errTorn or
// errCorrupt, never panic; a decoded record encodes to bytes that decode
// to the same record.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendMsgRecord(nil, 3, fullMsg(7)))
	f.Add(appendDropRecord(nil, 4, 9))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, errTorn) && !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v is neither torn nor corrupt", err)
			}
			return
		}
		if n > len(b) || n < headerLen+minBodyLen {
			t.Fatalf("decoded %d bytes of %d", n, len(b))
		}
		var again []byte
		if r.kind == kindMsg {
			again = appendMsgRecord(nil, r.index, r.msg)
		} else {
			again = appendDropRecord(nil, r.index, r.seq)
		}
		r2, _, err := decodeRecord(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("re-encoded record %+v decodes to %+v, %v", r, r2, err)
		}
	})
}

// FuzzOpenSegment: a store whose only segment holds any bytes opens (the
// newest segment's bad tail is cut) or fails with ErrDamaged, never
// panics; an opened store reads back every message it counts and takes
// the next append.
func FuzzOpenSegment(f *testing.F) {
	for _, seed := range segmentSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{})
		if err != nil {
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("open: %v, want ErrDamaged", err)
			}
			return
		}
		defer s.Close()
		msgs, err := s.Read(0, int(s.Len())+1)
		if err != nil || int64(len(msgs)) != s.Len() {
			t.Fatalf("read %d of %d messages: %v", len(msgs), s.Len(), err)
		}
		if err := s.Append(s.Applied()+1, &queue.Message{Seq: s.LastSeq() + 1}); err != nil {
			t.Fatalf("append after open: %v", err)
		}
	})
}

func fullMsg(seq uint64) *queue.Message {
	return &queue.Message{Seq: seq, ID: "id", Event: "ev", Data: []byte(`{"a":1}`), Binary: true,
		Headers: map[string]string{"traceparent": "00-1"}, Time: 5, DeliverAt: 6}
}

// segmentSeeds are real segment files: messages, a drop, a torn tail.
func segmentSeeds() [][]byte {
	b := []byte(magic)
	for seq := uint64(1); seq <= 3; seq++ {
		b = appendMsgRecord(b, seq, fullMsg(seq))
	}
	withDrop := appendDropRecord(append([]byte(nil), b...), 4, 2)
	return [][]byte{[]byte(magic), b, withDrop, withDrop[:len(withDrop)-3]}
}

func TestWriteSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -seeds to rewrite testdata/fuzz")
	}
	writeSeed(t, "FuzzDecodeRecord", "message", appendMsgRecord(nil, 3, fullMsg(7)))
	writeSeed(t, "FuzzDecodeRecord", "drop", appendDropRecord(nil, 4, 9))
	for i, seed := range segmentSeeds() {
		writeSeed(t, "FuzzOpenSegment", fmt.Sprintf("segment-%d", i), seed)
	}
}

func writeSeed(t *testing.T, target, name string, b []byte) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
