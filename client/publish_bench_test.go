package client_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
)

// BenchmarkPublishAsync is the whole publish path in one process: Go
// client → WebSocket → gateway → single-node Raft (fsync) → reply, with
// 1 KiB binary messages, P clients and a window of 256 each. A CPU profile
// of it (-cpuprofile) shows client, gateway and cluster costs together:
//
//	go test ./client -run '^$' -bench PublishAsync -benchtime 20000x -cpuprofile cpu.out
func BenchmarkPublishAsync(b *testing.B) {
	for _, pubs := range []int{1, 4} {
		b.Run(fmt.Sprintf("publishers=%d", pubs), func(b *testing.B) { benchPublishAsync(b, pubs) })
	}
}

func benchPublishAsync(b *testing.B, pubs int) {
	ts := newTestServer(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	payload := bytes.Repeat([]byte{0xA5}, 1024)
	clients := make([]*client.Client, pubs)
	for i := range clients {
		cl, err := client.Dial(ctx, []string{ts.URL()}, client.Options{PublishWindow: 256, Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		clients[i] = cl
	}
	if _, err := clients[0].Publish(ctx, "bench", client.Message{Binary: payload}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	errs := make(chan error, pubs)
	for i, cl := range clients {
		share := b.N / pubs
		if i == 0 {
			share += b.N % pubs
		}
		go func() { errs <- publishN(cl, share, payload) }()
	}
	for range clients {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// publishN publishes n messages with PublishAsync and waits for them all.
func publishN(cl *client.Client, n int, payload []byte) error {
	futures := make(chan *client.PublishFuture, 256)
	go func() {
		defer close(futures)
		for range n {
			futures <- cl.PublishAsync("bench", client.Message{Event: "b", Binary: payload})
		}
	}()
	var first error
	for f := range futures {
		if _, err := f.Wait(context.Background()); err != nil && first == nil {
			first = err
		}
	}
	return first
}
