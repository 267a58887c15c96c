package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/carriermq/carrier/client"
)

// CarrierTarget is a running Carrier cluster reached with the Go client over
// WebSocket, one node URL per node. It starts nothing: "carrier bench" points
// it at a cluster that is already serving, and bench/local wraps it around
// the clusters it starts.
type CarrierTarget struct {
	urls  []string
	pids  func() []int
	close func() error
	tls   *tls.Config  // for https:// node URLs; nil: the system's roots
	hc    *http.Client // admin calls with tls; nil: the admin client's default
}

// NewCarrierTarget reaches the Carrier nodes at urls (HTTP base URLs, one per
// node; connection i goes to node i mod len(urls) first). pids, when not
// nil, reports the nodes' processes for CPU and memory readings; close, when
// not nil, is what Close does (stop the cluster). With both nil the target
// only talks to the cluster and leaves it running.
func NewCarrierTarget(urls []string, pids func() []int, close func() error) *CarrierTarget {
	return &CarrierTarget{urls: slices.Clone(urls), pids: pids, close: close}
}

// WithTLS makes the target's clients use tc for https:// and wss:// (a CA
// bundle from client.LoadTLS) and returns t.
func (t *CarrierTarget) WithTLS(tc *tls.Config) *CarrierTarget {
	t.tls, t.hc = tc, client.HTTPClient(tc)
	return t
}

// opts is o with the target's TLS configuration.
func (t *CarrierTarget) opts(o client.Options) client.Options {
	o.TLS = t.tls
	return o
}

// admin is an admin client of node URL u.
func (t *CarrierTarget) admin(u string) (*client.Admin, error) {
	return client.NewAdmin(u, t.hc)
}

// Name implements Target.
func (t *CarrierTarget) Name() string { return "carrier" }

// Close implements Target: it calls the close given to NewCarrierTarget, if
// any.
func (t *CarrierTarget) Close() error {
	if t.close == nil {
		return nil
	}
	return t.close()
}

func (t *CarrierTarget) url(i int) []string {
	k := i % len(t.urls)
	return slices.Concat(t.urls[k:], t.urls[:k])
}

// Prepare publishes one message to stream (the queue is created on first
// publish with the server's defaults: 3 replicas, fsync before confirm).
func (t *CarrierTarget) Prepare(ctx context.Context, stream string) error {
	cl, err := client.Dial(ctx, t.url(0), t.opts(client.Options{}))
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
	cl, err := client.Dial(ctx, t.url(i), t.opts(client.Options{PublishWindow: window, PublishTimeout: time.Minute}))
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
	cl, err := client.Dial(ctx, t.url(i), t.opts(client.Options{}))
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

// PIDs implements Target: the nodes' processes when they are known (nil for
// a cluster "carrier bench" reaches over the network).
func (t *CarrierTarget) PIDs() []int {
	if t.pids == nil {
		return nil
	}
	return t.pids()
}

// LeaderNode implements Placer: the node that says it is the Raft leader
// (one Raft group leads every queue). It polls for up to 10 s while there
// is none, as during an election.
func (t *CarrierTarget) LeaderNode(ctx context.Context, _ string) (leader, nodes int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = poll(ctx, 50*time.Millisecond, func() error {
		var ferr error
		leader, ferr = t.findLeader(ctx)
		return ferr
	})
	return leader, len(t.urls), err
}

func (t *CarrierTarget) findLeader(ctx context.Context) (int, error) {
	for i, u := range t.urls {
		a, err := t.admin(u)
		if err != nil {
			return 0, fmt.Errorf("carrier leader: %w", err)
		}
		st, err := a.Cluster(ctx)
		if err != nil {
			return 0, fmt.Errorf("carrier leader: %w", err)
		}
		if st.State == "Leader" {
			return i, nil
		}
	}
	return 0, errors.New("carrier leader: no node leads")
}

// NodeURLs are the nodes' HTTP base URLs, in node order.
func (t *CarrierTarget) NodeURLs() []string { return slices.Clone(t.urls) }
