package local

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/carriermq/carrier/bench"
)

// NATSTarget is a 3-node JetStream cluster reached with nats.go, the peer's
// own client: streams with 3 replicas and file storage, async publish with a
// bounded number of pending acks, durable pull consumers with explicit acks,
// all driven as its NATSDrive says.
type NATSTarget struct {
	name  string
	nc    *NATSCluster
	drive NATSDrive
	owner bool // Close stops the cluster (false for a WithDrive view)
}

// StartNATSTarget installs (or reuses) nats-server and starts a cluster in
// dir ("" = temporary), driven as drive says. Its name is "nats-always" or
// "nats-default".
func StartNATSTarget(ctx context.Context, dir string, syncAlways bool, drive NATSDrive) (*NATSTarget, error) {
	bin, err := InstallNATSServer(ctx)
	if err != nil {
		return nil, err
	}
	c, err := StartNATS(ctx, bin, dir, syncAlways)
	if err != nil {
		return nil, err
	}
	name := SysNATSDefault
	if syncAlways {
		name = SysNATSAlways
	}
	return &NATSTarget{name: name, nc: c, drive: drive.withDefaults(), owner: true}, nil
}

// WithDrive returns the same cluster driven as d, named "<name>-best" for
// NATSBest and "<name>-drive" otherwise. Its Close leaves the cluster
// running: the target it came from owns it.
func (t *NATSTarget) WithDrive(d NATSDrive) *NATSTarget {
	name := t.name + "-drive"
	if d == NATSBest {
		name = t.name + "-best"
	}
	return &NATSTarget{name: name, nc: t.nc, drive: d.withDefaults()}
}

// Drive is how t drives JetStream.
func (t *NATSTarget) Drive() NATSDrive { return t.drive }

// Name implements bench.Target.
func (t *NATSTarget) Name() string { return t.name }

// Close stops the cluster (a WithDrive view: nothing).
func (t *NATSTarget) Close() error {
	if !t.owner {
		return nil
	}
	return t.nc.Stop()
}

// connect opens a connection to node i mod 3 first (DontRandomize), like the
// Carrier clients.
func (t *NATSTarget) connect(i int, opts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream, error) {
	urls := t.nc.URLs
	k := i % len(urls)
	order := append(append([]string{}, urls[k:]...), urls[:k]...)
	return dialJetStream(strings.Join(order, ","), []nats.Option{nats.DontRandomize()}, opts...)
}

// connectPlaced opens the i-th publisher's or consumer's connection as the
// drive's Placement says: node i mod 3 first, the stream's leader first,
// or the server list in nats.go's random order.
func (t *NATSTarget) connectPlaced(ctx context.Context, i int, stream string, opts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream, error) {
	switch t.drive.Placement {
	case "leader":
		leader, _, err := t.LeaderNode(ctx, stream)
		if err != nil {
			return nil, nil, err
		}
		return t.connect(leader, opts...)
	case "random":
		return dialJetStream(strings.Join(t.nc.URLs, ","), nil, opts...)
	}
	return t.connect(i, opts...)
}

func dialJetStream(urls string, nopts []nats.Option, opts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(urls, nopts...)
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

// NewPublisher implements Target: one connection per publisher (placed as
// the drive says; the latency workload's lone publisher, i = the node it
// asked for, always goes to node i); nats.go's async publisher allows window
// pending acks.
func (t *NATSTarget) NewPublisher(ctx context.Context, i int, stream string, window int) (bench.Publisher, error) {
	connect := t.connectPlaced
	if window == 1 {
		connect = func(_ context.Context, i int, _ string, opts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream, error) {
			return t.connect(i, opts...)
		}
	}
	nc, js, err := connect(ctx, i, stream, jetstream.WithPublishAsyncMaxPending(window))
	if err != nil {
		return nil, err
	}
	p := &natsPublisher{nc: nc, js: js, subject: stream, msgID: t.drive.MsgID}
	if p.msgID {
		p.idPrefix = fmt.Sprintf("%016x-", rand.Uint64())
	}
	return p, nil
}

type natsPublisher struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	subject  string
	msgID    bool
	idPrefix string // unique per publisher; a counter follows
	n        uint64
}

func (p *natsPublisher) Publish(payload []byte) (bench.Pending, error) {
	// The driver keeps at most the window in flight; the stall wait only
	// covers the client counting an ack a moment after handing it out.
	opts := []jetstream.PublishOpt{jetstream.WithStallWait(30 * time.Second)}
	if p.msgID {
		p.n++
		opts = append(opts, jetstream.WithMsgID(p.idPrefix+strconv.FormatUint(p.n, 10)))
	}
	f, err := p.js.PublishAsync(p.subject, payload, opts...)
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
// explicit acks, shared by every member of the group, received as the
// drive's Consume says.
func (t *NATSTarget) NewConsumer(ctx context.Context, i int, stream, group string) (bench.Consumer, error) {
	nc, js, err := t.connectPlaced(ctx, i, stream)
	if err != nil {
		return nil, err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: group,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats consumer: %w", err)
	}
	c := &natsConsumer{nc: nc, cons: cons, drive: t.drive}
	if err := c.start(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats consumer: %w", err)
	}
	return c, nil
}

// natsConsumer is one member: an iterator (Messages), a callback feeding a
// channel (Consume), or batches of Fetch.
type natsConsumer struct {
	nc    *nats.Conn
	cons  jetstream.Consumer
	drive NATSDrive
	it    jetstream.MessagesContext
	cc    jetstream.ConsumeContext
	ch    chan jetstream.Msg     // Consume's deliveries
	done  chan struct{}          // closed by Close: Consume's callback stops waiting on ch
	batch jetstream.MessageBatch // the current Fetch, nil before the first and after each ends
}

func (c *natsConsumer) pullOpts() []jetstream.PullConsumeOpt {
	if c.drive.Batch > 0 {
		return []jetstream.PullConsumeOpt{jetstream.PullMaxMessages(c.drive.Batch)}
	}
	return nil
}

func (c *natsConsumer) start() error {
	var err error
	switch c.drive.Consume {
	case "messages":
		// A missing idle heartbeat (a busy server) is not an error of the
		// workload: the iterator re-issues its pull request and goes on.
		opts := []jetstream.PullMessagesOpt{jetstream.WithMessagesErrOnMissingHeartbeat(false)}
		if c.drive.Batch > 0 {
			opts = append(opts, jetstream.PullMaxMessages(c.drive.Batch))
		}
		c.it, err = c.cons.Messages(opts...)
	case "consume":
		c.ch, c.done = make(chan jetstream.Msg, max(c.drive.Batch, 500)), make(chan struct{})
		c.cc, err = c.cons.Consume(func(m jetstream.Msg) {
			select {
			case c.ch <- m:
			case <-c.done:
			}
		}, c.pullOpts()...)
	}
	return err
}

// Next implements bench.Consumer. The ack is a double ack: it waits for the
// server's confirmation, like Carrier's Delivery.Ack (unless the drive says
// AckNoWait).
func (c *natsConsumer) Next(ctx context.Context) ([]byte, func(context.Context) error, error) {
	m, err := c.next(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("nats next: %w", err)
	}
	if c.drive.AckNoWait {
		return m.Data(), func(context.Context) error { return m.Ack() }, nil
	}
	return m.Data(), m.DoubleAck, nil
}

func (c *natsConsumer) next(ctx context.Context) (jetstream.Msg, error) {
	switch c.drive.Consume {
	case "consume":
		select {
		case m := <-c.ch:
			return m, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case "fetch":
		return c.fetched(ctx)
	}
	return c.it.Next(jetstream.NextContext(ctx))
}

// fetched returns the next message of the current batch, fetching a new
// batch of Batch messages (one pull request) when it is used up.
func (c *natsConsumer) fetched(ctx context.Context) (jetstream.Msg, error) {
	for {
		if c.batch == nil {
			b, err := c.cons.Fetch(c.drive.Batch, jetstream.FetchContext(ctx))
			if err != nil {
				return nil, err
			}
			c.batch = b
		}
		select {
		case m, ok := <-c.batch.Messages():
			if ok {
				return m, nil
			}
			err := c.batch.Error()
			c.batch = nil
			if err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
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

// LeaderNode implements bench.Placer: the node the stream's info names as
// its leader (server names n1…n3 are nodes 0…2). It polls for up to 10 s
// while the stream has none.
func (t *NATSTarget) LeaderNode(ctx context.Context, stream string) (leader, nodes int, err error) {
	nc, js, err := t.connect(0)
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		leader, err = streamLeader(ctx, js, stream)
		if err == nil {
			return leader, len(t.nc.URLs), nil
		}
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("nats leader of %s: %w (last: %w)", stream, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func streamLeader(ctx context.Context, js jetstream.JetStream, stream string) (int, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	var k int
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return 0, errors.New("no leader")
	}
	if _, err := fmt.Sscanf(info.Cluster.Leader, "n%d", &k); err != nil || k < 1 {
		return 0, fmt.Errorf("leader %q is not a node of this cluster", info.Cluster.Leader)
	}
	return k - 1, nil
}

// PIDs implements bench.Target.
func (t *NATSTarget) PIDs() []int { return t.nc.PIDs() }

func (c *natsConsumer) Close() error {
	if c.it != nil {
		c.it.Stop()
	}
	if c.cc != nil {
		close(c.done)
		c.cc.Stop()
	}
	c.nc.Close()
	return nil
}
