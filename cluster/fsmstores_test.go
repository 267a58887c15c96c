package cluster

import (
	"context"
	"errors"
	"fmt"
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

// fullAfter opens memory stores that take limit messages in all and then
// fail every Append with ENOSPC, as a disk that fills up.
type fullAfter struct{ left *int }

func (f fullAfter) open() (queue.Stores, error) { return f, nil }
func (fullAfter) discard(queue.Stores) error    { return nil }
func (f fullAfter) Open(queue.QueueID) (queue.Store, error) {
	return fillingStore{Store: queue.NewMemoryStore(), left: f.left}, nil
}

type fillingStore struct {
	queue.Store
	left *int
}

func (s fillingStore) Append(index uint64, m *queue.Message) error {
	if *s.left == 0 {
		return syscall.ENOSPC
	}
	*s.left--
	return s.Store.Append(index, m)
}

// TestStoreFullFailStops: on a real node, a publish whose entry the store
// cannot apply gets ErrUnknownOutcome (never a confirmation); the node
// stops raft, Failed delivers ErrStoreFailed and Ready reports it.
func TestStoreFullFailStops(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	left := 5
	cfg.stores = fullAfter{left: &left}
	n := startNode(t, cfg)
	mustPropose(t, n, queue.CreateQueue{Name: "q"})
	for i := range 5 {
		publishOne(t, n, "q", fmt.Sprintf("m%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, err := n.Propose(ctx, queue.Publish{Queue: "q", Messages: []*queue.Message{{ID: "full", Data: []byte("1")}}})
	if !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("publish on a full store: %v, want ErrUnknownOutcome with ENOSPC", err)
	}
	select {
	case err := <-n.Failed():
		if !errors.Is(err, ErrStoreFailed) {
			t.Fatalf("Failed: %v, want ErrStoreFailed", err)
		}
	case <-ctx.Done():
		t.Fatal("the node did not fail-stop")
	}
	if err := n.Ready(); !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("Ready: %v, want ErrStoreFailed", err)
	}
}
