package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/carriermq/carrier/queue"
	"github.com/carriermq/carrier/test/testlog"
)

// waitTimeout bounds every poll in these tests; conditions normally hold
// within milliseconds, the margin is for a loaded machine.
const waitTimeout = 20 * time.Second

// waitFor polls cond until it returns nil or waitTimeout passes.
func waitFor(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testConfig is a single-node config on a kernel-chosen loopback port whose
// logs are shown only when the test fails.
func testConfig(t testing.TB, dir string) Config {
	t.Helper()
	logger := testlog.New(t, "node logs")
	cfg := DefaultConfig()
	cfg.NodeID = "n1"
	cfg.DataDir = dir
	cfg.Store = StoreDisk // the default of carrier serve
	cfg.RaftBind = "127.0.0.1:0"
	cfg.Bootstrap = true
	cfg.Logger = logger
	cfg.RaftLogLevel = slog.LevelInfo
	return cfg
}

// startNode starts a node, closes it when the test ends, and waits until it
// is the ready leader and has applied its ResetNode (so that the test's own
// proposals are the only ones left).
func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { closeNode(t, n) })
	waitFor(t, "leader and ready", func() error {
		if st := n.Status(); st.State != "Leader" {
			return errors.New("state " + st.State)
		}
		if !n.group.resetDone.Load() {
			return errors.New("ResetNode of this session not applied yet")
		}
		return n.Ready()
	})
	return n
}

func closeNode(t testing.TB, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// mustPropose proposes cmd and fails the test on any error, the state's included.
func mustPropose(t testing.TB, n *Node, cmd queue.Command) queue.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	res, err := n.Propose(ctx, cmd)
	if err != nil {
		t.Fatalf("Propose %T: %v", cmd, err)
	}
	if res.Err != nil {
		t.Fatalf("Propose %T: rejected: %v", cmd, res.Err)
	}
	return res
}

func publishOne(t *testing.T, n *Node, q, id string) uint64 {
	t.Helper()
	res := mustPropose(t, n, queue.Publish{Queue: q, Messages: []*queue.Message{
		{ID: id, Event: "test", Data: []byte(`{"id":"` + id + `"}`)},
	}})
	if len(res.Published) != 1 || res.Published[0].Err != nil {
		t.Fatalf("publish %s: got %+v", id, res.Published)
	}
	return res.Published[0].Seq
}

// readIDs returns the ids of every stored message of q, in seq order.
func readIDs(t *testing.T, n *Node, q string) []string {
	t.Helper()
	var ids []string
	var err error
	n.View(func(s *queue.State) {
		var msgs []*queue.Message
		msgs, err = s.Read(q, 1, 1<<20)
		for _, m := range msgs {
			ids = append(ids, m.ID)
		}
	})
	if err != nil {
		t.Fatalf("read %s: %v", q, err)
	}
	return ids
}

// eventLog is an Observer that records events for polling.
type eventLog struct {
	mu     sync.Mutex
	events []queue.Event
}

func (l *eventLog) OnApply(events []queue.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, events...)
}

// find returns the first recorded event that match accepts.
func (l *eventLog) find(match func(queue.Event) bool) (queue.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if match(e) {
			return e, true
		}
	}
	return queue.Event{}, false
}

// waitEvent polls until an event matching match was observed.
func (l *eventLog) waitEvent(t *testing.T, what string, match func(queue.Event) bool) queue.Event {
	t.Helper()
	var got queue.Event
	waitFor(t, what, func() error {
		e, ok := l.find(match)
		if !ok {
			return errors.New("not observed yet")
		}
		got = e
		return nil
	})
	return got
}

func deliverTo(member string, seq uint64, attempt int) func(queue.Event) bool {
	return func(e queue.Event) bool {
		return e.Kind == queue.EventDeliver && e.Member == member && e.Seq == seq && e.Attempt == attempt
	}
}
