package clustertest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// LeaderWatch samples every running node's GET /v1/cluster in the
// background and records a violation when two nodes claim leadership of the
// same term (two leaders), or when a leader's configuration lacks a node
// that another leader's configuration has while they overlap in time with
// no common member (two clusters). Stop ends it.
type LeaderWatch struct {
	c      *Cluster
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	leaders    map[uint64]string // term → the node that led it
	violations []string
	samples    int
}

// WatchLeaders starts a LeaderWatch sampling every interval.
func (c *Cluster) WatchLeaders(interval time.Duration) *LeaderWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &LeaderWatch{c: c, cancel: cancel, done: make(chan struct{}), leaders: map[uint64]string{}}
	go w.run(ctx, interval)
	return w
}

func (w *LeaderWatch) run(ctx context.Context, interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		w.sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sample asks every running node once; a node that does not answer is
// skipped (it may be down or paused).
func (w *LeaderWatch) sample(ctx context.Context) {
	var leaders []leaderView
	for _, n := range w.c.Running() {
		st, err := n.Status(ctx)
		if err != nil || st.State != "Leader" {
			continue
		}
		v := leaderView{id: n.ID, term: st.Term}
		for _, m := range st.Members {
			if InConfiguration(m.Suffrage) {
				v.members = append(v.members, m.ID)
			}
		}
		leaders = append(leaders, v)
	}
	w.record(leaders)
}

type leaderView struct {
	id      string
	term    uint64
	members []string
}

func (w *LeaderWatch) record(leaders []leaderView) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples++
	for _, l := range leaders {
		if prev, ok := w.leaders[l.term]; ok && prev != l.id {
			w.violations = append(w.violations, fmt.Sprintf("term %d has two leaders: %s and %s", l.term, prev, l.id))
		}
		w.leaders[l.term] = l.id
	}
	for i := range leaders {
		for j := i + 1; j < len(leaders); j++ {
			if disjoint(leaders[i].members, leaders[j].members) {
				w.violations = append(w.violations, fmt.Sprintf("two clusters: %s leads %v, %s leads %v",
					leaders[i].id, leaders[i].members, leaders[j].id, leaders[j].members))
			}
		}
	}
}

func disjoint(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return false
			}
		}
	}
	return true
}

// Stop ends the watch and returns its verdict: nil when no violation was
// seen, with the number of samples taken.
func (w *LeaderWatch) Stop() (samples int, err error) {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.violations) > 0 {
		return w.samples, fmt.Errorf("%d violations, first: %s", len(w.violations), w.violations[0])
	}
	return w.samples, nil
}

// InConfiguration reports whether a member with this suffrage is in the
// Raft configuration; GET /v1/cluster also lists nodes only gossip knows
// (suffrage "None").
func InConfiguration(suffrage string) bool {
	return suffrage == "Voter" || suffrage == "Nonvoter"
}
