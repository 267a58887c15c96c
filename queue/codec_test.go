package queue

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var writeSeeds = flag.Bool("seeds", false, "rewrite the fuzz seed corpora in testdata/fuzz from real encodings")

func sampleConfig() QueueConfig {
	return QueueConfig{
		Retention: RetentionWorkqueue, MaxMessages: 10, MaxBytes: 1 << 20, MaxAge: time.Hour,
		MaxMessageSize: 1024, Discard: DiscardNew, DedupWindow: time.Minute, MaxDeadLetters: 7,
		Group: GroupConfig{AckWait: 5 * time.Second, MaxDeliver: 3, MaxInFlight: 2,
			Start: Position{Kind: FromTime, Seq: 4, Time: -12345}},
	}
}

// sampleCommands has every op with every field set to a non-zero value.
func sampleCommands() []Command {
	cfg := sampleConfig()
	msgs := []*Message{
		{Seq: 9, ID: "a", Event: "pickup", Data: []byte(`{"x":1}`), Headers: map[string]string{"traceparent": "00-1", "b": ""}, Time: 77, DeliverAt: 99},
		{Event: "bin", Data: []byte{0, 1, 255}, Binary: true},
		{},
	}
	return []Command{
		CreateQueue{Name: "q", Config: cfg, MaxQueues: 100},
		UpdateQueue{Name: "q", Config: cfg},
		UpdateQueue{Name: "q", Config: cfg, IfMatch: "0123456789abcdef"},
		DeleteQueue{Name: "q"},
		PurgeQueue{Name: "q"},
		Publish{Queue: "q", Create: &cfg, MaxQueues: -1, MaxTotalBytes: 1 << 30, Messages: msgs},
		Publish{Queue: "q2"},
		Join{Queue: "q", Group: "g", Member: MemberRef{ID: "m", Node: "n", Session: "s"}, Config: cfg.Group},
		Leave{Queue: "q", Group: "g", Member: "m"},
		Ack{Queue: "q", Group: "g", Member: "m", Seqs: []uint64{1, 1 << 63, 3}},
		Nack{Queue: "q", Group: "g", Member: "m", Seqs: []uint64{4}, Delay: -time.Second},
		Tick{},
		Redrive{Queue: "q", DLSeqs: []uint64{5, 6}},
		ResetNode{Node: "n", Keep: "s"},
		CreateGroup{Queue: "q", Group: "g", Config: cfg.Group},
		DeleteGroup{Queue: "q", Group: "g"},
		UpdateGroup{Queue: "q", Group: "g", Config: cfg.Group, IfMatch: "fedcba9876543210"},
		UpdateGroup{Queue: "q", Group: "g"},
	}
}

func TestEntryRoundTrip(t *testing.T) {
	cmds := sampleCommands()
	ops := map[Op]bool{}
	for _, c := range cmds {
		ops[c.Op()] = true
		t.Run(fmt.Sprintf("%T", c), func(t *testing.T) {
			e := Entry{Time: -5, Commands: []Command{c}}
			if got := roundTrip(t, e); !reflect.DeepEqual(got, e) {
				t.Fatalf("got %+v, want %+v", got, e)
			}
		})
	}
	for op := OpCreateQueue; op <= OpUpdateGroup; op++ {
		if !ops[op] {
			t.Errorf("op %d has no round-trip case", op)
		}
	}
	all := Entry{Time: 1 << 62, Commands: cmds}
	if got := roundTrip(t, all); !reflect.DeepEqual(got, all) {
		t.Fatal("entry with every op differs after a round trip")
	}
	if got := roundTrip(t, Entry{}); !reflect.DeepEqual(got, Entry{}) {
		t.Fatalf("empty entry: got %+v", got)
	}
}

// TestEncodePointers checks that pointers to commands encode like values.
func TestEncodePointers(t *testing.T) {
	cfg := sampleConfig()
	vals := []Command{CreateQueue{Name: "q", Config: cfg}, Publish{Queue: "q"}, Tick{}, Ack{Queue: "q", Seqs: []uint64{1}}}
	ptrs := []Command{&CreateQueue{Name: "q", Config: cfg}, &Publish{Queue: "q"}, &Tick{}, &Ack{Queue: "q", Seqs: []uint64{1}}}
	a, err := EncodeEntry(Entry{Commands: vals})
	if err != nil {
		t.Fatal(err)
	}
	b, err := EncodeEntry(Entry{Commands: ptrs})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("pointer commands encode differently")
	}
}

type alienCommand struct{}

func (alienCommand) Op() Op { return 200 }

func TestEncodeErrors(t *testing.T) {
	cases := map[string]Command{
		"nil":         nil,
		"nil pointer": (*Ack)(nil),
		"nil message": Publish{Queue: "q", Messages: []*Message{nil}},
		"alien":       alienCommand{},
	}
	for name, c := range cases {
		if _, err := EncodeEntry(Entry{Commands: []Command{c}}); err == nil {
			t.Errorf("%s: encoded without error", name)
		}
	}
}

// TestHeadersEncodeSorted checks that maps are encoded in key order, so
// equal entries always give equal bytes.
func TestHeadersEncodeSorted(t *testing.T) {
	h := map[string]string{}
	for i := 0; i < 50; i++ {
		h[fmt.Sprintf("k%02d", i)] = "v"
	}
	first, _ := EncodeEntry(Entry{Commands: []Command{Publish{Queue: "q", Messages: []*Message{{Headers: h}}}}})
	for i := 0; i < 20; i++ {
		again, _ := EncodeEntry(Entry{Commands: []Command{Publish{Queue: "q", Messages: []*Message{{Headers: h}}}}})
		if !bytes.Equal(first, again) {
			t.Fatal("header encoding depends on map order")
		}
	}
}

func mustEncode(t testing.TB, cmds ...Command) []byte {
	t.Helper()
	b, err := EncodeEntry(Entry{Time: 3, Commands: cmds})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeMalformed(t *testing.T) {
	valid := mustEncode(t, sampleCommands()...)
	ack := mustEncode(t, Ack{Queue: "q", Group: "g", Member: "m", Seqs: []uint64{1}})
	cases := map[string][]byte{
		"empty":            {},
		"version 0":        {0, 0, 0},
		"version 2":        append([]byte{2}, valid[1:]...),
		"unknown op 0":     {1, 6, 1, 0, 0},
		"unknown op 15":    {1, 6, 1, 15, 0},
		"unknown op 255":   {1, 6, 1, 255, 0},
		"trailing":         append(bytes.Clone(valid), 0),
		"count too large":  {1, 6, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"body too long":    {1, 6, 1, byte(OpTick), 5},
		"tick with body":   {1, 6, 1, byte(OpTick), 1, 0},
		"bad varint":       {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"string too long":  {1, 6, 1, byte(OpDeleteQueue), 2, 0x7f, 'q'},
		"bad bool":         badBool(t),
		"unsorted headers": unsortedHeaders(t),
		"short body":       shortBody(t, ack),
	}
	for name, b := range cases {
		if _, err := DecodeEntry(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: got %v, want a malformed error", name, err)
		}
	}
	for i := 0; i < len(valid); i++ {
		if _, err := DecodeEntry(valid[:i]); err == nil {
			t.Fatalf("prefix of %d bytes decoded without error", i)
		}
	}
}

// badBool is a Publish whose "create" flag is 2.
func badBool(t *testing.T) []byte {
	b := mustEncode(t, Publish{Queue: "q"})
	i := bytes.IndexByte(b, 'q')
	b[i+1] = 2
	return b
}

// unsortedHeaders swaps the encoded header keys "a" and "b".
func unsortedHeaders(t *testing.T) []byte {
	b := mustEncode(t, Publish{Queue: "q", Messages: []*Message{{Headers: map[string]string{"a": "1", "b": "2"}}}})
	i := bytes.Index(b, []byte("\x01a\x011\x01b\x012"))
	copy(b[i:], "\x01b\x011\x01a\x012")
	return b
}

// shortBody shrinks the body length of a one-command entry by one and drops
// the last byte, so the body itself is truncated.
func shortBody(t *testing.T, b []byte) []byte {
	b = bytes.Clone(b[:len(b)-1])
	b[4]--
	return b
}

func FuzzDecodeEntry(f *testing.F) {
	for _, c := range sampleCommands() {
		f.Add(mustEncode(f, c))
	}
	f.Add(mustEncode(f, sampleCommands()...))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEntry(b)
		if err != nil {
			return
		}
		again, err := EncodeEntry(e)
		if err != nil {
			t.Fatalf("re-encode of a decoded entry: %v", err)
		}
		e2, err := DecodeEntry(again)
		if err != nil {
			t.Fatalf("decode of a re-encoded entry: %v", err)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("decode(encode(decode(b))) differs:\n%+v\n%+v", e, e2)
		}
		// Applying whatever decodes must not panic either.
		s := New(nil)
		s.Apply(1, e)
		if err := checkInvariants(s); err != nil {
			t.Fatal(err)
		}
	})
}

// TestWriteSeeds rewrites the committed seed corpora when run with -seeds.
func TestWriteSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -seeds to rewrite testdata/fuzz")
	}
	for i, c := range sampleCommands() {
		writeSeed(t, "FuzzDecodeEntry", fmt.Sprintf("op-%02d-%s", i, reflect.TypeOf(c).Name()), mustEncode(t, c))
	}
	writeSeed(t, "FuzzDecodeEntry", "all-ops", mustEncode(t, sampleCommands()...))
	for i, seed := range []uint64{5, 6} {
		writeSeed(t, "FuzzRestore", fmt.Sprintf("random-%d", i), snapshotBody(t, randomState(t, seed, 150)))
	}
	writeSeed(t, "FuzzRestore", "empty", snapshotBody(t, New(nil)))
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

func TestMessageRoundTrip(t *testing.T) {
	m := &Message{Seq: 9, ID: "a", Event: "e", Data: []byte(`{"x":1}`), Binary: true,
		Headers: map[string]string{"b": "2", "a": "1"}, Time: -3, DeliverAt: 77}
	b := AppendMessage([]byte("prefix"), m)
	got, err := DecodeMessage(b[len("prefix"):])
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, m)
	}
	for n := range len(b) - len("prefix") {
		if _, err := DecodeMessage(b[len("prefix") : len("prefix")+n]); err == nil {
			t.Fatalf("prefix of %d bytes decoded", n)
		}
	}
	if _, err := DecodeMessage(append(b[len("prefix"):len(b):len(b)], 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}
