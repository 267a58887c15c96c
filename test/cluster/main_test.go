package clustertest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/carriermq/carrier/test/checker"
)

var (
	formationRuns = flag.Int("formation-runs", envInt("CARRIER_FORMATION_RUNS", 1), "times TestFormation forms a fresh 3-node cluster")
	leaderKills   = flag.Int("leader-kills", envInt("CARRIER_LEADER_KILLS", 10), "kill -9 rounds of TestKillLeaderUnderLoad")
)

// carrierBin is the binary built once by TestMain.
var carrierBin string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	return RunWithBuild(m, "cluster tests", func(ctx context.Context, dir string) (err error) {
		carrierBin, err = Build(ctx, dir)
		return err
	})
}

func envInt(key string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(key), &n); err != nil || n <= 0 {
		return def
	}
	return n
}

// startCluster starts size nodes at once with --bootstrap-expect size and
// waits until all are ready and agree on a leader. t.Cleanup kills every
// node, and prints their logs when t failed.
func startCluster(t *testing.T, size int, extraArgs ...string) *Cluster {
	t.Helper()
	return startClusterWith(t, Options{Size: size, ExtraArgs: extraArgs})
}

// startClusterWith is startCluster with opts (Bin and Dir are set here).
func startClusterWith(t *testing.T, opts Options) *Cluster {
	t.Helper()
	opts.Bin, opts.Dir = carrierBin, t.TempDir()
	return Start(t, opts, 6000)
}

// timeout is a context ending after d or at the end of t.
func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// load is a checked workload: one producer through every node and a
// consumer group with one member on each of the first two nodes.
type load struct {
	h         *checker.History
	queue     string
	producers []*Producer
	consumers []*Consumer
}

// startLoad starts the workload on queue; t.Cleanup stops it.
func startLoad(t *testing.T, c *Cluster, queue string) *load {
	t.Helper()
	l := &load{h: checker.NewHistory(), queue: queue}
	ctx := timeout(t, 30*time.Second)
	nodes := c.Nodes()
	for i, n := range nodes {
		p, err := StartProducer(ctx, "p"+n.ID, queue, rotate(c.URLs(), i), l.h, ProducerOptions{TLS: c.ClientTLS()})
		if err != nil {
			t.Fatal(err)
		}
		l.producers = append(l.producers, p)
	}
	for i := range min(2, len(nodes)) {
		m, err := StartConsumer(ctx, nodes[i].ID, queue, "checker", rotate(c.URLs(), i), l.h, c.ClientTLS())
		if err != nil {
			t.Fatal(err)
		}
		l.consumers = append(l.consumers, m)
	}
	t.Cleanup(l.stop)
	return l
}

// rotate returns s starting at index i.
func rotate(s []string, i int) []string {
	return append(append([]string(nil), s[i:]...), s[:i]...)
}

func (l *load) stopProducers() {
	for _, p := range l.producers {
		p.Stop()
	}
}

func (l *load) stop() {
	l.stopProducers()
	for _, m := range l.consumers {
		m.Stop()
	}
}

// waitConfirmed waits until at least n more publishes are confirmed than
// when it was called: the load is flowing.
func (l *load) waitConfirmed(t *testing.T, n int, within time.Duration) {
	t.Helper()
	start, _ := l.h.Counts()
	err := Poll(timeout(t, within), 20*time.Millisecond, func() error {
		if got, _ := l.h.Counts(); got < start+n {
			return fmt.Errorf("%d confirmed, want %d", got, start+n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("load is not flowing: %v", err)
	}
}

// verify stops the producers, waits for the group to drain, and checks the
// history (nothing lost, nothing unexpected, nothing forked) and that every
// running node stores the same queue contents.
func (l *load) verify(t *testing.T, c *Cluster) {
	t.Helper()
	l.stopProducers()
	err := Poll(timeout(t, 60*time.Second), 100*time.Millisecond, func() error {
		if m := l.h.Missing(); len(m) > 0 {
			return fmt.Errorf("%d confirmed messages not received yet (first %s)", len(m), m[0])
		}
		return nil
	})
	if err != nil {
		t.Errorf("drain: %v", err)
	}
	r := checker.Check(l.h)
	t.Logf("checker: %s", r)
	if err := r.Err(); err != nil {
		t.Error(err)
	}
	if r.Confirmed == 0 {
		t.Error("no publish was confirmed: the workload did not run")
	}
	checkSameContents(t, c, l.queue)
}

// checkSameContents polls until every running node returns the same
// messages for queue.
func checkSameContents(t *testing.T, c *Cluster, queue string) {
	t.Helper()
	ctx := timeout(t, 30*time.Second)
	err := Poll(ctx, 200*time.Millisecond, func() error {
		contents := map[string][]checker.Stored{}
		for _, n := range c.Running() {
			s, err := ReadAll(ctx, n, queue)
			if err != nil {
				return err
			}
			contents[n.ID] = s
		}
		return checker.Diverged(contents)
	})
	if err != nil {
		t.Errorf("divergence: %v", err)
	}
}

// mustBeReady fails t when err (a readiness wait) is not nil.
func mustBeReady(t *testing.T, _ *Cluster, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// watchLeaders starts a LeaderWatch that t.Cleanup stops if the test ends
// before it calls Stop itself.
func watchLeaders(t *testing.T, c *Cluster) *LeaderWatch {
	w := c.WatchLeaders(100 * time.Millisecond)
	t.Cleanup(func() { _, _ = w.Stop() })
	return w
}
