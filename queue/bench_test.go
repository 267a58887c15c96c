package queue

import (
	"fmt"
	"io"
	"testing"
)

// publishBatch is 256 messages of 1 KiB with ids, as a gateway would batch.
func publishBatch(queue string, round int) Publish {
	p := Publish{Queue: queue, Messages: make([]*Message, 256)}
	data := make([]byte, 1024)
	for i := range p.Messages {
		p.Messages[i] = &Message{ID: fmt.Sprintf("r%d-%d", round, i), Event: "pickup", Data: data,
			Headers: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	}
	return p
}

// BenchmarkApplyPublish applies one Publish of 256 × 1 KiB per op. The
// queue reaches MaxBytes (64 MiB) after about 250 ops, so the steady state
// includes discarding the oldest messages; groups have members that fill
// up and then only cost the group loop.
func BenchmarkApplyPublish(b *testing.B) {
	for _, groups := range []int{0, 2, 20} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			s := New(nil)
			setup := []Command{CreateQueue{Name: "q"}}
			for g := 0; g < groups; g++ {
				setup = append(setup, Join{Queue: "q", Group: fmt.Sprintf("g%d", g), Member: MemberRef{ID: "m"}})
			}
			s.Apply(1, Entry{Time: 1, Commands: setup})
			batches := make([]Publish, 64)
			for i := range batches {
				batches[i] = publishBatch("q", i)
			}
			b.SetBytes(256 * 1024)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Entries 3 minutes apart: ids never collide with the dedup window.
				t := int64(i+2) * 180e9
				s.Apply(uint64(i+2), Entry{Time: t, Commands: []Command{batches[i%len(batches)]}})
			}
			b.ReportMetric(float64(b.N*256)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkApplyAck acks 100 delivered seqs per op; the redelivery work
// that refills the member (a publish of 100) runs with the timer stopped.
func BenchmarkApplyAck(b *testing.B) {
	s := New(nil)
	s.Apply(1, Entry{Time: 1, Commands: []Command{
		CreateQueue{Name: "q"},
		Join{Queue: "q", Group: "g", Member: MemberRef{ID: "m"}, Config: GroupConfig{MaxInFlight: MaxInFlightLimit}},
	}})
	msgs := make([]*Message, 100)
	for i := range msgs {
		msgs[i] = &Message{Event: "e", Data: []byte("{}")}
	}
	index := uint64(1)
	publish := func() {
		index++
		s.Apply(index, Entry{Time: int64(index), Commands: []Command{Publish{Queue: "q", Messages: msgs}}})
	}
	for i := 0; i < 50; i++ {
		publish() // 5,000 unacked in flight
	}
	next := uint64(1)
	seqs := make([]uint64, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range seqs {
			seqs[j] = next
			next++
		}
		index++
		r, _ := s.Apply(index, Entry{Time: int64(index), Commands: []Command{Ack{Queue: "q", Group: "g", Member: "m", Seqs: seqs}}})
		if r[0].Err != nil || r[0].Count != 100 {
			b.Fatalf("ack: %+v", r[0])
		}
		b.StopTimer()
		publish()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/seq")
}

// BenchmarkEncodeDecodeEntry encodes and decodes one Publish of 256 × 1 KiB.
func BenchmarkEncodeDecodeEntry(b *testing.B) {
	e := Entry{Time: 1700000000000000000, Commands: []Command{publishBatch("orders", 0)}}
	enc, _ := EncodeEntry(e)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf, err := EncodeEntry(e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeEntry(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshot captures and writes a state of 64 MiB of messages.
func BenchmarkSnapshot(b *testing.B) {
	s := New(nil)
	s.Apply(1, Entry{Time: 1, Commands: []Command{CreateQueue{Name: "q"}}})
	for i := 0; i < 256; i++ {
		s.Apply(uint64(i+2), Entry{Time: int64(i+2) * 180e9, Commands: []Command{publishBatch("q", i)}})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, err := s.Snapshot().WriteTo(io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(n)
	}
}
