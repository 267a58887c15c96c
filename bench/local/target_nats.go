package local

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/carriermq/carrier/bench"
)

// NATSTarget is a 3-node JetStream cluster reached with nats.go, the peer's
// own client: streams with 3 replicas and file storage, async publish with a
// bounded number of pending acks, durable pull consumers with explicit acks.
type NATSTarget struct {
	name string
	nc   *NATSCluster
}

// StartNATSTarget installs (or reuses) nats-server and starts a cluster in
// dir ("" = temporary). Its name is "nats-always" or "nats-default".
func StartNATSTarget(ctx context.Context, dir string, syncAlways bool) (*NATSTarget, error) {
	bin, err := InstallNATSServer(ctx)
	if err != nil {
		return nil, err
	}
	c, err := StartNATS(ctx, bin, dir, syncAlways)
	if err != nil {
		return nil, err
	}
	name := "nats-default"
	if syncAlways {
		name = "nats-always"
	}
	return &NATSTarget{name: name, nc: c}, nil
}

// Name implements bench.Target.
func (t *NATSTarget) Name() string { return t.name }

// Close stops the cluster.
func (t *NATSTarget) Close() error { return t.nc.Stop() }

// connect opens a connection to node i mod 3 first (NoRandomize), like the
// Carrier publishers.
func (t *NATSTarget) connect(i int, opts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream, error) {
	urls := t.nc.URLs
	k := i % len(urls)
	order := append(append([]string{}, urls[k:]...), urls[:k]...)
	nc, err := nats.Connect(strings.Join(order, ","), nats.DontRandomize())
	if err != nil {
		return nil, nil, fmt.Errorf("nats connect: %w", err)
	}
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("nats jetstream: %w", err)
	}
	return nc, js, nil
}

// Prepare implements Target: (re)creates the stream, subject = name.
func (t *NATSTarget) Prepare(ctx context.Context, stream string) error {
	nc, js, err := t.connect(0)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := js.DeleteStream(ctx, stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("nats prepare: %w", err)
	}
	if _, err := js.CreateStream(ctx, streamConfig(stream)); err != nil {
		return fmt.Errorf("nats prepare: %w", err)
	}
	return nil
}

// NewPublisher implements Target: one connection per publisher; nats.go's
// async publisher allows window pending acks.
func (t *NATSTarget) NewPublisher(ctx context.Context, i int, stream string, window int) (bench.Publisher, error) {
	nc, js, err := t.connect(i, jetstream.WithPublishAsyncMaxPending(window))
	if err != nil {
		return nil, err
	}
	return &natsPublisher{nc: nc, js: js, subject: stream}, nil
}

type natsPublisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	subject string
}

func (p *natsPublisher) Publish(payload []byte) (bench.Pending, error) {
	// The driver keeps at most the window in flight; the stall wait only
	// covers the client counting an ack a moment after handing it out.
	f, err := p.js.PublishAsync(p.subject, payload, jetstream.WithStallWait(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("nats publish: %w", err)
	}
	return natsPending{f}, nil
}

func (p *natsPublisher) Close() error {
	p.nc.Close()
	return nil
}

type natsPending struct{ f jetstream.PubAckFuture }

func (n natsPending) Wait(ctx context.Context) error {
	select {
	case <-n.f.Ok():
		return nil
	case err := <-n.f.Err():
		return fmt.Errorf("nats publish: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewConsumer implements Target: a durable pull consumer named group with
// explicit acks; every member of the group shares it.
func (t *NATSTarget) NewConsumer(ctx context.Context, i int, stream, group string) (bench.Consumer, error) {
	nc, js, err := t.connect(i)
	if err != nil {
		return nil, err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: group,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats consumer: %w", err)
	}
	// A missing idle heartbeat (a busy server) is not an error of the
	// workload: the iterator re-issues its pull request and goes on.
	it, err := cons.Messages(jetstream.WithMessagesErrOnMissingHeartbeat(false))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats consumer: %w", err)
	}
	return &natsConsumer{nc: nc, it: it}, nil
}

type natsConsumer struct {
	nc *nats.Conn
	it jetstream.MessagesContext
}

// Next implements bench.Consumer. The ack is a double ack: it waits for the
// server's confirmation, like Carrier's Delivery.Ack.
func (c *natsConsumer) Next(ctx context.Context) ([]byte, func(context.Context) error, error) {
	m, err := c.it.Next(jetstream.NextContext(ctx))
	if err != nil {
		return nil, nil, fmt.Errorf("nats next: %w", err)
	}
	return m.Data(), m.DoubleAck, nil
}

// NewTail implements Target: an ordered consumer (ephemeral, in-memory,
// no acks, flow-controlled, recreated by the client on a gap) delivering
// new messages of the stream, i.e. after they are stored.
func (t *NATSTarget) NewTail(ctx context.Context, i int, stream string) (bench.Tail, error) {
	nc, js, err := t.connect(i)
	if err != nil {
		return nil, err
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats tail: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats tail: %w", err)
	}
	return &natsTail{nc: nc, it: it}, nil
}

type natsTail struct {
	nc *nats.Conn
	it jetstream.MessagesContext
}

func (c *natsTail) Next(ctx context.Context) ([]byte, error) {
	m, err := c.it.Next(jetstream.NextContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("nats tail next: %w", err)
	}
	return m.Data(), nil
}

func (c *natsTail) Close() error {
	c.it.Stop()
	c.nc.Close()
	return nil
}

// PIDs implements bench.Target.
func (t *NATSTarget) PIDs() []int { return t.nc.PIDs() }

func (c *natsConsumer) Close() error {
	c.it.Stop()
	c.nc.Close()
	return nil
}
