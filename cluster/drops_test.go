package cluster

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/carriermq/carrier/queue"
)

// TestLimitDropsLoggedOncePerQueue: the first time a queue's limit drops
// messages the node logs it, with the limit; later drops of that queue are
// only counted; a queue deleted and created again is logged again.
func TestLimitDropsLoggedOncePerQueue(t *testing.T) {
	var buf bytes.Buffer
	f := memoryFSM(slog.New(slog.NewTextHandler(&buf, nil)))
	publish := func(n int) queue.Command {
		p := queue.Publish{Queue: "q"}
		for range n {
			p.Messages = append(p.Messages, &queue.Message{Event: "e", Data: []byte(`1`)})
		}
		return p
	}
	create := queue.CreateQueue{Name: "q", Config: queue.QueueConfig{MaxMessages: 2}}
	f.mu.Lock()
	for i, c := range []queue.Command{create, publish(5), publish(3), queue.DeleteQueue{Name: "q"}, create, publish(3)} {
		f.applyEntry(uint64(i+1), queue.Entry{Time: int64(i + 1), Commands: []queue.Command{c}})
	}
	f.mu.Unlock()
	lines := strings.Count(buf.String(), "limit dropped its oldest messages")
	if lines != 2 || !strings.Contains(buf.String(), "queue=q dropped=3 throughSeq=3") || !strings.Contains(buf.String(), "maxMessages=2") {
		t.Fatalf("%d warnings, want 2 (one per life of the queue):\n%s", lines, buf.String())
	}
	var info queue.QueueInfo
	f.view(func(s *queue.State) { info, _ = s.Queue("q") })
	if info.Dropped != 1 {
		t.Errorf("dropped = %d, want 1 after the queue was created again", info.Dropped)
	}
}
