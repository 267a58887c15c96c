package faulttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/test/checker"
	clustertest "github.com/carriermq/carrier/test/cluster"
)

// marks is where every queue stood when a fault began: per queue, the
// lowest lastSeq over the running nodes (0 when a node lacks the queue).
type marks map[string]uint64

// mark reads every running node's queues before a fault.
func (e *env) mark(ctx context.Context) (marks, error) {
	infos, err := e.queueInfos(ctx, e.c.Running())
	if err != nil {
		return nil, fmt.Errorf("mark: %w", err)
	}
	m := marks{}
	for _, q := range queueNamesOf(infos, nil) {
		m[q] = lowestLast(infos, q)
	}
	return m, nil
}

// queueInfos is every given node's list of queues, by node id, then name.
func (e *env) queueInfos(ctx context.Context, nodes []*clustertest.Node) (map[string]map[string]protocol.QueueInfo, error) {
	out := map[string]map[string]protocol.QueueInfo{}
	for _, n := range nodes {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		qs, err := n.Admin().Queues(qctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("queues of node %s: %w", n.ID, err)
		}
		out[n.ID] = map[string]protocol.QueueInfo{}
		for _, q := range qs {
			out[n.ID][q.Name] = q
		}
	}
	return out, nil
}

// queueNamesOf is every queue name any node or since knows, sorted.
func queueNamesOf(infos map[string]map[string]protocol.QueueInfo, since marks) []string {
	set := map[string]bool{}
	for q := range since {
		set[q] = true
	}
	for _, qs := range infos {
		for q := range qs {
			set[q] = true
		}
	}
	out := make([]string, 0, len(set))
	for q := range set {
		out = append(out, q)
	}
	slices.Sort(out)
	return out
}

func lowestLast(infos map[string]map[string]protocol.QueueInfo, q string) uint64 {
	var low uint64
	for i, id := range sortedIDs(infos) {
		info, ok := infos[id][q]
		if !ok {
			return 0
		}
		if i == 0 || info.LastSeq < low {
			low = info.LastSeq
		}
	}
	return low
}

func sortedIDs[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// span is the seq range of one queue a probe compared.
type span struct{ lo, hi uint64 }

func (s span) holds(seq uint64) bool { return seq >= s.lo && seq <= s.hi }

// probeResult is what one comparison found, per queue.
type probeResult struct {
	spans      map[string]span
	diffs      map[string][]checker.Difference
	mismatches map[string][]checker.Mismatch
}

func (r probeResult) clean() bool {
	for q := range r.spans {
		if len(r.diffs[q]) > 0 || len(r.mismatches[q]) > 0 {
			return false
		}
	}
	return true
}

// probeTimeout bounds how long a probe waits for the nodes to agree once
// each has applied the leader's commit index.
const probeTimeout = 20 * time.Second

// probe compares, after a scenario's recovery, what every running node
// stored since the fault began (since): it waits until every node has
// applied the commit index the leader has now, then, per queue, reads each
// node from its mark up to the lowest lastSeq of the nodes and compares the
// messages by (seq, id, time, body), and checks every publish confirmed in
// that range is stored at its confirmed seq on every node. It polls until
// all agree or probeTimeout passes, and returns the last comparison; an
// error means no comparison could be made.
func (e *env) probe(ctx context.Context, since marks) (probeResult, error) {
	if err := e.caughtUp(ctx); err != nil {
		return probeResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var last probeResult
	err := clustertest.Poll(ctx, 500*time.Millisecond, func() error {
		res, err := e.compareSince(ctx, since)
		if err != nil {
			return err
		}
		last = res
		if !res.clean() {
			return errors.New("the nodes store different messages")
		}
		return nil
	})
	if err != nil && last.spans == nil {
		return last, fmt.Errorf("probe: %w", err)
	}
	return last, nil
}

// caughtUp waits until every running node has applied the commit index
// the leader reports now.
func (e *env) caughtUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	l, err := e.c.Leader(ctx)
	if err != nil {
		return fmt.Errorf("probe: leader: %w", err)
	}
	st, err := l.Status(ctx)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	err = clustertest.Poll(ctx, 50*time.Millisecond, func() error {
		for _, n := range e.c.Running() {
			ns, err := n.Status(ctx)
			if err != nil {
				return err
			}
			if ns.AppliedIndex < st.CommitIndex {
				return fmt.Errorf("node %s applied %d of the leader's commit index %d", n.ID, ns.AppliedIndex, st.CommitIndex)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("probe: catch up: %w", err)
	}
	return nil
}

// compareSince reads and compares every queue once.
func (e *env) compareSince(ctx context.Context, since marks) (probeResult, error) {
	nodes := e.c.Running()
	infos, err := e.queueInfos(ctx, nodes)
	if err != nil {
		return probeResult{}, err
	}
	res := probeResult{spans: map[string]span{}, diffs: map[string][]checker.Difference{},
		mismatches: map[string][]checker.Mismatch{}}
	for _, q := range queueNamesOf(infos, since) {
		sp, ok := spanOf(infos, q, since[q]+1)
		if !ok {
			continue
		}
		contents, err := readSpan(ctx, nodes, infos, q, sp)
		if err != nil {
			return probeResult{}, err
		}
		res.spans[q] = sp
		res.diffs[q] = checker.Differences(contents)
		if h := e.w.hist[q]; h != nil {
			res.mismatches[q] = checker.SeqMismatches(h, contents, sp.lo, sp.hi)
		}
	}
	return res, nil
}

// spanOf is the range of q to compare: from lo (but not below any node's
// first seq: a bounded queue drops its oldest messages) to the lowest
// lastSeq of the nodes that have q. False when there is nothing to compare.
func spanOf(infos map[string]map[string]protocol.QueueInfo, q string, lo uint64) (span, bool) {
	sp, found := span{lo: lo}, false
	for _, id := range sortedIDs(infos) {
		info, ok := infos[id][q]
		if !ok {
			continue
		}
		sp.lo = max(sp.lo, info.FirstSeq)
		if !found || info.LastSeq < sp.hi {
			sp.hi = info.LastSeq
		}
		found = true
	}
	return sp, found && sp.hi >= sp.lo
}

// readSpan reads sp of q from every node; a node without q stores nothing.
func readSpan(ctx context.Context, nodes []*clustertest.Node, infos map[string]map[string]protocol.QueueInfo, q string, sp span) (map[string][]checker.Stored, error) {
	contents := map[string][]checker.Stored{}
	for _, n := range nodes {
		if _, ok := infos[n.ID][q]; !ok {
			contents[n.ID] = nil
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := clustertest.ReadRange(rctx, n, q, sp.lo, sp.hi)
		cancel()
		if err != nil {
			return nil, err
		}
		contents[n.ID] = st
	}
	return contents, nil
}
