package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/carriermq/carrier/queue"
)

// Timer settings of the leader.
const (
	// maxTimerSleep caps how long the timer loop sleeps without looking at
	// the state again (a safety net; kicks after every apply do the real work).
	maxTimerSleep = time.Second
	// tickRetry is the pause after a Tick proposal failed for another reason
	// than losing leadership.
	tickRetry = 100 * time.Millisecond
)

// runTimers proposes queue.Tick whenever the state's next deadline has
// passed, until ctx ends (leadership lost or the node closing). It runs only
// on the leader: ack deadlines, delayed delivery and max age take effect
// through the log, stamped with the leader's clock, so every replica applies
// them identically. It wakes at the next deadline, after every apply (the
// deadline may have moved), and at least every maxTimerSleep.
func (g *group) runTimers(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	var lastTick int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-g.kick:
		}
		t.Reset(g.tickIfDue(ctx, &lastTick))
	}
}

// tickIfDue proposes a Tick when a deadline has passed and returns how long
// to sleep before looking again. lastTick is the time of the last Tick sent:
// a deadline at or before it should have been handled by that Tick, so
// another is proposed only after maxTimerSleep (no Tick storm if a deadline
// does not move).
func (g *group) tickIfDue(ctx context.Context, lastTick *int64) time.Duration {
	at, ok := g.fsm.nextDeadline()
	if !ok {
		return maxTimerSleep
	}
	now := time.Now().UnixNano()
	if at > now {
		return min(time.Duration(at-now), maxTimerSleep)
	}
	if at <= *lastTick && now-*lastTick < int64(maxTimerSleep) {
		return time.Duration(*lastTick + int64(maxTimerSleep) - now)
	}
	*lastTick = now
	res, err := g.batcher.propose(ctx, queue.Tick{})
	switch {
	case err == nil && res.Err != nil:
		g.log.Warn("tick rejected by the state", "err", res.Err)
	case err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed):
		g.log.Warn("tick proposal failed", "err", err)
		return tickRetry
	}
	return 0 // look again at once: the Tick's apply may have set a new deadline
}

// kickTimers wakes the timer loop after an apply; it never blocks.
func (g *group) kickTimers() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}
