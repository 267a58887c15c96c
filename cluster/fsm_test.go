package cluster

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
)

func newTestFSM() *fsm {
	return memoryFSM(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// memoryFSM is an FSM with in-memory stores, which cannot fail to open.
func memoryFSM(log *slog.Logger) *fsm {
	f, err := newFSM(nil, log, nil)
	if err != nil {
		panic(err)
	}
	return f
}

// commandLog encodes an entry as raft would hand it to the FSM.
func commandLog(t *testing.T, index uint64, cmds ...queue.Command) *raft.Log {
	t.Helper()
	data, err := queue.EncodeEntry(queue.Entry{Time: int64(index) * 1e9, Commands: cmds})
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

func TestDecodeLogRejectsGarbage(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{name: "empty", data: nil},
		{name: "garbage", data: []byte("\xff\xfe not an entry")},
		{name: "unknown version", data: []byte{0xee, 0, 0, 0, 0, 0, 0, 0, 0, 1, 99}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeLog(&raft.Log{Index: 7, Type: raft.LogCommand, Data: tc.data}); err == nil {
				t.Fatalf("decodeLog(%q) succeeded", tc.data)
			}
		})
	}
}

// TestApplyBatchRefusesUndecodable checks that the FSM stops (panics)
// instead of skipping an entry, and applies nothing of that batch.
func TestApplyBatchRefusesUndecodable(t *testing.T) {
	f := newTestFSM()
	good := commandLog(t, 1, queue.CreateQueue{Name: "q"})
	bad := &raft.Log{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("garbage")}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("ApplyBatch with an undecodable log did not panic")
			}
		}()
		f.ApplyBatch([]*raft.Log{good, bad})
	}()
	if got := f.applied.Load(); got != 0 {
		t.Errorf("applied index = %d after a refused batch, want 0", got)
	}
	f.view(func(s *queue.State) {
		if qs := s.Queues(); len(qs) != 0 {
			t.Errorf("queues = %+v after a refused batch, want none", qs)
		}
	})
}

func TestApplyBatchResultsAndObservers(t *testing.T) {
	f := newTestFSM()
	first, second := &eventLog{}, &eventLog{}
	f.observe(first)
	cancel := f.observe(second)
	logs := []*raft.Log{
		commandLog(t, 1, queue.CreateQueue{Name: "q"}),
		{Index: 2, Term: 1, Type: raft.LogConfiguration},
		commandLog(t, 3, queue.Publish{Queue: "q", Messages: []*queue.Message{{ID: "a", Data: []byte("1")}}},
			queue.Publish{Queue: "nope", Messages: []*queue.Message{{ID: "b", Data: []byte("1")}}}),
	}
	out := f.ApplyBatch(logs)
	if len(out) != 3 || out[1] != nil {
		t.Fatalf("responses = %#v", out)
	}
	res, ok := out[2].([]queue.Result)
	if !ok || len(res) != 2 || res[0].Err != nil || queue.CodeOf(res[1].Err) != queue.CodeQueueNotFound {
		t.Fatalf("results of entry 3 = %#v", out[2])
	}
	if got := f.applied.Load(); got != 3 {
		t.Errorf("applied index = %d, want 3", got)
	}
	if f.entries.Load() != 2 || f.commands.Load() != 3 {
		t.Errorf("entries, commands = %d, %d; want 2, 3", f.entries.Load(), f.commands.Load())
	}
	if !slices.EqualFunc(first.events, second.events, sameEvent) || len(first.events) == 0 {
		t.Errorf("observers saw %d and %d events", len(first.events), len(second.events))
	}
	cancel()
	cancel()
	seen := len(second.events)
	f.ApplyBatch([]*raft.Log{commandLog(t, 4, queue.Publish{Queue: "q", Messages: []*queue.Message{{ID: "c", Data: []byte("1")}}})})
	if len(second.events) != seen || len(first.events) == seen {
		t.Errorf("after cancel: canceled observer %d→%d events, other %d", seen, len(second.events), len(first.events))
	}
}

func sameEvent(a, b queue.Event) bool {
	return a.Kind == b.Kind && a.Queue == b.Queue && a.Seq == b.Seq && a.Member == b.Member
}

// TestSnapshotRestore persists a snapshot through raft's file snapshot
// store and restores it into a fresh FSM.
func TestSnapshotRestore(t *testing.T) {
	f := newTestFSM()
	f.ApplyBatch([]*raft.Log{
		commandLog(t, 1, queue.CreateQueue{Name: "q"}),
		commandLog(t, 2, queue.Publish{Queue: "q", Messages: []*queue.Message{{ID: "a", Data: []byte("1")}}}),
	})
	store, err := raft.NewFileSnapshotStoreWithLogger(t.TempDir(), 1, newHCLogger(slog.New(slog.NewTextHandler(io.Discard, nil)), slog.LevelWarn, ""))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink, err := store.Create(raft.SnapshotVersionMax, 2, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("persist: %v", err)
	}
	_, rc, err := store.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	restored := newTestFSM()
	restoreEvents := &restoreLog{}
	restored.observe(restoreEvents)
	if err := restored.Restore(rc); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if restored.applied.Load() != 2 || restoreEvents.restores != 1 {
		t.Errorf("applied = %d, restores seen = %d; want 2, 1", restored.applied.Load(), restoreEvents.restores)
	}
	restored.view(func(s *queue.State) {
		msgs, err := s.Read("q", 1, 10)
		if err != nil || len(msgs) != 1 || msgs[0].ID != "a" {
			t.Errorf("restored messages = %v, %v", msgs, err)
		}
	})
}

func TestRestoreKeepsStateOnError(t *testing.T) {
	f := newTestFSM()
	f.ApplyBatch([]*raft.Log{commandLog(t, 1, queue.CreateQueue{Name: "q"})})
	if err := f.Restore(io.NopCloser(&garbageReader{})); err == nil {
		t.Fatal("restore of garbage succeeded")
	}
	f.view(func(s *queue.State) {
		if _, err := s.Queue("q"); err != nil {
			t.Errorf("state lost after a failed restore: %v", err)
		}
	})
}

type garbageReader struct{ done bool }

func (g *garbageReader) Read(p []byte) (int, error) {
	if g.done {
		return 0, io.EOF
	}
	g.done = true
	return copy(p, "this is not a snapshot"), nil
}

// restoreLog is a RestoreObserver counting restores.
type restoreLog struct {
	eventLog
	restores int
}

func (r *restoreLog) OnRestore() { r.restores++ }
