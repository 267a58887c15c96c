package diskstore

import (
	"testing"

	"github.com/carriermq/carrier/queue"
	"github.com/carriermq/carrier/queue/storetest"
)

// small makes segments and the cache small, so that the suite crosses
// segment boundaries, evicts from the cache and reads from the files.
var small = Options{SegmentBytes: 256, CacheBytes: 1}

func openT(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	for name, opts := range map[string]Options{"defaults": {}, "small segments": small} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, storetest.Impl{
				New: func(t *testing.T) queue.Store { return openT(t, t.TempDir(), opts) },
				Reopen: func(t *testing.T, s queue.Store) queue.Store {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					return openT(t, s.(*Store).dir, opts)
				},
			})
		})
	}
}
