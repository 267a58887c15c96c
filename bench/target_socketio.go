package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// SocketIOTarget is a server reached over socket.io (WebSocket transport):
// Carrier's /socket.io/ endpoint, or the reference socket.io server from npm
// (bench/local's refserver), so that the same workloads measure both. The
// namespace is "/" + the stream; a publisher emits with an ack per message
// and receives nothing, a tail is a socket with no group.
type SocketIOTarget struct {
	name    string
	urls    []string
	prepare func(ctx context.Context, stream string) error
	groups  bool
	pids    func() []int
	close   func() error
}

// SocketIOOptions describe a SocketIOTarget; only Name and URLs are required.
type SocketIOOptions struct {
	Name string   // in results: "carrier-socketio", "socketio-ref"
	URLs []string // HTTP base URLs; connection i goes to URLs[i mod len]
	// Prepare makes the stream ready (Carrier: the queue); nil: nothing to do.
	Prepare func(ctx context.Context, stream string) error
	// Groups says the server has consumer groups (auth {group}); the
	// reference server has none, so NewConsumer fails on it.
	Groups bool
	PIDs   func() []int // the server processes, when known
	Close  func() error // what Close does (stop what was started), when set
}

// NewSocketIOTarget returns the target o describes.
func NewSocketIOTarget(o SocketIOOptions) *SocketIOTarget {
	return &SocketIOTarget{name: o.Name, urls: slices.Clone(o.URLs), prepare: o.Prepare, groups: o.Groups, pids: o.PIDs, close: o.Close}
}

// Name implements Target.
func (t *SocketIOTarget) Name() string { return t.name }

// Prepare implements Target.
func (t *SocketIOTarget) Prepare(ctx context.Context, stream string) error {
	if t.prepare == nil {
		return nil
	}
	return t.prepare(ctx, stream)
}

func (t *SocketIOTarget) dial(ctx context.Context, i int, stream string, auth any, receive bool) (*sioConn, error) {
	return dialSocketIO(ctx, t.urls[i%len(t.urls)], "/"+stream, auth, receive)
}

// publisherAuth keeps a publisher's socket from receiving its stream on
// Carrier (a socket with no group is a tail there); on the reference server
// a publisher gets the other publishers' emits, which its socket drops.
var publisherAuth = map[string]any{"events": []string{"bench-publisher-receives-nothing"}}

// NewPublisher implements Target: one socket per publisher, emits with
// acks; window is the caller's to keep.
func (t *SocketIOTarget) NewPublisher(ctx context.Context, i int, stream string, _ int) (Publisher, error) {
	c, err := t.dial(ctx, i, stream, publisherAuth, false)
	if err != nil {
		return nil, fmt.Errorf("%s publisher: %w", t.name, err)
	}
	return sioPublisher{c}, nil
}

type sioPublisher struct{ c *sioConn }

func (p sioPublisher) Publish(payload []byte) (Pending, error) {
	ch, err := p.c.emit("b", payload)
	if err != nil {
		return nil, err
	}
	return sioPending(ch), nil
}

func (p sioPublisher) Close() error { return p.c.Close() }

type sioPending <-chan error

func (s sioPending) Wait(ctx context.Context) error {
	select {
	case err := <-s:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewConsumer implements Target: a socket in group (acks by ack id).
func (t *SocketIOTarget) NewConsumer(ctx context.Context, i int, stream, group string) (Consumer, error) {
	if !t.groups {
		return nil, fmt.Errorf("%s: %w", t.name, errors.ErrUnsupported)
	}
	c, err := t.dial(ctx, i, stream, map[string]any{"group": group}, true)
	if err != nil {
		return nil, fmt.Errorf("%s consumer: %w", t.name, err)
	}
	return sioConsumer{c}, nil
}

type sioConsumer struct{ c *sioConn }

func (s sioConsumer) Next(ctx context.Context) ([]byte, func(context.Context) error, error) {
	e, err := s.c.next(ctx)
	if err != nil {
		return nil, nil, err
	}
	return e.data, func(context.Context) error { return s.c.ack(e.ackID) }, nil
}

func (s sioConsumer) Close() error { return s.c.Close() }

// NewTail implements Target: a socket with no group, from now on.
func (t *SocketIOTarget) NewTail(ctx context.Context, i int, stream string) (Tail, error) {
	c, err := t.dial(ctx, i, stream, nil, true)
	if err != nil {
		return nil, fmt.Errorf("%s tail: %w", t.name, err)
	}
	return sioTail{c}, nil
}

type sioTail struct{ c *sioConn }

func (s sioTail) Next(ctx context.Context) ([]byte, error) {
	e, err := s.c.next(ctx)
	return e.data, err
}

func (s sioTail) Close() error { return s.c.Close() }

// IdleSockets opens k sockets to the first server, each joined to the
// namespace of stream as a tail, and returns what closes them.
func (t *SocketIOTarget) IdleSockets(ctx context.Context, stream string, k int) (func(), error) {
	var cs []*sioConn
	closeAll := func() {
		for _, c := range cs {
			_ = c.Close()
		}
	}
	for range k {
		c, err := t.dial(ctx, 0, stream, nil, false)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("idle socket %d: %w", len(cs)+1, err)
		}
		cs = append(cs, c)
	}
	return closeAll, nil
}

// PIDs implements Target.
func (t *SocketIOTarget) PIDs() []int {
	if t.pids == nil {
		return nil
	}
	return t.pids()
}

// Close implements Target.
func (t *SocketIOTarget) Close() error {
	if t.close == nil {
		return nil
	}
	return t.close()
}

// CarrierSocketIO is a Carrier cluster measured over socket.io: the
// SocketIOTarget of its nodes ("carrier-socketio"), with the queue prepared
// and the group-commit figures read as CarrierTarget does.
type CarrierSocketIO struct {
	*SocketIOTarget
	carrier *CarrierTarget
}

// NewCarrierSocketIO measures ct's nodes over socket.io; pids and close are
// as for NewCarrierTarget (nil: none, leave the cluster running).
func NewCarrierSocketIO(ct *CarrierTarget, pids func() []int, close func() error) *CarrierSocketIO {
	return &CarrierSocketIO{carrier: ct, SocketIOTarget: NewSocketIOTarget(SocketIOOptions{
		Name: "carrier-socketio", URLs: ct.NodeURLs(), Prepare: ct.Prepare, Groups: true, PIDs: pids, Close: close})}
}

// ReadGroupCommit sums the nodes' group-commit counters (see CarrierTarget).
func (t *CarrierSocketIO) ReadGroupCommit(ctx context.Context) (GroupCommit, error) {
	return t.carrier.ReadGroupCommit(ctx)
}

// NodeURLs are the nodes' HTTP base URLs, in node order.
func (t *CarrierSocketIO) NodeURLs() []string { return t.carrier.NodeURLs() }
