package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
)

// resetRetry is the pause between attempts to propose ResetNode.
const resetRetry = 200 * time.Millisecond

// watchLeadership runs the leader-only work (lead) while this node is the
// group's leader, as told by raft's notify channel, until stop is closed.
// It is the only reader of notify and runs on its own goroutine.
func (g *group) watchLeadership() {
	var stopLeading func()
	defer func() {
		if stopLeading != nil {
			stopLeading()
		}
	}()
	for {
		select {
		case <-g.stop:
			return
		case isLeader := <-g.notify:
			switch {
			case isLeader && stopLeading == nil:
				g.log.Info("became leader", "term", g.raft.CurrentTerm())
				stopLeading = g.startLeading()
			case !isLeader && stopLeading != nil:
				g.log.Info("lost leadership")
				stopLeading()
				stopLeading = nil
			}
		}
	}
}

// startLeading runs lead on a goroutine; the returned function cancels it
// and waits for it to return.
func (g *group) startLeading() func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.lead(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// lead is the leader's work for one term: wait until everything committed
// before this term is applied, then run the timers until ctx ends. (The
// members of this node's previous runs are removed by resetOwnRuns, on
// leaders and followers alike.)
func (g *group) lead(ctx context.Context) {
	if err := waitFuture(ctx, g.raft.Barrier(0)); err != nil {
		g.log.Debug("barrier after election failed", "err", err)
		return
	}
	g.runTimers(ctx)
}

func (g *group) logReset(res queue.Result) {
	if res.Err != nil {
		g.log.Error("reset of previous runs rejected by the state", "err", res.Err)
		return
	}
	g.log.Info("removed members of previous runs", "members", res.Count, "session", g.session)
}

// waitFuture waits for f or ctx, whichever ends first. A future raft holds
// is always answered by the time raft shuts down, so the helper goroutine
// cannot outlive the group.
func waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("wait for raft: %w", ctx.Err())
	}
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
