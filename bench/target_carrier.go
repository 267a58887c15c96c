package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/carriermq/carrier/client"
	clustertest "github.com/carriermq/carrier/test/cluster"
)

// CarrierTarget is a 3-node Carrier cluster of real carrier processes
// (test/cluster harness), reached with the Go client over WebSocket.
type CarrierTarget struct {
	c       *clustertest.Cluster
	cleanup func()
}

// StartCarrier starts a 3-node cluster of bin in dir ("" = a temporary dir,
// removed by Close) and waits until it is ready with an agreed leader.
func StartCarrier(ctx context.Context, bin, dir string) (_ *CarrierTarget, err error) {
	dir, cleanup, err := workDir(dir)
	if err != nil {
		return nil, err
	}
	c, err := clustertest.New(clustertest.Options{Bin: bin, Dir: dir, Size: 3, LogLevel: "warn"})
	if err != nil {
		cleanup()
		return nil, err
	}
	t := &CarrierTarget{c: c, cleanup: cleanup}
	if err := c.WaitReady(ctx); err != nil {
		t.Close()
		return nil, fmt.Errorf("carrier cluster: %w", err)
	}
	if _, err := c.Leader(ctx); err != nil {
		t.Close()
		return nil, fmt.Errorf("carrier cluster: %w", err)
	}
	return t, nil
}

// Name implements Target.
func (t *CarrierTarget) Name() string { return "carrier" }

// Close kills the nodes and removes a temporary dir.
func (t *CarrierTarget) Close() error {
	t.c.Close()
	t.cleanup()
	return nil
}

func (t *CarrierTarget) url(i int) []string {
	urls := t.c.URLs()
	k := i % len(urls)
	return slices.Concat(urls[k:], urls[:k])
}

// Prepare publishes one message to stream (the queue is created on first
// publish with the server's defaults: 3 replicas, fsync before confirm).
func (t *CarrierTarget) Prepare(ctx context.Context, stream string) error {
	cl, err := client.Dial(ctx, t.url(0), client.Options{})
	if err != nil {
		return fmt.Errorf("carrier prepare: %w", err)
	}
	defer cl.Close()
	if _, err := cl.Publish(ctx, stream, client.Message{Event: "prepare", Binary: []byte("x")}); err != nil {
		return fmt.Errorf("carrier prepare: %w", err)
	}
	return nil
}

// NewPublisher implements Target: one client (one WebSocket) per publisher,
// publisher i connected to node i mod 3.
func (t *CarrierTarget) NewPublisher(ctx context.Context, i int, stream string, window int) (Publisher, error) {
	cl, err := client.Dial(ctx, t.url(i), client.Options{PublishWindow: window, PublishTimeout: time.Minute})
	if err != nil {
		return nil, fmt.Errorf("carrier publisher: %w", err)
	}
	return &carrierPublisher{cl: cl, stream: stream}, nil
}

type carrierPublisher struct {
	cl     *client.Client
	stream string
}

func (p *carrierPublisher) Publish(payload []byte) (Pending, error) {
	return carrierPending{p.cl.PublishAsync(p.stream, client.Message{Event: "b", Binary: payload})}, nil
}

func (p *carrierPublisher) Close() error { return p.cl.Close() }

type carrierPending struct{ f *client.PublishFuture }

func (c carrierPending) Wait(ctx context.Context) error {
	_, err := c.f.Wait(ctx)
	return err
}

// NewConsumer implements Target: a group member on node i mod 3.
func (t *CarrierTarget) NewConsumer(ctx context.Context, i int, stream, group string) (Consumer, error) {
	cl, sub, err := t.subscribe(ctx, i, stream, client.SubOptions{Group: group})
	if err != nil {
		return nil, fmt.Errorf("carrier consumer: %w", err)
	}
	return &carrierConsumer{cl: cl, sub: sub}, nil
}

// subscribe connects to node i mod 3 and subscribes there; on error
// nothing is left open.
func (t *CarrierTarget) subscribe(ctx context.Context, i int, stream string, o client.SubOptions) (*client.Client, *client.Subscription, error) {
	cl, err := client.Dial(ctx, t.url(i), client.Options{})
	if err != nil {
		return nil, nil, err
	}
	sub, err := cl.Subscribe(ctx, stream, o)
	if err != nil {
		cl.Close()
		return nil, nil, err
	}
	return cl, sub, nil
}

type carrierConsumer struct {
	cl  *client.Client
	sub *client.Subscription
}

func (c *carrierConsumer) Next(ctx context.Context) ([]byte, func(context.Context) error, error) {
	d, err := c.sub.Next(ctx)
	if err != nil {
		return nil, nil, err
	}
	return d.Binary, d.Ack, nil
}

func (c *carrierConsumer) Close() error { return c.cl.Close() }

// NewTail implements Target: a tail subscription from "new" on node i mod 3.
func (t *CarrierTarget) NewTail(ctx context.Context, i int, stream string) (Tail, error) {
	cl, sub, err := t.subscribe(ctx, i, stream, client.SubOptions{From: client.FromNew, Buffer: 1024})
	if err != nil {
		return nil, fmt.Errorf("carrier tail: %w", err)
	}
	return &carrierTail{cl: cl, sub: sub}, nil
}

type carrierTail struct {
	cl  *client.Client
	sub *client.Subscription
}

func (c *carrierTail) Next(ctx context.Context) ([]byte, error) {
	d, err := c.sub.Next(ctx)
	if err != nil {
		return nil, err
	}
	return d.Binary, nil
}

func (c *carrierTail) Close() error { return c.cl.Close() }

// PIDs implements Target: the running nodes' processes, found by their data
// dir on the command line (the harness does not export its pids).
func (t *CarrierTarget) PIDs() []int {
	var pids []int
	for _, n := range t.c.Running() {
		if pid, ok := pidWithArg(n.DataDir); ok {
			pids = append(pids, pid)
		}
	}
	return pids
}

// NodeURLs are the nodes' HTTP base URLs, in node order.
func (t *CarrierTarget) NodeURLs() []string { return t.c.URLs() }
