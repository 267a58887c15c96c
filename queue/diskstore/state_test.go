package diskstore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/carriermq/carrier/queue"
)

// applyT applies cmds as the entry at index and fails on a store failure
// or a rejected command.
func applyT(t *testing.T, s *queue.State, index uint64, cmds ...queue.Command) []queue.Result {
	t.Helper()
	res, _ := s.Apply(index, queue.Entry{Time: int64(index), Commands: cmds})
	if err := s.Err(); err != nil {
		t.Fatalf("entry %d: %v", index, err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("entry %d command %d: %v", index, i, r.Err)
		}
	}
	return res
}

func publishN(name string, n, size int) queue.Publish {
	p := queue.Publish{Queue: name}
	for range n {
		p.Messages = append(p.Messages, &queue.Message{Data: make([]byte, size)})
	}
	return p
}

// TestStateOnDisk runs the state machine on disk stores: retention by
// maxBytes gives disk space back in whole segment files, purge leaves one
// file, and deleting the queue removes its directory.
func TestStateOnDisk(t *testing.T) {
	root := t.TempDir()
	stores, err := New(root, Options{SegmentBytes: 4 << 10, CacheBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	s := queue.New(stores)
	cfg := queue.QueueConfig{MaxBytes: 8 << 10, MaxMessageSize: 1 << 10, Discard: queue.DiscardOld}
	applyT(t, s, 1, queue.CreateQueue{Name: "q", Config: cfg})
	dirs, _ := filepath.Glob(filepath.Join(root, "q~*"))
	if len(dirs) != 1 {
		t.Fatalf("queue directories %v, want one", dirs)
	}
	for i := uint64(2); i < 40; i++ {
		applyT(t, s, i, publishN("q", 10, 100))
	}
	info, _ := s.Queue("q")
	files := segFiles(t, dirs[0])
	if info.Bytes > 8<<10 || len(files) > 4 {
		t.Fatalf("after 380 publishes of 100 bytes with maxBytes 8 KiB: %d bytes stored in %d files", info.Bytes, len(files))
	}
	msgs, err := s.Read("q", info.FirstSeq, 1000)
	if err != nil || int64(len(msgs)) != info.Messages || msgs[0].Seq != info.FirstSeq {
		t.Fatalf("read back %d of %d messages: %v", len(msgs), info.Messages, err)
	}
	applyT(t, s, 40, queue.PurgeQueue{Name: "q"})
	if files := segFiles(t, dirs[0]); len(files) != 1 {
		t.Fatalf("after purge: %d files", len(files))
	}
	applyT(t, s, 41, queue.DeleteQueue{Name: "q"})
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Fatalf("queue directory after delete: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
