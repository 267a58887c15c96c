package queue_test

import (
	"testing"

	"github.com/carriermq/carrier/queue"
	"github.com/carriermq/carrier/queue/storetest"
)

// TestMemoryStore runs the Store conformance suite against the in-memory
// store (queue/diskstore runs it against the disk store).
func TestMemoryStore(t *testing.T) {
	storetest.Run(t, storetest.Impl{New: func(*testing.T) queue.Store { return queue.NewMemoryStore() }})
}
