package clustertest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/test/checker"
)

// Producer publishes messages with unique ids ("<name>-<n>") one at a time
// through its client, recording every attempt and outcome in a History.
// It runs until Stop or until it has published Max messages.
type Producer struct {
	name  string
	queue string
	cl    *client.Client
	h     *checker.History
	every time.Duration
	max   int

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// ProducerOptions tune a Producer.
type ProducerOptions struct {
	Every   time.Duration // pause between publishes (default 5ms)
	Max     int           // stop after this many (default 100000)
	Timeout time.Duration // limit of one publish, retries included (default 15s)
	TLS     *tls.Config   // for https:// and wss:// URLs (Cluster.ClientTLS)
}

// StartProducer dials urls (the first is preferred) and starts publishing
// to queue.
func StartProducer(ctx context.Context, name, queue string, urls []string, h *checker.History, o ProducerOptions) (*Producer, error) {
	cl, err := client.Dial(ctx, urls, ClientOptions(o.TLS))
	if err != nil {
		return nil, fmt.Errorf("producer %s: %w", name, err)
	}
	if o.Every <= 0 {
		o.Every = 5 * time.Millisecond
	}
	if o.Max <= 0 {
		o.Max = 100000
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	p := &Producer{name: name, queue: queue, cl: cl, h: h, every: o.Every, max: o.Max,
		stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(o.Timeout)
	return p, nil
}

// clientOptions reconnect quickly: a test's nodes come back within seconds.
// ClientOptions are the harness's client options: quick reconnects, with
// tc for TLS (nil: plain).
func ClientOptions(tc *tls.Config) client.Options {
	return client.Options{ReconnectMin: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond,
		PingInterval: 2 * time.Second, DialTimeout: 2 * time.Second, TLS: tc}
}

func (p *Producer) run(timeout time.Duration) {
	defer close(p.done)
	for i := range p.max {
		select {
		case <-p.stop:
			return
		default:
		}
		p.publishOne(i, timeout)
		select {
		case <-p.stop:
			return
		case <-time.After(p.every):
		}
	}
}

func (p *Producer) publishOne(i int, timeout time.Duration) {
	id := fmt.Sprintf("%s-%06d", p.name, i)
	p.h.Attempt(id)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	data, _ := json.Marshal(map[string]int{"n": i})
	ack, err := p.cl.Publish(ctx, p.queue, client.Message{ID: id, Event: "test", Data: data})
	if err != nil {
		p.h.Fail(id)
		return
	}
	p.h.Confirm(id, ack.Seq)
}

// Finished reports whether the producer has stopped publishing: it reached
// its Max, or Stop was called.
func (p *Producer) Finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the producer after its current publish and closes its client.
func (p *Producer) Stop() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
	_ = p.cl.Close()
}

// Consumer is one member of a consumer group: it records every delivery in
// a History and acks it. Its client reconnects across the given URLs.
type Consumer struct {
	node string
	cl   *client.Client
	sub  *client.Subscription
	h    *checker.History
	done chan struct{}
	once sync.Once
}

// StartConsumer dials urls (with tc for TLS; nil: plain) and joins group
// on queue.
func StartConsumer(ctx context.Context, node, queue, group string, urls []string, h *checker.History, tc *tls.Config) (*Consumer, error) {
	cl, err := client.Dial(ctx, urls, ClientOptions(tc))
	if err != nil {
		return nil, fmt.Errorf("consumer on %s: %w", node, err)
	}
	sub, err := cl.Subscribe(ctx, queue, client.SubOptions{Group: group, MaxInFlight: 64, Buffer: 512})
	if err != nil {
		_ = cl.Close()
		return nil, fmt.Errorf("consumer on %s: %w", node, err)
	}
	c := &Consumer{node: node, cl: cl, sub: sub, h: h, done: make(chan struct{})}
	go c.run()
	return c, nil
}

func (c *Consumer) run() {
	defer close(c.done)
	for d := range c.sub.C() {
		c.h.Receive(checker.Delivery{ID: d.MsgID, Seq: d.Seq, Node: c.node})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := d.Ack(ctx)
		cancel()
		if err != nil && !errors.Is(err, client.ErrStaleDelivery) {
			// Not acked: the group redelivers it later (a counted duplicate).
			continue
		}
	}
}

// Stop closes the consumer's client; unacked deliveries go back to the group.
func (c *Consumer) Stop() {
	c.once.Do(func() { _ = c.cl.Close() })
	<-c.done
}

// ReadAll reads every message of queue from n over HTTP, in seq order.
func ReadAll(ctx context.Context, n *Node, queue string) ([]checker.Stored, error) {
	return readPages(ctx, n, queue, 1, math.MaxUint64, 1000)
}

// ReadRange reads the messages of queue with from <= seq <= to from n over
// HTTP, in seq order (from below the queue's first seq starts at it). Its
// pages are smaller than ReadAll's so that a page of large messages (the
// fault suite's 64 KiB fillers) stays far below the admin client's reply
// limit.
func ReadRange(ctx context.Context, n *Node, queue string, from, to uint64) ([]checker.Stored, error) {
	return readPages(ctx, n, queue, from, to, 250)
}

func readPages(ctx context.Context, n *Node, queue string, from, to uint64, limit int) ([]checker.Stored, error) {
	var out []checker.Stored
	for range 1000000 {
		page, err := n.Admin().Read(ctx, queue, from, limit)
		if err != nil {
			return nil, fmt.Errorf("read %s on %s: %w", queue, n.ID, err)
		}
		var done bool
		out, done = appendStored(out, page.Messages, to)
		if done || len(page.Messages) == 0 || page.Next <= from {
			return out, nil
		}
		from = page.Next
	}
	return out, errors.New("read: too many pages")
}

// appendStored appends the messages of ms up to seq to, and reports
// whether it met a later one.
func appendStored(out []checker.Stored, ms []protocol.Message, to uint64) ([]checker.Stored, bool) {
	for _, m := range ms {
		if m.Seq > to {
			return out, true
		}
		out = append(out, StoredOf(m))
	}
	return out, false
}

// StoredOf is m as the checker compares it: seq, id, the leader's time, and
// a digest of everything else the publisher sent.
func StoredOf(m protocol.Message) checker.Stored {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(m.Event), m.Data, m.Binary, []byte(m.DeliverAt)} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
		fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(m.Headers[k]), m.Headers[k])
	}
	return checker.Stored{Seq: m.Seq, ID: m.MsgID, Time: m.Time, Body: hex.EncodeToString(h.Sum(nil)[:8])}
}
