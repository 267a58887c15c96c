package diskstore

import (
	"testing"

	"github.com/carriermq/carrier/queue"
)

func benchMsg(seq uint64) *queue.Message {
	return &queue.Message{Seq: seq, ID: "bench-id-0123456789", Event: "e", Data: make([]byte, 1024), Time: int64(seq)}
}

// BenchmarkAppend appends 1 KiB messages, dropping the oldest segment's
// worth now and then (retention), as a steady queue does.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(1024)
	b.ReportAllocs()
	for i := range b.N {
		seq := uint64(i + 1)
		if err := s.Append(seq, benchMsg(seq)); err != nil {
			b.Fatal(err)
		}
		if seq%100000 == 0 {
			if _, err := s.DropThrough(seq, seq-50000); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReadFiles reads 1 KiB messages back in order from the files
// (the cache holds only the newest), 100 per call as a replay does.
func BenchmarkReadFiles(b *testing.B) {
	s, err := Open(b.TempDir(), Options{CacheBytes: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 50000
	for seq := uint64(1); seq <= n; seq++ {
		if err := s.Append(seq, benchMsg(seq)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(1024 * 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		from := uint64(i*100)%(n-100) + 1
		if msgs, err := s.Read(from, 100); err != nil || len(msgs) != 100 {
			b.Fatal(len(msgs), err)
		}
	}
}

// BenchmarkAppendDropOldest is a full queue with discard old: every append
// drops the oldest message (the steady state of a bounded queue).
func BenchmarkAppendDropOldest(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const keep = 20000
	for seq := uint64(1); seq <= keep; seq++ {
		if err := s.Append(seq, benchMsg(seq)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		seq := uint64(keep + i + 1)
		if _, err := s.DropThrough(seq, s.FirstSeq()); err != nil {
			b.Fatal(err)
		}
		if err := s.Append(seq, benchMsg(seq)); err != nil {
			b.Fatal(err)
		}
	}
}
