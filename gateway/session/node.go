package session

import (
	"context"

	"github.com/carriermq/carrier/queue"
)

// Node is the cluster node as sessions use it; package gateway provides it
// on top of its Backend, with the same writes its HTTP API makes. All
// methods are safe for concurrent use.
type Node interface {
	// ID is the node's stable name; Session identifies this run of it.
	// Both are part of every group member id this gateway makes.
	ID() string
	Session() string

	// View runs fn under a read lock of the applied state. fn must not
	// block, propose or call View. A hub registration made inside fn (a
	// tail going live) sees no event applied before fn read the state,
	// and misses none applied after.
	View(fn func(*queue.State))

	// Propose replicates cmd and returns its result once applied locally,
	// within the gateway's request timeout; the command's own rejection
	// (Result.Err) is returned as the error.
	Propose(ctx context.Context, cmd queue.Command) (queue.Result, error)

	// Publish gives every message without an id a random one (so that a
	// retry inside the cluster is de-duplicated), proposes msgs to the
	// queue (created on first use when the gateway auto-creates) and
	// returns one outcome per message.
	Publish(ctx context.Context, queue string, msgs []*queue.Message) ([]queue.PublishAck, error)

	// EnsureQueue creates the queue with the default settings when it does
	// not exist and the gateway auto-creates; otherwise it reports whether
	// it exists.
	EnsureQueue(ctx context.Context, name string) error
}
