package gateway

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carriermq/carrier/queue"
)

// BenchmarkTailFanOut: one queue, K tails on one gateway, b.N messages of
// 1 KiB (binary, so base64 in every frame) appended in batches of 64;
// reports deliveries per second until every tail has received all of them.
// The tails are bare TCP connections that count frames, so the figures are
// the server's work. Run with:
//
//	go test ./gateway -run '^$' -bench TailFanOut -benchtime 2000x
func BenchmarkTailFanOut(b *testing.B) {
	for _, k := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("tails=%d", k), func(b *testing.B) { benchFanOut(b, k) })
	}
}

func benchFanOut(b *testing.B, tails int) {
	s := startServer(b, DefaultConfig())
	addr := strings.TrimPrefix(s.ts.URL, "http://")
	counts := make([]*frameCounter, tails)
	for i := range counts {
		c, err := rawUpgrade(addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		counts[i] = newFrameCounter(c)
		if err := rawSend(c, `{"type":"subscribe","queue":"fan","id":"s"}`); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, "tails subscribed", func() error { return allAtLeast(counts, func(f *frameCounter) int64 { return f.subscribed.Load() }, 1) })
	payload := bytes.Repeat([]byte{0xA5}, 1024)
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += 64 {
		msgs := make([]*queue.Message, min(64, b.N-sent))
		for i := range msgs {
			msgs[i] = &queue.Message{ID: fmt.Sprint(sent + i), Binary: true, Data: payload}
		}
		if _, err := s.node.Propose(context.Background(), queue.Publish{Queue: "fan", Messages: msgs}); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, "all delivered", func() error {
		return allAtLeast(counts, func(f *frameCounter) int64 { return f.messages.Load() }, int64(b.N))
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N*tails)/b.Elapsed().Seconds(), "deliveries/s")
}

func allAtLeast(fs []*frameCounter, get func(*frameCounter) int64, n int64) error {
	for i, f := range fs {
		if got := get(f); got < n {
			return fmt.Errorf("tail %d: %d of %d", i, got, n)
		}
	}
	return nil
}

// frameCounter reads a connection until it ends, counting message and
// subscribed frames by their type field.
type frameCounter struct {
	messages, subscribed atomic.Int64
}

func newFrameCounter(c net.Conn) *frameCounter {
	f := &frameCounter{}
	go func() {
		r := bufio.NewReaderSize(c, 64<<10)
		msgs, subs := counter(`"type":"message"`), counter(`"type":"subscribed"`)
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			f.messages.Add(msgs(buf[:n]))
			f.subscribed.Add(subs(buf[:n]))
			if err != nil {
				return
			}
		}
	}()
	return f
}

// counter counts pattern in a stream given chunk by chunk, including
// occurrences split across chunks.
func counter(pattern string) func([]byte) int64 {
	p := []byte(pattern)
	var tail []byte
	return func(chunk []byte) int64 {
		b := append(tail, chunk...)
		n := bytes.Count(b, p)
		tail = append([]byte(nil), b[max(0, len(b)-len(p)+1):]...)
		return int64(n)
	}
}

// rawSend writes one text frame (masked with a zero key).
func rawSend(c net.Conn, payload string) error {
	if err := c.SetWriteDeadline(time.Now().Add(waitTimeout)); err != nil {
		return err
	}
	_, err := c.Write(append([]byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...))
	return err
}
