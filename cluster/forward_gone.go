package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
)

// Member clean-up settings.
const (
	// goneQueue bounds the node-gone reports waiting for the clean-up worker.
	goneQueue = 64
	// goneRetryFor bounds how long one clean-up is retried (no leader, no quorum).
	goneRetryFor = time.Minute
	// deadCheckEvery is how often the leader looks for dead nodes that still
	// have group members.
	deadCheckEvery = 2 * time.Second
)

// goneNode is a node gossip reported dead or left, and the session of it to
// keep (empty: none).
type goneNode struct{ id, keep string }

// goneWorker is the queue of clean-ups and the set of nodes queued or being
// cleaned up (so a level-triggered caller does not queue one twice).
type goneWorker struct {
	queue chan goneNode
	mu    sync.Mutex
	busy  map[string]bool // guarded by mu
}

func newGoneWorker() *goneWorker {
	return &goneWorker{queue: make(chan goneNode, goneQueue), busy: make(map[string]bool)}
}

// add queues n unless a clean-up of that node is queued or running, or the
// queue is full; it never blocks.
func (w *goneWorker) add(n goneNode) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.busy[n.id] {
		return true
	}
	select {
	case w.queue <- n:
		w.busy[n.id] = true
		return true
	default:
		return false
	}
}

func (w *goneWorker) done(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.busy, id)
}

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
	if !g.gone.add(goneNode{id: id, keep: keep}) {
		g.log.Warn("dropping a node-gone report: clean-up queue full", "gone", id)
	}
}

// cleanUpDead removes the group members of every node of dead (ids gossip
// reports dead or left) that still has members in the state. It is
// level-triggered and cheap when there is nothing to do, so it can run on
// every round (on the leader, or on any node: the proposals are
// forwarded); it never blocks.
func (n *Node) cleanUpDead(dead []string) { n.group.cleanUpDead(dead) }

// setDeadNodes installs the source of dead node ids the leader checks every
// deadCheckEvery (membership's gossip view). Safe while the group runs.
func (g *group) setDeadNodes(dead func() []string) { g.deadNodes.Store(&dead) }

// checkDead runs cleanUpDead with the installed source, on the leader only
// (a new leader checks again, so a death seen during an election is not lost).
func (g *group) checkDead() {
	src := g.deadNodes.Load()
	if src == nil || g.raft.State() != raft.Leader {
		return
	}
	g.cleanUpDead((*src)())
}

func (g *group) cleanUpDead(dead []string) {
	if len(dead) == 0 {
		return
	}
	with := g.nodesWithMembers()
	for _, id := range dead {
		if with[id] {
			g.nodeGone(id, "")
		}
	}
}

// nodesWithMembers is the set of nodes some group member is on.
func (g *group) nodesWithMembers() map[string]bool {
	nodes := map[string]bool{}
	g.fsm.view(func(s *queue.State) {
		for _, q := range s.Queues() {
			for _, gi := range q.Groups {
				refs, _ := s.Members(q.Name, gi.Name)
				for _, r := range refs {
					nodes[r.Node] = true
				}
			}
		}
	})
	return nodes
}

// cleanUpGone proposes ResetNode for each gone node, and checks for dead
// nodes every deadCheckEvery, until stop.
func (g *group) cleanUpGone() {
	ctx, cancel := g.stopContext()
	defer cancel()
	tick := time.NewTicker(deadCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			g.checkDead()
		case n := <-g.gone.queue:
			g.resetGone(ctx, n)
			g.gone.done(n.id)
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

// deadNodes lists the nodes gossip reports dead or left: the source of
// dead nodes membership gives the group (see setDeadNodes).
func (m *membership) deadNodes() []string {
	var ids []string
	for _, p := range m.gossip.snapshot() {
		if p.State == "dead" || p.State == "left" {
			ids = append(ids, p.Name)
		}
	}
	return ids
}
