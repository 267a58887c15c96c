package diskstore

import (
	"github.com/carriermq/carrier/queue"
	"sync"
	"testing"
)

// TestReadersBesideCapture follows the state's locking (cluster/fsm.go):
// appends and drops under the write lock; reads and Capture (which
// flushes) under the read lock, concurrently with each other; the views
// read from another goroutine while appends go on. Run with -race.
func TestReadersBesideCapture(t *testing.T) {
	s := openT(t, t.TempDir(), Options{SegmentBytes: 4 << 10, CacheBytes: 512})
	defer closeT(t, s)
	var mu sync.RWMutex
	var wg sync.WaitGroup
	stop := make(chan struct{})
	read := func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.RLock()
			if first := s.FirstSeq(); first != 0 {
				if _, err := s.Read(first, 50); err != nil {
					t.Error(err)
				}
				if _, err := s.Get(s.LastSeq()); err != nil {
					t.Error(err)
				}
			}
			mu.RUnlock()
		}
	}
	wg.Add(2)
	go read()
	go read()
	for seq := uint64(1); seq <= 2000; seq++ {
		mu.Lock()
		if err := s.Append(seq, msg(seq)); err != nil {
			t.Fatal(err)
		}
		if seq%100 == 0 {
			if _, err := s.DropThrough(seq, seq-50); err != nil {
				t.Fatal(err)
			}
		}
		mu.Unlock()
		if seq%250 == 0 {
			mu.RLock()
			v := s.Capture()
			mu.RUnlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer v.Close()
				n := int64(0)
				if err := v.Each(func(*queue.Message) error { n++; return nil }); err != nil || n != v.Len() {
					t.Errorf("view read %d of %d: %v", n, v.Len(), err)
				}
			}()
		}
	}
	close(stop)
	wg.Wait()
}
