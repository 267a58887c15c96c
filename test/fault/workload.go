package faulttest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/test/checker"
	clustertest "github.com/carriermq/carrier/test/cluster"
)

// Readers of every queue of the workload.
const (
	readerGroup   = "group"   // a consumer group with a member on each of two nodes
	readerOrdered = "ordered" // a group with one member and maxInFlight 1: must see seqs in order
	readerTail    = "tail"    // a tail from the first seq: must see every seq once, in order
)

var readers = []string{readerGroup, readerOrdered, readerTail}

// workload publishes to several queues through every node and reads each
// queue three ways, recording everything in one checker.History per queue.
// Every goroutine and client it starts, stop ends.
type workload struct {
	queues    []string
	hist      map[string]*checker.History
	producers []*clustertest.Producer
	readers   []*reader
}

// maxPublishes bounds each producer's loop. It must outlast the longest
// soak: with the old default of 100,000 a weighted 60-minute soak had its
// six producers finish after 33 minutes (about 98,000 confirmed each), and
// the next recovery then failed with "load not flowing" while the cluster
// was healthy.
const maxPublishes = 20_000_000

// startWorkload starts, for each queue, one producer through each node
// (each client also knows the other nodes, preferring its own) and the
// three readers on different nodes.
func startWorkload(ctx context.Context, c *clustertest.Cluster, queues []string, every time.Duration) (*workload, error) {
	w := &workload{queues: queues, hist: map[string]*checker.History{}}
	urls := c.URLs()
	for qi, q := range queues {
		h := checker.NewHistory()
		w.hist[q] = h
		for i, n := range c.Nodes() {
			p, err := clustertest.StartProducer(ctx, fmt.Sprintf("%s-p%s", q, n.ID), q, rotate(urls, i), h,
				clustertest.ProducerOptions{Every: every, Timeout: 10 * time.Second, Max: maxPublishes, TLS: c.ClientTLS()})
			if err != nil {
				w.stop()
				return nil, err
			}
			w.producers = append(w.producers, p)
		}
		if err := w.startReaders(ctx, q, h, urls, c.ClientTLS(), qi); err != nil {
			w.stop()
			return nil, err
		}
	}
	return w, nil
}

// startReaders puts the group's two members on nodes qi and qi+1, the
// ordered member on qi+2 and the tail on qi+1 (mod the cluster size).
func (w *workload) startReaders(ctx context.Context, q string, h *checker.History, urls []string, tc *tls.Config, qi int) error {
	specs := []struct {
		name string
		node int
		opts client.SubOptions
	}{
		{readerGroup, qi, client.SubOptions{Group: readerGroup, MaxInFlight: 64, AckWait: 5 * time.Second, Buffer: 512}},
		{readerGroup, qi + 1, client.SubOptions{Group: readerGroup, MaxInFlight: 64, AckWait: 5 * time.Second, Buffer: 512}},
		{readerOrdered, qi + 2, client.SubOptions{Group: readerOrdered, MaxInFlight: 1, AckWait: 5 * time.Second}},
		{readerTail, qi + 1, client.SubOptions{From: "first", Buffer: 1024}},
	}
	for _, s := range specs {
		r, err := startReader(ctx, q, s.name, rotate(urls, s.node%len(urls)), tc, h, s.opts)
		if err != nil {
			return err
		}
		w.readers = append(w.readers, r)
	}
	return nil
}

// rotate returns s starting at index i.
func rotate(s []string, i int) []string {
	return append(append([]string(nil), s[i:]...), s[:i]...)
}

// stopProducers ends every producer after its current publish.
func (w *workload) stopProducers() {
	for _, p := range w.producers {
		p.Stop()
	}
}

// stop ends producers and readers.
func (w *workload) stop() {
	w.stopProducers()
	for _, r := range w.readers {
		r.stop()
	}
}

// endedReaders describes the readers whose subscription ended by itself
// (a final error from the server), which the suite reports as a failure.
func (w *workload) endedReaders() []string {
	var out []string
	for _, r := range w.readers {
		select {
		case <-r.done:
			if r.ended != nil {
				out = append(out, fmt.Sprintf("%s/%s: %v", r.queue, r.name, r.ended))
			}
		default:
		}
	}
	return out
}

// confirmed is the number of confirmed publishes over all queues.
// finishedProducers counts the producers that stopped publishing.
func (w *workload) finishedProducers() int {
	k := 0
	for _, p := range w.producers {
		if p.Finished() {
			k++
		}
	}
	return k
}

func (w *workload) confirmed() int {
	total := 0
	for _, h := range w.hist {
		n, _ := h.Counts()
		total += n
	}
	return total
}

// missing is how many (queue, reader, id) deliveries are still awaited,
// with an example.
func (w *workload) missing() (int, string) {
	total, example := 0, ""
	for _, q := range w.queues {
		for _, r := range readers {
			m := w.hist[q].MissingFor(r)
			if len(m) > 0 && example == "" {
				example = fmt.Sprintf("%s/%s %s", q, r, m[0])
			}
			total += len(m)
		}
	}
	return total, example
}

// reader is one subscription that records what it receives in a History
// under its reader name and, in a group, acks it.
type reader struct {
	name  string
	queue string
	cl    *client.Client
	h     *checker.History
	done  chan struct{}
	once  sync.Once
	ended error // why the subscription ended by itself (set before done closes)
}

func startReader(ctx context.Context, q, name string, urls []string, tc *tls.Config, h *checker.History, o client.SubOptions) (*reader, error) {
	cl, err := client.Dial(ctx, urls, clustertest.ClientOptions(tc))
	if err != nil {
		return nil, fmt.Errorf("reader %s of %s: %w", name, q, err)
	}
	sub, err := cl.Subscribe(ctx, q, o)
	if err != nil {
		_ = cl.Close()
		return nil, fmt.Errorf("reader %s of %s: %w", name, q, err)
	}
	r := &reader{name: name, queue: q, cl: cl, h: h, done: make(chan struct{})}
	go r.run(sub, o.Group != "")
	return r, nil
}

func (r *reader) run(sub *client.Subscription, ack bool) {
	defer close(r.done)
	defer func() { r.ended = sub.Err() }()
	for d := range sub.C() {
		r.h.Receive(checker.Delivery{ID: d.MsgID, Seq: d.Seq, Reader: r.name})
		if !ack {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := d.Ack(ctx)
		cancel()
		if err != nil && !errors.Is(err, client.ErrStaleDelivery) {
			continue // not acked: redelivered later, a counted duplicate
		}
	}
}

func (r *reader) stop() {
	r.once.Do(func() { _ = r.cl.Close() })
	<-r.done
}
