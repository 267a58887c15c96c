package cluster

import (
	"errors"
	"io"
	"log/slog"
	"syscall"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
)

// fullStates opens stores whose Append fails with ENOSPC, as on a full disk.
type fullStates struct{}

func (fullStates) open() (queue.Stores, error) { return fullStores{}, nil }
func (fullStates) discard(queue.Stores) error  { return nil }

type fullStores struct{}

func (fullStores) Open(queue.QueueID) (queue.Store, error) {
	return fullStore{queue.NewMemoryStore()}, nil
}

type fullStore struct{ queue.Store }

func (fullStore) Append(uint64, *queue.Message) error { return syscall.ENOSPC }

// TestStoreFailureStopsApplying: when the message store fails (disk full),
// the FSM answers that entry and every later one with the error (the
// batcher turns it into ErrUnknownOutcome, never a confirmation), does not
// advance its applied index past the last good entry, and reports the
// failure once for the group to stop raft.
func TestStoreFailureStopsApplying(t *testing.T) {
	f, err := newFSM(fullStates{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := []*raft.Log{
		commandLog(t, 1, queue.CreateQueue{Name: "q"}),
		commandLog(t, 2, queue.Publish{Queue: "q", Messages: []*queue.Message{{ID: "a", Data: []byte("1")}}}),
		commandLog(t, 3, queue.CreateQueue{Name: "r"}),
	}
	out := f.ApplyBatch(logs)
	if _, ok := out[0].([]queue.Result); !ok {
		t.Fatalf("entry 1: %#v", out[0])
	}
	for i := 1; i < 3; i++ {
		if err, ok := out[i].(error); !ok || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("entry %d answered %#v, want the ENOSPC error", i+1, out[i])
		}
	}
	if got := f.applied.Load(); got != 1 {
		t.Fatalf("applied index %d, want 1", got)
	}
	select {
	case err := <-f.failed:
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("failure reported: %v", err)
		}
	default:
		t.Fatal("store failure not reported")
	}
	if _, err := f.Snapshot(); err == nil {
		t.Fatal("snapshot of a failed state accepted")
	}
}
