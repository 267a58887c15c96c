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

	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
)

// startTrio starts three nodes on loopback and bootstraps them as one
// three-voter cluster (an explicit configuration, as membership's
// bootstrap-expect would make). It returns once every node is ready, knows
// the same leader and has applied its own ResetNode.
func startTrio(t testing.TB) []*Node {
	t.Helper()
	var nodes []*Node
	var conf raft.Configuration
	for i := 1; i <= 3; i++ {
		cfg := testConfig(t, t.TempDir())
		cfg.NodeID = fmt.Sprintf("n%d", i)
		cfg.Bootstrap = false
		n, err := New(cfg)
		if err != nil {
			t.Fatalf("New %s: %v", cfg.NodeID, err)
		}
		t.Cleanup(func() { closeNode(t, n) })
		nodes = append(nodes, n)
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(n.ID()), Address: raft.ServerAddress(n.RaftAddress()),
		})
	}
	for _, n := range nodes { // every node, as bootstrap-expect does: an empty node refuses votes
		if err := n.group.raft.BootstrapCluster(conf).Error(); err != nil {
			t.Fatalf("bootstrap %s: %v", n.ID(), err)
		}
		n.group.guard.lift("bootstrapped by the test")
	}
	waitTrio(t, nodes)
	return nodes
}

// waitTrio waits until every node is ready with the same leader and has
// applied its own ResetNode.
func waitTrio(t testing.TB, nodes []*Node) {
	t.Helper()
	waitFor(t, "one leader, every node ready and reset", func() error {
		leader := nodes[0].Status().Leader
		for _, n := range nodes {
			if err := n.Ready(); err != nil {
				return fmt.Errorf("%s: %w", n.ID(), err)
			}
			if l := n.Status().Leader; l != leader {
				return fmt.Errorf("%s sees leader %q, %s sees %q", n.ID(), l, nodes[0].ID(), leader)
			}
			if !n.group.resetDone.Load() {
				return fmt.Errorf("%s: ResetNode not applied yet", n.ID())
			}
		}
		return nil
	})
}

// split returns the leader and the followers.
func split(t testing.TB, nodes []*Node) (*Node, []*Node) {
	t.Helper()
	var leader *Node
	var followers []*Node
	for _, n := range nodes {
		if n.Status().State == "Leader" {
			leader = n
		} else {
			followers = append(followers, n)
		}
	}
	if leader == nil || len(followers) != len(nodes)-1 {
		t.Fatalf("want one leader among %d nodes, got leader %v", len(nodes), leader)
	}
	return leader, followers
}

// TestForwardedWriteVisibleOnFollower: a write proposed on a follower is
// committed through the leader and visible on that follower as soon as
// Propose returns (read-your-writes on the node a client talks to).
func TestForwardedWriteVisibleOnFollower(t *testing.T) {
	nodes := startTrio(t)
	leader, fs := split(t, nodes)
	res := mustPropose(t, fs[0], queue.CreateQueue{Name: "q"})
	if res.Queue == nil || res.Queue.Name != "q" || res.Queue.Config.DedupWindow == 0 {
		t.Fatalf("create queue on a follower: queue info %+v", res.Queue)
	}
	var want []string
	for i := range 5 {
		id := fmt.Sprintf("m%d", i)
		want = append(want, id)
		if seq := publishOne(t, fs[0], "q", id); seq != uint64(i+1) {
			t.Fatalf("publish %s: seq %d, want %d", id, seq, i+1)
		}
		if got := readIDs(t, fs[0], "q"); !slices.Equal(got, want) {
			t.Fatalf("right after publish %s the follower has %v, want %v", id, got, want)
		}
	}
	res = mustPropose(t, fs[1], queue.Publish{Queue: "q", Messages: []*queue.Message{{ID: "m0", Event: "e"}}})
	if a := res.Published; len(a) != 1 || !a[0].Duplicate || a[0].Seq != 1 {
		t.Errorf("re-publish of m0 through the other follower: %+v, want duplicate of seq 1", a)
	}
	res, err := fs[1].Propose(context.Background(), queue.Publish{Queue: "nope", Messages: []*queue.Message{{ID: "x"}}})
	if err != nil || queue.CodeOf(res.Err) != queue.CodeQueueNotFound {
		t.Errorf("publish to a missing queue: res.Err %v, err %v; want %s", res.Err, err, queue.CodeQueueNotFound)
	}
	_, err = fs[1].Propose(context.Background(), queue.Publish{Queue: "q", Messages: []*queue.Message{nil}})
	if queue.CodeOf(err) != queue.CodeBadCommand {
		t.Errorf("publish of a nil message through a follower: %v, want %s", err, queue.CodeBadCommand)
	}
	waitFor(t, "every node has the writes", func() error {
		for _, n := range []*Node{leader, fs[1]} {
			if got := readIDs(t, n, "q"); !slices.Equal(got, want) {
				return fmt.Errorf("%s has %v", n.ID(), got)
			}
		}
		return nil
	})
}

// TestForwardBatches: concurrent proposals on a follower share forward
// requests, and each proposer gets its own result.
func TestForwardBatches(t *testing.T) {
	nodes := startTrio(t)
	_, fs := split(t, nodes)
	f := fs[0]
	mustPropose(t, f, queue.CreateQueue{Name: "q"})
	reqs0, cmds0 := f.group.fwd.requests.Load(), f.group.fwd.commands.Load()
	const n = 200
	seqs := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.Propose(context.Background(), queue.Publish{Queue: "q",
				Messages: []*queue.Message{{ID: fmt.Sprintf("m%d", i), Event: "e"}}})
			if err != nil || res.Err != nil || len(res.Published) != 1 {
				t.Errorf("publish %d: %+v, %v", i, res, err)
				return
			}
			seqs[i] = res.Published[0].Seq
		}()
	}
	wg.Wait()
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("sorted seqs[%d] = %d, want %d (seqs %v)", i, s, i+1, seqs)
		}
	}
	reqs, cmds := f.group.fwd.requests.Load()-reqs0, f.group.fwd.commands.Load()-cmds0
	if cmds != n || reqs >= n {
		t.Errorf("forwarded %d commands in %d requests, want %d commands in fewer requests", cmds, reqs, n)
	}
	t.Logf("%d commands in %d forward requests", cmds, reqs)
}

// confirmed is what a producer was told: message id → seq.
type confirmed struct {
	mu   sync.Mutex
	seqs map[string]uint64
	errs map[string]int // error kinds seen while retrying
}

func (c *confirmed) add(id string, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seqs[id] = seq
}

func (c *confirmed) failed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kind := "other"
	switch {
	case errors.Is(err, ErrUnknownOutcome):
		kind = "unknown"
	case errors.Is(err, ErrNotLeader):
		kind = "not-leader"
	}
	c.errs[kind]++
}

func (c *confirmed) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seqs)
}

// produce publishes count messages on n, one at a time, retrying each with
// the same id until it is confirmed (at most for waitTimeout).
func produce(t *testing.T, n *Node, name string, count int, got *confirmed) {
	for i := range count {
		id := fmt.Sprintf("%s-%d", name, i)
		deadline := time.Now().Add(waitTimeout)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := n.Propose(ctx, queue.Publish{Queue: "q", Messages: []*queue.Message{{ID: id, Event: "e"}}})
			cancel()
			if err == nil && res.Err == nil && len(res.Published) == 1 && res.Published[0].Err == nil {
				got.add(id, res.Published[0].Seq)
				break
			}
			if err == nil || !(errors.Is(err, ErrNotLeader) || errors.Is(err, ErrUnknownOutcome)) {
				t.Errorf("publish %s: unexpected outcome %+v, %v", id, res, err)
				return
			}
			got.failed(err)
			if time.Now().After(deadline) {
				t.Errorf("publish %s: not confirmed by the deadline: %v", id, err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// startProducers runs producers goroutines, spread over the followers fs,
// each publishing perProducer messages one at a time into got, and returns
// once at least min publishes are confirmed. Wait on the WaitGroup for the
// producers to finish.
func startProducers(t *testing.T, fs []*Node, producers, perProducer int, got *confirmed, min int) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	for i := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := fs[i%len(fs)]
			produce(t, f, fmt.Sprintf("%s-p%d", f.ID(), i), perProducer, got)
		}()
	}
	waitFor(t, "some confirmed publishes", func() error {
		if c := got.count(); c < min {
			return fmt.Errorf("%d confirmed", c)
		}
		return nil
	})
	return &wg
}

// TestForwardLeaderLost: producers on both followers (three each, one
// publish at a time each) keep publishing while
// the leader is closed. Every proposal either fails with ErrNotLeader or
// ErrUnknownOutcome, or succeeds; retries with the same ids succeed once a
// new leader is elected; and every success is true: the message is stored
// once, at the confirmed seq, on both surviving nodes.
func TestForwardLeaderLost(t *testing.T) {
	nodes := startTrio(t)
	leader, fs := split(t, nodes)
	mustPropose(t, leader, queue.CreateQueue{Name: "q"})
	got := &confirmed{seqs: map[string]uint64{}, errs: map[string]int{}}
	const producers, perProducer = 6, 40
	wg := startProducers(t, fs, producers, perProducer, got, 40)
	closeNode(t, leader)
	wg.Wait()
	if t.Failed() {
		return
	}
	if c := got.count(); c != producers*perProducer {
		t.Fatalf("%d confirmed publishes, want %d", c, producers*perProducer)
	}
	t.Logf("errors while retrying: %v", got.errs)
	for _, n := range fs {
		checkConfirmed(t, n, got.seqs)
	}
}

// checkConfirmed checks that every confirmed id is stored at its seq, and
// no id is stored twice.
func checkConfirmed(t *testing.T, n *Node, want map[string]uint64) {
	t.Helper()
	waitFor(t, n.ID()+" applies every confirmed publish", func() error {
		var last uint64
		n.View(func(s *queue.State) {
			if info, err := s.Queue("q"); err == nil {
				last = info.LastSeq
			}
		})
		for _, seq := range want {
			if seq > last {
				return fmt.Errorf("last seq %d, a confirmed publish has seq %d", last, seq)
			}
		}
		return nil
	})
	stored := map[string]uint64{}
	n.View(func(s *queue.State) {
		msgs, err := s.Read("q", 1, 1<<20)
		if err != nil {
			t.Fatalf("read on %s: %v", n.ID(), err)
		}
		for _, m := range msgs {
			if prev, dup := stored[m.ID]; dup {
				t.Errorf("%s: id %s stored twice, seqs %d and %d", n.ID(), m.ID, prev, m.Seq)
			}
			stored[m.ID] = m.Seq
		}
	})
	for id, seq := range want {
		if stored[id] != seq {
			t.Errorf("%s: confirmed %s at seq %d, stored at %d", n.ID(), id, seq, stored[id])
		}
	}
}

// consumer is a group member on one node: it acks, through that node, what
// that node's applied events deliver to it.
type consumer struct {
	node   *Node
	member string
	events *eventLog
	acked  map[uint64]bool
}

// ackNew acks every delivery to c not acked yet and returns how many.
func (c *consumer) ackNew(t *testing.T) int {
	t.Helper()
	var seqs []uint64
	c.events.mu.Lock()
	for _, e := range c.events.events {
		if e.Kind == queue.EventDeliver && e.Member == c.member && !c.acked[e.Seq] {
			if e.Attempt != 1 {
				t.Errorf("%s got seq %d at attempt %d", c.member, e.Seq, e.Attempt)
			}
			seqs = append(seqs, e.Seq)
			c.acked[e.Seq] = true
		}
	}
	c.events.mu.Unlock()
	if len(seqs) > 0 {
		res := mustPropose(t, c.node, queue.Ack{Queue: "q", Group: "g", Member: c.member, Seqs: seqs})
		if res.Count != len(seqs) {
			t.Errorf("%s acked %v: count %d", c.member, seqs, res.Count)
		}
	}
	return len(seqs)
}

// TestGroupAcrossFollowers: members of one group on two followers share the
// messages published on the leader: each message is delivered to one
// member, once, and the acks forwarded from each follower complete it.
func TestGroupAcrossFollowers(t *testing.T) {
	nodes := startTrio(t)
	leader, fs := split(t, nodes)
	mustPropose(t, leader, queue.CreateQueue{Name: "q"})
	var cs []*consumer
	for i, f := range fs {
		c := &consumer{node: f, member: fmt.Sprintf("m%d", i), events: &eventLog{}, acked: map[uint64]bool{}}
		t.Cleanup(f.Observe(c.events))
		mustPropose(t, f, queue.Join{Queue: "q", Group: "g",
			Member: queue.MemberRef{ID: c.member, Node: f.ID(), Session: f.Session()},
			Config: queue.GroupConfig{MaxInFlight: 1, AckWait: time.Hour}})
		cs = append(cs, c)
	}
	const total = 20
	for i := range total {
		publishOne(t, leader, "q", fmt.Sprintf("x%d", i))
	}
	waitFor(t, "every message acked", func() error {
		done := 0
		for _, c := range cs {
			c.ackNew(t)
			done += len(c.acked)
		}
		if done < total {
			return fmt.Errorf("%d of %d acked", done, total)
		}
		return nil
	})
	if len(cs[0].acked)+len(cs[1].acked) != total || len(cs[0].acked) == 0 || len(cs[1].acked) == 0 {
		t.Errorf("acked by %s: %d, by %s: %d; want %d in all, some each", cs[0].member, len(cs[0].acked),
			cs[1].member, len(cs[1].acked), total)
	}
	for seq := range cs[0].acked {
		if cs[1].acked[seq] {
			t.Errorf("seq %d delivered to both members", seq)
		}
	}
	var info queue.GroupInfo
	leader.View(func(s *queue.State) { info, _ = s.Group("q", "g") })
	if info.Unacked != 0 || info.Pending != 0 || info.AckFloor != total {
		t.Errorf("group after the acks: %+v", info)
	}
}

// TestNodeGoneRedelivers: a member's node is closed and reported dead;
// the message it held unacked is redelivered to a member on another node.
// The report comes either to a follower (cleanUpDead, forwarded to the
// leader) or from the leader's periodic check of gossip's dead nodes.
func TestNodeGoneRedelivers(t *testing.T) {
	for _, via := range []string{"follower", "leader-check"} {
		t.Run(via, func(t *testing.T) {
			nodes := startTrio(t)
			leader, fs := split(t, nodes)
			gone, live := fs[0], fs[1]
			report := func() { live.cleanUpDead([]string{"n9", gone.ID()}) } // n9 has no members: nothing to do
			if via == "leader-check" {
				report = func() { leader.group.setDeadNodes(func() []string { return []string{gone.ID()} }) }
			}
			testNodeGone(t, leader, gone, live, report)
		})
	}
}

func testNodeGone(t *testing.T, leader, gone, live *Node, report func()) {
	mustPropose(t, leader, queue.CreateQueue{Name: "q"})
	events := &eventLog{}
	t.Cleanup(live.Observe(events))
	group := queue.GroupConfig{MaxInFlight: 1, AckWait: time.Hour}
	mustPropose(t, gone, queue.Join{Queue: "q", Group: "g",
		Member: queue.MemberRef{ID: "on-gone", Node: gone.ID(), Session: gone.Session()}, Config: group})
	seq := publishOne(t, leader, "q", "x")
	events.waitEvent(t, "delivery to the member on the node that goes", deliverTo("on-gone", seq, 1))
	mustPropose(t, live, queue.Join{Queue: "q", Group: "g",
		Member: queue.MemberRef{ID: "on-live", Node: live.ID(), Session: live.Session()}, Config: group})
	closeNode(t, gone)
	report()
	events.waitEvent(t, "redelivery to the member on a live node", deliverTo("on-live", seq, 2))
	var members []queue.MemberRef
	live.View(func(s *queue.State) { members, _ = s.Members("q", "g") })
	if len(members) != 1 || members[0].ID != "on-live" {
		t.Errorf("members after the clean-up: %+v", members)
	}
}

// TestForwardClose: a closed follower refuses proposals with ErrClosed,
// and once the three nodes are closed no goroutine of theirs is left:
// forward connections (both ends), the mux and the workers all end.
func TestForwardClose(t *testing.T) {
	before := runtime.NumGoroutine()
	nodes := startTrio(t)
	leader, fs := split(t, nodes)
	mustPropose(t, fs[0], queue.CreateQueue{Name: "q"})
	publishOne(t, fs[1], "q", "a")
	closeNode(t, fs[0])
	if _, err := fs[0].Propose(context.Background(), queue.CreateQueue{Name: "r"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Propose after Close: %v, want ErrClosed", err)
	}
	closeNode(t, leader)
	closeNode(t, fs[1])
	waitFor(t, "goroutines of the nodes to end", func() error {
		if got := runtime.NumGoroutine(); got > before {
			return fmt.Errorf("%d goroutines, %d before the nodes started", got, before)
		}
		return nil
	})
}

// TestForwardLeaderChangeClosesConnection: when raft names a new leader, a
// follower closes its connection to the old one at once (requests a paused
// or partitioned old leader holds end then, not at their deadline), and
// its next write goes to the new leader.
func TestForwardLeaderChangeClosesConnection(t *testing.T) {
	nodes := startTrio(t)
	leader, fs := split(t, nodes)
	f := fs[0]
	mustPropose(t, f, queue.CreateQueue{Name: "q"})
	old := f.group.fwd.current.Load()
	if old == nil || old.leader != leader.ID() {
		t.Fatalf("follower's forward connection: %+v, want one to %s", old, leader.ID())
	}
	to := fs[1]
	if err := leader.group.raft.LeadershipTransferToServer(raft.ServerID(to.ID()), raft.ServerAddress(to.RaftAddress())).Error(); err != nil {
		t.Fatalf("leadership transfer: %v", err)
	}
	waitFor(t, "the connection to the old leader to close", func() error {
		if !old.isDead() {
			return errors.New("still open")
		}
		return nil
	})
	publishOne(t, f, "q", "after")
	if c := f.group.fwd.current.Load(); c == nil || c.leader != to.ID() {
		t.Errorf("after the transfer the follower forwards on %+v, want a connection to %s", c, to.ID())
	}
}

// TestForwardLeadershipTransfer: producers on both followers keep
// publishing while the leader hands leadership to one of them (what
// SIGTERM does). Every publish is confirmed once, and what was confirmed is
// stored at its seq on every node. (Refused commands are sent again by the
// follower; unknown outcomes, rare here, are retried by the producer.)
func TestForwardLeadershipTransfer(t *testing.T) {
	nodes := startTrio(t)
	leader, fs := split(t, nodes)
	mustPropose(t, leader, queue.CreateQueue{Name: "q"})
	got := &confirmed{seqs: map[string]uint64{}, errs: map[string]int{}}
	const producers, perProducer = 4, 40
	wg := startProducers(t, fs, producers, perProducer, got, 30)
	to := fs[1]
	if err := leader.group.raft.LeadershipTransferToServer(raft.ServerID(to.ID()), raft.ServerAddress(to.RaftAddress())).Error(); err != nil {
		t.Fatalf("leadership transfer: %v", err)
	}
	wg.Wait()
	if c := got.count(); c != producers*perProducer {
		t.Fatalf("%d confirmed publishes, want %d", c, producers*perProducer)
	}
	t.Logf("errors the producers saw: %v", got.errs)
	for _, n := range nodes {
		checkConfirmed(t, n, got.seqs)
	}
}
