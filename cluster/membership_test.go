package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
	"github.com/carriermq/carrier/test/testlog"
)

// testCluster is a set of in-process nodes with gossip on 127.0.0.1 ports
// the kernel chose. Every node it starts is closed when the test ends.
type testCluster struct {
	t     *testing.T
	nodes map[string]*Node
	logs  map[string]*testlog.Buffer
}

func newTestCluster(t *testing.T) *testCluster {
	return &testCluster{t: t, nodes: map[string]*Node{}, logs: map[string]*testlog.Buffer{}}
}

// memberConfig is a gossiping node's config: data in dir, bootstrap-expect
// expect, joining join.
func (c *testCluster) memberConfig(id, dir string, expect int, join ...string) Config {
	cfg := testConfig(c.t, dir)
	logs := &testlog.Buffer{}
	c.logs[id] = logs
	c.t.Cleanup(func() {
		if c.t.Failed() {
			c.t.Logf("logs of %s:\n%s", id, logs.String())
		}
	})
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.NodeID, cfg.Bootstrap, cfg.BootstrapExpect = id, false, expect
	cfg.GossipBind, cfg.Join = "127.0.0.1:0", join
	cfg.APIAddress = "http://" + id + ".test"
	return cfg
}

// start starts a node from cfg (closed at the end of the test or by stop).
func (c *testCluster) start(cfg Config) *Node {
	c.t.Helper()
	n, err := New(cfg)
	if err != nil {
		c.t.Fatalf("New %s: %v", cfg.NodeID, err)
	}
	c.nodes[cfg.NodeID] = n
	c.t.Cleanup(func() { closeNode(c.t, n) })
	return n
}

// stop closes a node now (Close is idempotent; the cleanup closes it again).
func (c *testCluster) stop(id string) {
	closeNode(c.t, c.nodes[id])
	delete(c.nodes, id)
}

// startThree forms a cluster of n1, n2, n3 with bootstrap-expect 3: n1
// starts first, the others join its gossip address.
func (c *testCluster) startThree() {
	c.t.Helper()
	first := c.start(c.memberConfig("n1", c.t.TempDir(), 3))
	for _, id := range []string{"n2", "n3"} {
		c.start(c.memberConfig(id, c.t.TempDir(), 3, first.GossipAddress()))
	}
	c.waitVoters("n1", "n2", "n3")
}

// leader returns the only node in the Leader state once every running
// member of its configuration knows it, waiting for that.
func (c *testCluster) leader() *Node {
	c.t.Helper()
	var lead *Node
	waitFor(c.t, "one leader known by its members", func() error {
		lead = nil
		for _, n := range c.nodes {
			if n.Status().State == "Leader" {
				if lead != nil {
					return fmt.Errorf("two leaders: %s and %s", lead.ID(), n.ID())
				}
				lead = n
			}
		}
		if lead == nil {
			return errors.New("no leader")
		}
		for _, m := range lead.Status().Members {
			if n, ok := c.nodes[m.ID]; ok && m.Suffrage != "None" && n.Status().Leader != lead.ID() {
				return fmt.Errorf("%s does not know leader %s yet", m.ID, lead.ID())
			}
		}
		return nil
	})
	return lead
}

// waitVoters waits until the leader's configuration is exactly ids, all voters.
func (c *testCluster) waitVoters(ids ...string) {
	c.t.Helper()
	slices.Sort(ids)
	waitFor(c.t, fmt.Sprintf("voters %v", ids), func() error {
		got := c.raftMembers(c.leader())
		want := make([]string, len(ids))
		for i, id := range ids {
			want[i] = id + ":Voter"
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("configuration %v", got)
		}
		return nil
	})
}

// raftMembers lists "id:suffrage" of n's Raft configuration, sorted.
func (c *testCluster) raftMembers(n *Node) []string {
	conf, err := n.configuration()
	if err != nil {
		c.t.Fatalf("configuration: %v", err)
	}
	var out []string
	for _, s := range conf.Servers {
		out = append(out, string(s.ID)+":"+s.Suffrage.String())
	}
	slices.Sort(out)
	return out
}

func TestBootstrapExpectFormsOneCluster(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	lead := c.leader()
	mustPropose(t, lead, queue.CreateQueue{Name: "q"})
	publishOne(t, lead, "q", "m1")
	for id, n := range c.nodes {
		waitFor(t, "replicated to "+id, func() error {
			if ids := readIDsQuiet(n, "q"); !slices.Equal(ids, []string{"m1"}) {
				return fmt.Errorf("ids %v", ids)
			}
			return nil
		})
		if got := c.raftMembers(n); len(got) != 3 {
			t.Errorf("%s configuration = %v, want 3 voters", id, got)
		}
	}
	st := lead.Status()
	for _, m := range st.Members {
		if m.Gossip != "alive" || m.APIAddress != "http://"+m.ID+".test" {
			t.Errorf("member %s: gossip %q api %q, want alive and its address", m.ID, m.Gossip, m.APIAddress)
		}
	}
}

func TestMemberAPIAddress(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	n1 := c.nodes["n1"]
	for _, id := range []string{"n1", "n2", "n3"} {
		if got, ok := n1.MemberAPIAddress(id); !ok || got != "http://"+id+".test" {
			t.Errorf("MemberAPIAddress(%s) = %q, %v; want its address", id, got, ok)
		}
	}
	if got, ok := n1.MemberAPIAddress("n9"); ok {
		t.Errorf("MemberAPIAddress(n9) = %q, true; want false for a node never seen", got)
	}
	c.stop("n3")
	waitFor(t, "n3 gone from n1's gossip", func() error {
		if got, ok := n1.MemberAPIAddress("n3"); ok {
			return fmt.Errorf("still %q", got)
		}
		return nil
	})
}

// readIDsQuiet is readIDs for polling: a missing queue is an empty list.
func readIDsQuiet(n *Node, q string) []string {
	var ids []string
	n.View(func(s *queue.State) {
		msgs, err := s.Read(q, 1, 1<<20)
		if err != nil {
			return
		}
		for _, m := range msgs {
			ids = append(ids, m.ID)
		}
	})
	return ids
}

func TestEmptyNodeJoinsAsNonvoterAndIsPromoted(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	mustPropose(t, c.leader(), queue.CreateQueue{Name: "q"})
	publishOne(t, c.leader(), "q", "before")
	c.start(c.memberConfig("n4", t.TempDir(), 3, c.nodes["n2"].GossipAddress()))
	c.waitVoters("n1", "n2", "n3", "n4")
	lead := c.leader()
	if logs := c.logs[lead.ID()].String(); !strings.Contains(logs, "change=\"add nonvoter\" member=n4") {
		t.Errorf("leader %s did not add n4 as a nonvoter first", lead.ID())
	}
	waitFor(t, "n4 has the data", func() error {
		if ids := readIDsQuiet(c.nodes["n4"], "q"); !slices.Equal(ids, []string{"before"}) {
			return fmt.Errorf("ids %v", ids)
		}
		return nil
	})
	if c.nodes["n4"].Ready() != nil {
		waitFor(t, "n4 ready", c.nodes["n4"].Ready)
	}
}

func TestRemovedNodeWithDataIsNotReadded(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	dir := t.TempDir()
	c.start(c.memberConfig("n4", dir, 3, c.nodes["n1"].GossipAddress()))
	c.waitVoters("n1", "n2", "n3", "n4")
	ctx := context.Background()
	if err := c.leader().RemoveMember(ctx, "n4"); err != nil {
		t.Fatalf("RemoveMember n4: %v", err)
	}
	c.waitVoters("n1", "n2", "n3")
	c.stop("n4")

	c.start(c.memberConfig("n4", dir, 3, c.nodes["n1"].GossipAddress()))
	lead := c.leader()
	waitFor(t, "the leader saw n4 back with state and left it out", func() error {
		if !strings.Contains(c.logs[lead.ID()].String(), "not re-adding a node with Raft state") {
			return errors.New("not yet")
		}
		return nil
	})
	if got := c.raftMembers(lead); !slices.Equal(got, []string{"n1:Voter", "n2:Voter", "n3:Voter"}) {
		t.Fatalf("configuration after n4 returned = %v, want n1-n3 only", got)
	}
	if err := lead.AddMember(ctx, "n4", c.nodes["n4"].RaftAddress()); err != nil {
		t.Fatalf("AddMember n4: %v", err)
	}
	c.waitVoters("n1", "n2", "n3", "n4")
}

func TestNodeWithStateNeverBootstraps(t *testing.T) {
	// n1 has Raft state from a single-node run; n2 and n3 are empty. With
	// bootstrap-expect 3 the empty ones see a member with state and wait.
	dir1 := t.TempDir()
	single := testConfig(t, dir1)
	old := startNode(t, single)
	mustPropose(t, old, queue.CreateQueue{Name: "q"})
	publishOne(t, old, "q", "old")
	closeNode(t, old)

	c := newTestCluster(t)
	first := c.start(c.memberConfig("n1", dir1, 3))
	for _, id := range []string{"n2", "n3"} {
		c.start(c.memberConfig(id, t.TempDir(), 3, first.GossipAddress()))
	}
	for _, id := range []string{"n2", "n3"} {
		waitFor(t, id+" refuses to bootstrap", func() error {
			if !strings.Contains(c.logs[id].String(), "node n1 already has Raft state") {
				return errors.New("not yet")
			}
			return nil
		})
	}
	// n1 leads its old single-voter cluster again and adds the empty nodes.
	c.waitVoters("n1", "n2", "n3")
	if ids := readIDsQuiet(c.leader(), "q"); !slices.Equal(ids, []string{"old"}) {
		t.Errorf("ids after forming = %v, want the old message only", ids)
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		if strings.Contains(c.logs[id].String(), "bootstrapping the cluster") {
			t.Errorf("%s bootstrapped", id)
		}
	}
}

func TestRemoveRefusals(t *testing.T) {
	n := startNode(t, testConfig(t, t.TempDir()))
	ctx := context.Background()
	if err := n.RemoveMember(ctx, "n1"); !errors.Is(err, ErrLastVoter) {
		t.Errorf("remove the last voter: err = %v, want ErrLastVoter", err)
	}
	if err := n.RemoveMember(ctx, "nobody"); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("remove an unknown member: err = %v, want ErrUnknownMember", err)
	}
}

func TestBootstrapPlan(t *testing.T) {
	empty := func(name string, expect int) peer {
		return peer{Name: name, State: "alive", Meta: nodeMeta{ID: name, RaftAddr: name + ":7421", Expect: expect}}
	}
	withState := empty("c", 3)
	withState.Meta.HasState = true
	dead := empty("c", 3)
	dead.State = "dead"
	tests := []struct {
		name    string
		peers   []peer
		wantIDs []string
		wantWhy string
	}{
		{"three empty", []peer{empty("c", 3), empty("a", 3), empty("b", 3)}, []string{"a", "b", "c"}, ""},
		{"too few", []peer{empty("a", 3), empty("b", 3)}, nil, "2 empty nodes seen"},
		{"too many", []peer{empty("a", 3), empty("b", 3), empty("c", 3), empty("d", 3)}, nil, "4 empty nodes seen"},
		{"one has state", []peer{empty("a", 3), empty("b", 3), withState}, nil, "node c already has Raft state"},
		{"dead ones do not count", []peer{empty("a", 3), empty("b", 3), dead}, nil, "2 empty nodes seen"},
		{"expect mismatch", []peer{empty("a", 3), empty("b", 3), empty("c", 5)}, nil, "node c expects 5"},
		{"joiners without expect do not count", []peer{empty("a", 3), empty("b", 3), empty("c", 3), empty("d", 0)}, []string{"a", "b", "c"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, why := bootstrapPlan(3, tt.peers)
			var ids []string
			for _, s := range conf.Servers {
				ids = append(ids, string(s.ID))
				if s.Suffrage != raft.Voter || string(s.Address) != string(s.ID)+":7421" {
					t.Errorf("server %+v: want a voter at its gossiped address", s)
				}
			}
			if !slices.Equal(ids, tt.wantIDs) || !strings.Contains(why, tt.wantWhy) || (tt.wantWhy == "") != (why == "") {
				t.Errorf("plan = %v, %q; want %v, %q", ids, why, tt.wantIDs, tt.wantWhy)
			}
		})
	}
}

// TestReadyOnlyAfterReplay restarts a node with messages in its log: the
// first time Ready says yes, every stored message is already readable.
func TestReadyOnlyAfterReplay(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg)
	mustPropose(t, n, queue.CreateQueue{Name: "q"})
	var want []string
	for i := range 20 {
		id := fmt.Sprintf("m%d", i)
		publishOne(t, n, "q", id)
		want = append(want, id)
	}
	cfg.RaftBind = n.RaftAddress()
	closeNode(t, n)

	n2, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { closeNode(t, n2) })
	waitFor(t, "ready after restart", n2.Ready)
	if got := readIDsQuiet(n2, "q"); !slices.Equal(got, want) {
		t.Errorf("ids when first ready = %v, want %v", got, want)
	}
}

func TestDeadServerRemovalKeepsBootstrapExpect(t *testing.T) {
	c := newTestCluster(t)
	start := func(id string, join ...string) {
		cfg := c.memberConfig(id, t.TempDir(), 3, join...)
		cfg.DeadServerAfter = time.Second
		c.start(cfg)
	}
	start("n1")
	start("n2", c.nodes["n1"].GossipAddress())
	start("n3", c.nodes["n1"].GossipAddress())
	start("n4", c.nodes["n1"].GossipAddress())
	c.waitVoters("n1", "n2", "n3", "n4")

	c.stop("n4")
	c.waitVoters("n1", "n2", "n3") // four voters may shrink to three

	victim := "n3"
	if c.leader().ID() == victim {
		victim = "n2"
	}
	c.stop(victim)
	lead := c.leader()
	waitFor(t, "the leader keeps "+victim, func() error {
		if !strings.Contains(c.logs[lead.ID()].String(), "dead server kept") {
			return errors.New("not yet")
		}
		return nil
	})
	if got := c.raftMembers(lead); len(got) != 3 {
		t.Errorf("configuration = %v, want three voters kept (bootstrap-expect 3)", got)
	}
}

func TestWipedVoterRule(t *testing.T) {
	m := &membership{stateSession: map[string]string{"seen": "s1"}}
	tests := []struct {
		name     string
		p        peer
		wantWipe bool
	}{
		{"new run without state after one with state", peer{Name: "seen", Meta: nodeMeta{Session: "s2"}}, true},
		{"stale metadata of the run seen with state", peer{Name: "seen", Meta: nodeMeta{Session: "s1"}}, false},
		{"never seen with state (just bootstrapped)", peer{Name: "fresh", Meta: nodeMeta{Session: "s9"}}, false},
		{"new run with state", peer{Name: "seen", Meta: nodeMeta{Session: "s2", HasState: true}}, false},
	}
	for _, tt := range tests {
		if got := m.wiped(tt.p); got != tt.wantWipe {
			t.Errorf("%s: wiped = %v, want %v", tt.name, got, tt.wantWipe)
		}
	}
}

func TestCommitBefore(t *testing.T) {
	now := time.Now()
	m := &membership{commits: []commitSample{
		{now.Add(-5 * time.Second), 10}, {now.Add(-3 * time.Second), 20}, {now.Add(-time.Second), 30}, {now, 40},
	}}
	for _, tt := range []struct {
		d    time.Duration
		want uint64
	}{{0, 40}, {2 * time.Second, 20}, {4 * time.Second, 10}, {time.Minute, 10}} {
		if got := m.commitBefore(tt.d); got != tt.want {
			t.Errorf("commitBefore(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// TestPromotionUnderLoad adds an empty node while the leader commits a
// steady stream of publishes: it is promoted although its gossiped applied
// index is always a little behind the commit index.
func TestPromotionUnderLoad(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	lead := c.leader()
	mustPropose(t, lead, queue.CreateQueue{Name: "q"})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				_, _ = lead.Propose(ctx, queue.Publish{Queue: "q", Messages: []*queue.Message{
					{ID: fmt.Sprintf("w%d-%d", w, i), Event: "load", Data: []byte(`1`)}}})
				cancel()
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	c.start(c.memberConfig("n4", t.TempDir(), 3, c.nodes["n1"].GossipAddress()))
	c.waitVoters("n1", "n2", "n3", "n4")
}

// TestJoinRetriesUntilEveryTargetIsReached: n2's only join target (n1) is
// not listening yet when n2 starts; n3 then joins n2, so n2 is no longer
// alone — but n1 has no join targets of its own. n2 must keep retrying n1
// (seeing some peer is not enough), or gossip stays split and the cluster of
// three never forms.
func TestJoinRetriesUntilEveryTargetIsReached(t *testing.T) {
	c := newTestCluster(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n1Addr := ln.Addr().String()
	ln.Close()
	n2 := c.start(c.memberConfig("n2", t.TempDir(), 3, n1Addr))
	c.start(c.memberConfig("n3", t.TempDir(), 3, n2.GossipAddress()))
	cfg := c.memberConfig("n1", t.TempDir(), 3)
	cfg.GossipBind = n1Addr
	c.start(cfg)
	c.waitVoters("n1", "n2", "n3")
}
