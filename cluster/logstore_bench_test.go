package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb"
)

// logStoreUnderTest is a log store candidate opened in a fresh directory.
type logStoreUnderTest struct {
	name string
	open func(dir string) (raft.LogStore, io.Closer, error)
}

func logStoreCandidates() []logStoreUnderTest {
	return []logStoreUnderTest{
		{name: "wal", open: func(dir string) (raft.LogStore, io.Closer, error) {
			w, err := openLogStore(dir, 0, newHCLogger(slog.Default(), slog.LevelWarn, "wal"))
			return w, w, err
		}},
		{name: "bolt", open: func(dir string) (raft.LogStore, io.Closer, error) {
			// NoSync false: bolt fsyncs every transaction, one per StoreLogs.
			s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), NoSync: false})
			return s, s, err
		}},
	}
}

// BenchmarkLogStore measures sequential StoreLogs calls of batches of 1 and
// of 64 entries of 1 KiB with fsync on, for each candidate log store. One op
// is one StoreLogs call, that is one fsync; appends/s is ops per second and
// entries/s what that buys. Run with:
//
//	go test ./cluster -run '^$' -bench LogStore -benchtime 2s
func BenchmarkLogStore(b *testing.B) {
	for _, c := range logStoreCandidates() {
		for _, n := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/batch=%d", c.name, n), func(b *testing.B) {
				benchStoreLogs(b, c, n)
			})
		}
	}
}

func benchStoreLogs(b *testing.B, c logStoreUnderTest, n int) {
	store, closer, err := c.open(b.TempDir())
	if err != nil {
		b.Fatalf("open %s: %v", c.name, err)
	}
	defer closer.Close()
	payload := make([]byte, 1024)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	logs := make([]*raft.Log, n)
	next := uint64(1)
	b.SetBytes(int64(n * len(payload)))
	b.ResetTimer()
	for range b.N {
		for j := range logs {
			logs[j] = &raft.Log{Index: next, Term: 1, Type: raft.LogCommand, Data: payload}
			next++
		}
		if err := store.StoreLogs(logs); err != nil {
			b.Fatalf("store logs: %v", err)
		}
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/secs, "appends/s")
	b.ReportMetric(float64(b.N*n)/secs, "entries/s")
}
