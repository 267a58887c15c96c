package gateway

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/queue"
)

// The gateway's writes to the node, the same for its HTTP API and its
// sessions (which reach them through sessionNode).

// propose sends cmd to the backend with the request timeout and returns
// the command's own rejection (Result.Err) as an error.
func (g *Gateway) propose(ctx context.Context, cmd queue.Command) (queue.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
	defer cancel()
	res, err := g.b.Propose(ctx, cmd)
	if err != nil {
		return res, fmt.Errorf("propose op %d: %w", cmd.Op(), err)
	}
	return res, res.Err
}

// ensureQueue creates name with the default config when it does not exist
// and AutoCreate is on. A queue created meanwhile by someone else is fine.
func (g *Gateway) ensureQueue(ctx context.Context, name string) error {
	var err error
	g.b.View(func(s *queue.State) { _, err = s.Queue(name) })
	if queue.CodeOf(err) != queue.CodeQueueNotFound || !g.cfg.AutoCreate {
		return err
	}
	_, err = g.propose(ctx, queue.CreateQueue{Name: name, Config: g.cfg.DefaultQueue, MaxQueues: g.cfg.MaxQueues})
	if queue.CodeOf(err) == queue.CodeQueueExists {
		return nil
	}
	return err
}

// publish gives every message without an id a random one (so that a retry
// inside the cluster is de-duplicated), proposes msgs to the named queue
// (auto-creating it when allowed) and returns one outcome per message.
func (g *Gateway) publish(ctx context.Context, name string, msgs []*queue.Message) ([]queue.PublishAck, error) {
	fillIDs(msgs)
	cmd := queue.Publish{Queue: name, Messages: msgs, MaxQueues: g.cfg.MaxQueues, MaxTotalBytes: g.cfg.MaxStoreBytes}
	if g.cfg.AutoCreate {
		cfg := g.cfg.DefaultQueue
		cmd.Create = &cfg
	}
	res, err := g.propose(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if len(res.Published) != len(msgs) {
		return nil, fmt.Errorf("publish to %s: %d outcomes for %d messages", name, len(res.Published), len(msgs))
	}
	return res.Published, nil
}

func fillIDs(msgs []*queue.Message) {
	for _, m := range msgs {
		if m.ID == "" {
			m.ID = rand.Text()
		}
	}
}

// sessionNode is the node as sessions use it.
type sessionNode struct{ g *Gateway }

var _ session.Node = sessionNode{}

func (n sessionNode) ID() string                 { return n.g.b.ID() }
func (n sessionNode) Session() string            { return n.g.b.Session() }
func (n sessionNode) View(fn func(*queue.State)) { n.g.b.View(fn) }

func (n sessionNode) Propose(ctx context.Context, cmd queue.Command) (queue.Result, error) {
	return n.g.propose(ctx, cmd)
}

func (n sessionNode) Publish(ctx context.Context, name string, msgs []*queue.Message) ([]queue.PublishAck, error) {
	return n.g.publish(ctx, name, msgs)
}

func (n sessionNode) EnsureQueue(ctx context.Context, name string) error {
	return n.g.ensureQueue(ctx, name)
}
