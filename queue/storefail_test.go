package queue

import (
	"errors"
	"syscall"
	"testing"
)

// fullStores opens memory stores whose Append fails with ENOSPC once the
// store holds limit messages.
type fullStores struct{ limit int64 }

func (f fullStores) Open(QueueID) (Store, error) {
	return &fullStore{Store: NewMemoryStore(), limit: f.limit}, nil
}

type fullStore struct {
	Store
	limit int64
}

func (s *fullStore) Append(index uint64, m *Message) error {
	if s.Len() >= s.limit {
		return syscall.ENOSPC
	}
	return s.Store.Append(index, m)
}

// TestStoreFailureStopsState: a store that fails (ENOSPC) mid-entry stops
// the state instead of panicking the process: that entry gets no results
// and no events, Err says why, and later entries are not applied.
func TestStoreFailureStopsState(t *testing.T) {
	s := New(fullStores{limit: 3})
	create := DefaultQueueConfig()
	pub := func(n int) Entry {
		p := Publish{Queue: "q", Create: &create}
		for range n {
			p.Messages = append(p.Messages, &Message{Data: []byte(`1`)})
		}
		return Entry{Time: 1, Commands: []Command{p}}
	}
	if res, _ := s.Apply(1, pub(2)); len(res) != 1 || res[0].Err != nil {
		t.Fatalf("first publish: %+v", res)
	}
	res, events := s.Apply(2, pub(2))
	if res != nil || events != nil {
		t.Fatalf("failed entry returned results %+v, events %+v", res, events)
	}
	if err := s.Err(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Err() = %v, want ENOSPC", err)
	}
	if res, _ := s.Apply(3, pub(1)); res != nil {
		t.Fatalf("entry after the failure applied: %+v", res)
	}
	if s.AppliedIndex() != 2 {
		t.Fatalf("applied index %d, want 2 (the failed entry)", s.AppliedIndex())
	}
}
