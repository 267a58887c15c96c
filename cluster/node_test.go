package cluster

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/carriermq/carrier/queue"
)

func TestProposeAndView(t *testing.T) {
	n := startNode(t, testConfig(t, t.TempDir()))
	mustPropose(t, n, queue.CreateQueue{Name: "orders"})
	for i, id := range []string{"a", "b", "c"} {
		if seq := publishOne(t, n, "orders", id); seq != uint64(i+1) {
			t.Errorf("publish %s: seq %d, want %d", id, seq, i+1)
		}
	}
	if got, want := readIDs(t, n, "orders"), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("stored ids = %v, want %v", got, want)
	}
	st := n.Status()
	if st.Leader != "n1" || st.NodeID != "n1" || st.AppliedIndex == 0 || st.CommitIndex < st.AppliedIndex {
		t.Errorf("status = %+v", st)
	}
	want := []Member{{ID: "n1", Address: n.RaftAddress(), Suffrage: "Voter", Leader: true}}
	if !slices.Equal(st.Members, want) {
		t.Errorf("members = %+v, want %+v", st.Members, want)
	}
}

// TestRestartRecoversFromLog closes a node and opens its data dir again with
// Bootstrap still set: the state comes back from the log, and New does not
// bootstrap a second time (raft would refuse, failing New).
func TestRestartRecoversFromLog(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg)
	mustPropose(t, n, queue.CreateQueue{Name: "q"})
	var want []string
	for i := range 10 {
		id := fmt.Sprintf("m%d", i)
		publishOne(t, n, "q", id)
		want = append(want, id)
	}
	term := n.Status().Term
	cfg.RaftBind = n.RaftAddress()
	closeNode(t, n)

	n2 := startNode(t, cfg)
	if got := readIDs(t, n2, "q"); !slices.Equal(got, want) {
		t.Errorf("after restart ids = %v, want %v", got, want)
	}
	st := n2.Status()
	if st.Term <= term || len(st.Members) != 1 {
		t.Errorf("after restart status = %+v (term before %d)", st, term)
	}
	if n2.Session() == n.Session() {
		t.Errorf("session %q reused across runs", n.Session())
	}
}

// TestRestartRecoversFromSnapshot makes raft snapshot and compact the log,
// then restarts: the state is restored from the snapshot before the node
// even elects itself, and the rest comes from the log.
func TestRestartRecoversFromSnapshot(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.SnapshotThreshold = 8
	cfg.SnapshotInterval = 20 * time.Millisecond
	cfg.TrailingLogs = 2
	n := startNode(t, cfg)
	mustPropose(t, n, queue.CreateQueue{Name: "q"})
	var want []string
	for i := range 40 {
		id := fmt.Sprintf("m%d", i)
		publishOne(t, n, "q", id)
		want = append(want, id)
	}
	var snapIndex uint64
	waitFor(t, "a snapshot and a compacted log", func() error {
		metas, err := n.group.snaps.List()
		if err != nil || len(metas) == 0 {
			return fmt.Errorf("snapshots %v: %w", metas, err)
		}
		first, err := n.group.wal.FirstIndex()
		if err != nil || first <= 1 {
			return fmt.Errorf("first log index %d: %w", first, err)
		}
		snapIndex = metas[0].Index
		return nil
	})
	cfg.RaftBind = n.RaftAddress()
	closeNode(t, n)

	n2, err := New(cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { closeNode(t, n2) })
	if got := n2.Status().AppliedIndex; got < snapIndex {
		t.Errorf("applied index right after New = %d, want >= snapshot index %d", got, snapIndex)
	}
	waitFor(t, "leader after restart", n2.Ready)
	waitFor(t, "every message back", func() error {
		if got := readIDs(t, n2, "q"); !slices.Equal(got, want) {
			return fmt.Errorf("ids = %v", got)
		}
		return nil
	})
}

// TestGroupCommit proposes from many goroutines at once: every proposer gets
// its own seq, and entries carry several commands each.
func TestGroupCommit(t *testing.T) {
	tests := []struct {
		name      string
		proposers int
		maxCmds   int
	}{
		{name: "defaults", proposers: 200, maxCmds: 1024},
		{name: "small batches", proposers: 100, maxCmds: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			cfg.MaxBatchCommands = tc.maxCmds
			cfg.MaxInflightEntries = 2
			n := startNode(t, cfg)
			mustPropose(t, n, queue.CreateQueue{Name: "q"})
			before := n.Stats()
			seqs := proposeConcurrently(t, n, tc.proposers)
			after := n.Stats()
			checkSeqs(t, seqs)
			entries := after.EntriesApplied - before.EntriesApplied
			commands := after.CommandsApplied - before.CommandsApplied
			if commands != uint64(tc.proposers) {
				t.Errorf("commands applied = %d, want %d", commands, tc.proposers)
			}
			if entries >= commands {
				t.Errorf("entries applied = %d for %d commands: no group commit", entries, commands)
			}
			if entries*uint64(tc.maxCmds) < commands {
				t.Errorf("entries applied = %d for %d commands: more than %d per entry", entries, commands, tc.maxCmds)
			}
			if appends := after.LogAppends - before.LogAppends; appends >= commands {
				t.Errorf("log appends = %d for %d commands", appends, commands)
			}
			t.Logf("%d commands in %d entries (%d log appends)", commands, entries, after.LogAppends-before.LogAppends)
		})
	}
}

// proposeConcurrently publishes one message from each of n goroutines,
// released together, and returns the seqs they got.
func proposeConcurrently(t *testing.T, node *Node, n int) []uint64 {
	t.Helper()
	start := make(chan struct{})
	seqs := make([]uint64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			res, err := node.Propose(ctx, queue.Publish{Queue: "q", Messages: []*queue.Message{
				{ID: fmt.Sprintf("m%d", i), Event: "e", Data: []byte("1")},
			}})
			switch {
			case err != nil:
				errs[i] = err
			case res.Err != nil || len(res.Published) != 1:
				errs[i] = fmt.Errorf("result %+v", res)
			default:
				seqs[i] = res.Published[0].Seq
			}
		}()
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("proposals failed: %v", err)
	}
	return seqs
}

// checkSeqs checks that seqs are exactly 1..len(seqs).
func checkSeqs(t *testing.T, seqs []uint64) {
	t.Helper()
	sorted := slices.Clone(seqs)
	slices.Sort(sorted)
	for i, s := range sorted {
		if s != uint64(i+1) {
			t.Fatalf("seqs are not 1..%d: sorted %v", len(seqs), sorted)
		}
	}
}

// TestTickRedelivers leaves a delivery unacked: the leader's timer proposes
// a Tick once AckWait has passed, and the message is delivered again.
func TestTickRedelivers(t *testing.T) {
	n := startNode(t, testConfig(t, t.TempDir()))
	events := &eventLog{}
	defer n.Observe(events)()
	mustPropose(t, n, queue.CreateQueue{Name: "q"})
	mustPropose(t, n, queue.Join{Queue: "q", Group: "g",
		Member: queue.MemberRef{ID: "c1", Node: n.ID(), Session: n.Session()},
		Config: queue.GroupConfig{AckWait: 200 * time.Millisecond}})
	seq := publishOne(t, n, "q", "x")
	events.waitEvent(t, "first delivery", deliverTo("c1", seq, 1))
	e := events.waitEvent(t, "redelivery after ack wait", deliverTo("c1", seq, 2))
	if e.Message == nil || e.Message.ID != "x" {
		t.Errorf("redelivered message = %+v, want id x", e.Message)
	}
}

// TestResetNodeOnRestart joins a member in run 1 and leaves its message
// unacked; in run 2 the node removes the members of run 1 and the message
// goes to a member of run 2.
func TestResetNodeOnRestart(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg)
	mustPropose(t, n, queue.CreateQueue{Name: "q"})
	mustPropose(t, n, queue.Join{Queue: "q", Group: "g",
		Member: queue.MemberRef{ID: "old", Node: n.ID(), Session: n.Session()}})
	seq := publishOne(t, n, "q", "x")
	cfg.RaftBind = n.RaftAddress()
	closeNode(t, n)

	n2 := startNode(t, cfg)
	waitFor(t, "members of run 1 removed", func() error {
		var info queue.GroupInfo
		var err error
		n2.View(func(s *queue.State) { info, err = s.Group("q", "g") })
		if err != nil || info.Members != 0 {
			return fmt.Errorf("group %+v: %w", info, err)
		}
		return nil
	})
	events := &eventLog{}
	defer n2.Observe(events)()
	mustPropose(t, n2, queue.Join{Queue: "q", Group: "g",
		Member: queue.MemberRef{ID: "new", Node: n2.ID(), Session: n2.Session()}})
	e := events.waitEvent(t, "redelivery to the new member", func(e queue.Event) bool {
		return e.Kind == queue.EventDeliver && e.Member == "new" && e.Seq == seq
	})
	if e.Attempt != 2 {
		t.Errorf("redelivery attempt = %d, want 2", e.Attempt)
	}
}

// TestFollowerWithoutLeader starts a node that must not bootstrap and has
// no state: it never becomes leader, is not ready, and refuses writes.
func TestFollowerWithoutLeader(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Bootstrap = false
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer closeNode(t, n)
	if err := n.Ready(); err == nil {
		t.Error("Ready() = nil for a node without a cluster")
	}
	if _, err := n.Propose(context.Background(), queue.CreateQueue{Name: "q"}); !errors.Is(err, ErrNotLeader) {
		t.Errorf("Propose error = %v, want ErrNotLeader", err)
	}
	if st := n.Status(); st.State != "Follower" || st.Leader != "" || len(st.Members) != 0 {
		t.Errorf("status = %+v", st)
	}
}

func TestProposeAfterClose(t *testing.T) {
	n := startNode(t, testConfig(t, t.TempDir()))
	closeNode(t, n)
	if _, err := n.Propose(context.Background(), queue.CreateQueue{Name: "q"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Propose after Close: error = %v, want ErrClosed", err)
	}
	if err := n.Ready(); err == nil {
		t.Error("Ready() = nil after Close")
	}
	if err := n.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestProposeCanceledContext(t *testing.T) {
	n := startNode(t, testConfig(t, t.TempDir()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := n.Propose(ctx, queue.CreateQueue{Name: "q"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Propose with canceled ctx: error = %v, want context.Canceled", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := DefaultConfig()
	if _, err := New(cfg); err == nil {
		t.Fatal("New with no node id, dir or address succeeded")
	}
}

// TestCloseStopsEveryGoroutine checks that a node leaves no goroutine
// behind: raft's, the transport's, the batcher's and the leader's all end.
func TestCloseStopsEveryGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	n := startNode(t, testConfig(t, t.TempDir()))
	mustPropose(t, n, queue.CreateQueue{Name: "q"})
	publishOne(t, n, "q", "a")
	closeNode(t, n)
	waitFor(t, "goroutines of the node to end", func() error {
		if got := runtime.NumGoroutine(); got > before {
			return fmt.Errorf("%d goroutines, %d before the node started", got, before)
		}
		return nil
	})
}
