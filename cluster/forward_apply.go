package cluster

import (
	"context"
	"sync"

	"github.com/carriermq/carrier/queue"
)

// appliedSignal wakes goroutines waiting for the FSM's applied index to
// reach a value. notify is called after every applied batch and every
// restore (on raft's FSM goroutine; it never blocks); waiters take the
// current channel, check the index, and wait for the channel to close.
type appliedSignal struct {
	mu sync.Mutex
	ch chan struct{} // guarded by mu; closed and replaced by notify
}

func newAppliedSignal() *appliedSignal { return &appliedSignal{ch: make(chan struct{})} }

func (s *appliedSignal) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}

func (s *appliedSignal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

// restoreSignal is the Observer that notifies the signal when a snapshot
// replaced the state (the applied index jumped without an apply).
type restoreSignal struct{ s *appliedSignal }

func (r restoreSignal) OnApply([]queue.Event) {}
func (r restoreSignal) OnRestore()            { r.s.notify() }

// afterApply runs after every applied batch (fsm.onApply): it wakes the
// leader's timers and the proposers waiting for their entry.
func (g *group) afterApply() {
	g.kickTimers()
	g.appliedSig.notify()
}

// waitApplied waits until this node's FSM has applied index, ctx ends or
// the group closes.
func (g *group) waitApplied(ctx context.Context, index uint64) {
	for {
		ch := g.appliedSig.wait()
		if g.fsm.applied.Load() >= index {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-g.stop:
			return
		}
	}
}
