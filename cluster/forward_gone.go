package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/carriermq/carrier/queue"
)

// Member clean-up settings.
const (
	// goneQueue bounds the node-gone reports waiting for the clean-up worker.
	goneQueue = 64
	// goneRetryFor bounds how long one clean-up is retried (no leader, no quorum).
	goneRetryFor = time.Minute
)

// goneNode is a node gossip reported dead or left, and the session of it to
// keep (empty: none).
type goneNode struct{ id, keep string }

// nodeGone asks the cluster to remove the group members of node id, but
// those of session keep (empty: all of them), so their unacked messages
// are redelivered to members on live nodes. Membership calls it when
// gossip reports a node dead or left (keep = ""), or back with a new
// session (keep = that session). It never blocks: the ResetNode is proposed
// by a worker goroutine, through the leader (forwarded from a follower),
// retried for up to goneRetryFor. Every node that hears of the death
// proposes it; ResetNode is idempotent, so the copies are harmless.
func (n *Node) nodeGone(id, keep string) { n.group.nodeGone(id, keep) }

func (g *group) nodeGone(id, keep string) {
	if id == g.nodeID {
		return // this node's own runs are reset by resetOwnRuns
	}
	select {
	case g.gone <- goneNode{id: id, keep: keep}:
	default:
		g.log.Warn("dropping a node-gone report: clean-up queue full", "gone", id)
	}
}

// cleanUpGone proposes ResetNode for each gone node, until stop.
func (g *group) cleanUpGone() {
	ctx, cancel := g.stopContext()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-g.gone:
			g.resetGone(ctx, n)
		}
	}
}

func (g *group) resetGone(ctx context.Context, n goneNode) {
	ctx, cancel := context.WithTimeout(ctx, goneRetryFor)
	defer cancel()
	cmd := queue.ResetNode{Node: n.id, Keep: n.keep}
	for ctx.Err() == nil {
		res, err := g.propose(ctx, cmd)
		if err == nil {
			g.log.Info("removed the group members of a gone node", "gone", n.id, "kept", n.keep, "members", res.Count)
			return
		}
		if errors.Is(err, ErrClosed) {
			return
		}
		g.log.Debug("removing the members of a gone node failed; retrying", "gone", n.id, "err", err)
		sleepCtx(ctx, resetRetry)
	}
	g.log.Warn("gave up removing the group members of a gone node", "gone", n.id)
}

// resetOwnRuns proposes ResetNode for this node, keeping this session, until
// it succeeds once or the group stops: the members of this node's previous
// runs are removed and their unacked messages redelivered. On a follower it
// is forwarded to the leader. ResetNode is idempotent, so retrying after an
// unknown outcome is safe.
func (g *group) resetOwnRuns() {
	ctx, cancel := g.stopContext()
	defer cancel()
	cmd := queue.ResetNode{Node: g.nodeID, Keep: g.session}
	for ctx.Err() == nil {
		res, err := g.propose(ctx, cmd)
		if err == nil {
			g.resetDone.Store(true)
			g.logReset(res)
			return
		}
		if errors.Is(err, ErrClosed) {
			return
		}
		g.log.Debug("reset of previous runs failed; retrying", "err", err)
		sleepCtx(ctx, resetRetry)
	}
}

// stopContext is a context that ends when the group stops; its helper
// goroutine ends with it, so callers must call cancel.
func (g *group) stopContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-g.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
