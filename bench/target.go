// Package bench holds Carrier's benchmark workloads (publish throughput,
// publish latency, end-to-end latency, consume and ack, fan-out), written
// once against Target, and CarrierTarget, which drives a running Carrier
// cluster: "carrier bench" runs them against one. Package bench/local starts
// clusters of its own (Carrier and NATS JetStream) for "carrier-bench". They
// are commands, not timed unit tests (see DESIGN.md).
package bench

import (
	"context"
	"fmt"
	"io"
)

// Target is one system under test: a running 3-node cluster and the way a
// benchmark reaches it. Workloads are written once against Target, so that
// Carrier and its peer run exactly the same driver code.
//
// A Target is safe for concurrent use: every publisher or consumer it opens
// has its own connection and may run on its own goroutine. Close stops the
// cluster and every process the Target started.
type Target interface {
	// Name identifies the target in results ("carrier", "nats-always", …).
	Name() string
	// Prepare creates the stream (Carrier: queue) with 3 replicas on disk,
	// empty; it returns once publishes to it can be confirmed.
	Prepare(ctx context.Context, stream string) error
	// NewPublisher opens a connection (the i-th; targets spread them over
	// the nodes) that publishes to stream with at most window unconfirmed.
	NewPublisher(ctx context.Context, i int, stream string, window int) (Publisher, error)
	// NewConsumer opens a connection (the i-th) that is one member of the
	// durable group on stream, with explicit acks.
	NewConsumer(ctx context.Context, i int, stream, group string) (Consumer, error)
	// NewTail opens a connection (the i-th) that receives every message
	// published to stream from now on, after it is stored, without acks
	// (Carrier: a tail subscription; JetStream: an ordered consumer).
	NewTail(ctx context.Context, i int, stream string) (Tail, error)
	// PIDs are the server processes, for CPU and memory readings.
	PIDs() []int
	io.Closer
}

// Placer is a Target that knows which of its nodes leads a stream, so that a
// workload can publish through the leader or through a follower. Node
// indexes are those of NewPublisher's i: connection i goes to node i mod 3
// first.
type Placer interface {
	// LeaderNode returns the index of the node that leads stream now
	// (Carrier: the Raft leader; JetStream: the stream's leader) and the
	// number of nodes.
	LeaderNode(ctx context.Context, stream string) (leader, nodes int, err error)
}

// Ways a lone publisher reaches the cluster (LatencyConfig.Via).
const (
	ViaLeader   = "leader"   // connected to the node that leads the stream
	ViaFollower = "follower" // connected to a node that does not: the write is forwarded
)

// nodeVia returns the node a publisher connects to for via: the stream's
// leader, or the node after it (a follower).
func nodeVia(ctx context.Context, t Target, stream, via string) (int, error) {
	p, ok := t.(Placer)
	if !ok {
		return 0, fmt.Errorf("%s: cannot tell which node leads %s", t.Name(), stream)
	}
	leader, nodes, err := p.LeaderNode(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("%s: leader of %s: %w", t.Name(), stream, err)
	}
	switch {
	case via == ViaLeader:
		return leader, nil
	case via == ViaFollower && nodes > 1:
		return (leader + 1) % nodes, nil
	case via == ViaFollower:
		return 0, fmt.Errorf("%s: one node, no follower", t.Name())
	}
	return 0, fmt.Errorf("via %q: want %q or %q", via, ViaLeader, ViaFollower)
}

// Tail receives a stream's messages in order, used by one goroutine.
type Tail interface {
	// Next waits for the next message and returns its payload.
	Next(ctx context.Context) ([]byte, error)
	io.Closer
}

// Publisher publishes to one stream over one connection. It is used by one
// goroutine at a time.
type Publisher interface {
	// Publish sends payload without waiting for its confirmation; the
	// caller keeps at most the window it asked for in flight.
	Publish(payload []byte) (Pending, error)
	io.Closer
}

// Pending is a publish sent and not yet known to be confirmed.
type Pending interface {
	// Wait returns nil once the message is confirmed: committed by a
	// majority and, per the target's sync setting, on their disks.
	Wait(ctx context.Context) error
}

// Consumer is one member of a durable group, used by one goroutine.
type Consumer interface {
	// Next waits for the next delivery and returns its payload and a
	// function that acks it (waiting for the server's confirmation).
	Next(ctx context.Context) (payload []byte, ack func(context.Context) error, err error)
	io.Closer
}
