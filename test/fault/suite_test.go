package faulttest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/test/checker"
	clustertest "github.com/carriermq/carrier/test/cluster"
	"github.com/carriermq/carrier/test/nemesis"
)

// Storage settings of the suite's nodes: 2 MiB log segments so that a full
// disk shows within seconds, frequent snapshots so that there is always one
// to corrupt, and a short compacted log tail.
var suiteArgs = []string{"--raft-segment-bytes", "2097152", "--snapshot-threshold", "1024",
	"--snapshot-interval", "2s", "--trailing-logs", "256"}

// diskSize is each node's tmpfs: room for two snapshots of the bounded
// queues, a few log segments, and the disk-full filler.
const diskSize = 256 << 20

// queueLimit bounds each queue so the run's memory and snapshots stay small
// however long the soak (the oldest messages go; readers are live).
const queueLimit = 50000

// TestFaults is the fault-injection suite: a 3-node cluster of real
// processes under a checked workload (2 queues, a producer through every
// node per queue, a consumer group, an ordered group and a tail per queue),
// with the scenarios injected one after another, and after each the
// divergence probe. Short mode (default): each scenario -rounds times (2).
// -soak=30m: random scenarios until the time is up (-favor, -favor-share
// weight the choice). The verdict: nothing confirmed lost by any reader,
// nothing unexpected, no message at two seqs, the ordered group in order,
// every tail contiguous, every node storing the same messages (seq, id,
// time, body) after every fault and at the end, every confirmed id at its
// confirmed seq on every node, never two leaders in a term.
func TestFaults(t *testing.T) {
	s := newSuite(t, *tlsOn)
	list := selected(t)
	if *soak > 0 {
		s.soak(t, list, *soak)
	} else {
		for range *rounds {
			for _, sc := range list {
				s.runOne(t, sc, s.holdFor())
			}
		}
	}
	s.verify(t)
}

// TestFaultsTLS is TestFaults' short mode with TLS on every node's client
// listener (the workload's clients use wss and https) and mutual TLS
// between nodes (Raft, forwarding, admin calls passed to the leader), with
// certificates the test makes: every scenario -tls-rounds times (1), the
// same checks.
func TestFaultsTLS(t *testing.T) {
	if *soak > 0 {
		t.Skip("the soak runs TestFaults only: add -tls to run it with TLS")
	}
	s := newSuite(t, true)
	list := selected(t)
	for range *tlsRounds {
		for _, sc := range list {
			s.runOne(t, sc, s.holdFor())
		}
	}
	s.verify(t)
}

// suite is one run: the cluster, the workload, the windows of the
// scenarios run, and the table.
type suite struct {
	e       *env
	watch   *clustertest.LeaderWatch
	windows []window
	tbl     *table
}

func newSuite(t *testing.T, withTLS bool) *suite {
	sd := *seed
	if sd == 0 {
		sd = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", sd, sd)
	e := &env{rng: rand.New(rand.NewPCG(sd, sd^0x9e3779b97f4a7c15)), logf: t.Logf, disks: map[string]*nemesis.SmallDisk{}}
	e.c = startCluster(t, e, withTLS)
	if err := createQueues(timeout(t, 30*time.Second), e.c); err != nil {
		t.Fatal(err)
	}
	s := &suite{e: e, watch: e.c.WatchLeaders(100 * time.Millisecond), tbl: newTable()}
	t.Cleanup(func() { _, _ = s.watch.Stop() })
	w, err := startWorkload(timeout(t, 30*time.Second), e.c, queueNames, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	t.Cleanup(w.stop)
	if err := e.flowing(timeout(t, 30*time.Second), 100); err != nil {
		t.Fatal(err)
	}
	return s
}

var queueNames = []string{"orders", "events"}

// startCluster starts 3 nodes, each on its own tmpfs when this process may
// mount one (else on the test's disk, and disk-full scenarios skip).
func startCluster(t *testing.T, e *env, withTLS bool) *clustertest.Cluster {
	dir := t.TempDir()
	if *keep != "" {
		dir = *keep
		if withTLS && !*tlsOn {
			dir = filepath.Join(*keep, "tls") // TestFaultsTLS beside TestFaults
		}
	}
	mount := nemesis.Available() == nil
	if !mount {
		t.Logf("SKIP disk-full: %v", nemesis.Available())
	}
	opts := clustertest.Options{Bin: carrierBin, Dir: dir, Size: 3, LogLevel: "info", ExtraArgs: suiteArgs}
	if withTLS {
		pki, err := clustertest.NewTLS(filepath.Join(t.TempDir(), "pki"))
		if err != nil {
			t.Fatal(err)
		}
		opts.TLS = pki
	}
	if mount {
		opts.Prepare = func(n *clustertest.Node) error {
			d := &nemesis.SmallDisk{Dir: filepath.Dir(n.DataDir), Size: diskSize}
			e.disks[n.ID] = d
			return d.Mount()
		}
	}
	c, err := clustertest.New(opts)
	t.Cleanup(func() {
		if c != nil {
			if t.Failed() {
				for _, n := range c.Running() {
					n.Dump() // goroutine stacks into each node's log, for a hang
				}
			}
			c.Close()
			if t.Failed() {
				var b strings.Builder
				c.DumpLogs(&b, 8000)
				t.Log(b.String())
			}
		}
		for _, d := range e.disks {
			_ = d.Unmount()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, 60*time.Second)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leader(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func createQueues(ctx context.Context, c *clustertest.Cluster) error {
	l, err := c.Leader(ctx)
	if err != nil {
		return err
	}
	for _, q := range queueNames {
		if _, err := l.Admin().CreateQueue(ctx, q, protocol.QueueConfig{MaxMessages: queueLimit}); err != nil {
			return fmt.Errorf("create %s: %w", q, err)
		}
	}
	return nil
}

// selected is the scenario list after -scenarios.
func selected(t *testing.T) []scenario {
	if *only == "" {
		return scenarios
	}
	out, err := byNames(*only)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// byNames looks up comma-separated scenario names (repeats allowed).
func byNames(names string) ([]scenario, error) {
	var out []scenario
	for _, name := range strings.Split(names, ",") {
		i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown scenario %q", name)
		}
		out = append(out, scenarios[i])
	}
	return out, nil
}

func (s *suite) holdFor() time.Duration {
	if *hold > 0 {
		return *hold
	}
	if *soak > 0 {
		return 2*time.Second + time.Duration(s.e.rng.Int64N(int64(8*time.Second)))
	}
	return 3 * time.Second
}

// runOne runs sc, then waits for the cluster to recover and probes the
// nodes for divergence; a product failure fails the test, a skip is logged
// loudly and counted.
func (s *suite) runOne(t *testing.T, sc scenario, hold time.Duration) {
	s.e.hold, s.e.diskFault = hold, false
	ctx := timeout(t, 5*time.Minute)
	since, err := s.e.mark(ctx)
	if err != nil {
		t.Fatalf("before %s: %v", sc.name, err)
	}
	start := time.Now()
	note, err := sc.run(ctx, s.e)
	r := s.tbl.row(sc.name)
	if errors.Is(err, errSkip) {
		r.skipped++
		t.Logf("SKIP %s: %v", sc.name, err)
		return
	}
	r.runs++
	if err != nil {
		t.Errorf("%s: %v", sc.name, err)
	}
	if err := s.e.recover(ctx); err != nil {
		t.Fatalf("%s (%s): cluster did not recover: %v", sc.name, note, err)
	}
	w := window{scenario: sc.name, start: start, end: time.Now()}
	s.probe(ctx, t, &w, since)
	s.windows = append(s.windows, w)
	t.Logf("%-20s %6.1fs (probe %.1fs)  %s", sc.name, time.Since(start).Seconds(), time.Since(w.end).Seconds(), note)
}

// probe runs the divergence probe after w's fault and fails the test on
// every difference and seq mismatch, naming the scenario, queue and seq.
func (s *suite) probe(ctx context.Context, t *testing.T, w *window, since marks) {
	res, err := s.e.probe(ctx, since)
	if err != nil {
		t.Errorf("%s: %v", w.scenario, err)
		return
	}
	w.spans = res.spans
	for _, q := range sortedIDs(res.spans) {
		if err := checker.DifferencesErr(res.diffs[q]); err != nil {
			t.Errorf("%s: queue %s (seqs %d-%d): nodes diverge after the fault: %v", w.scenario, q, res.spans[q].lo, res.spans[q].hi, err)
		}
		if err := checker.SeqMismatchErr(res.mismatches[q]); err != nil {
			t.Errorf("%s: queue %s (seqs %d-%d): %v", w.scenario, q, res.spans[q].lo, res.spans[q].hi, err)
		}
		s.tbl.diverged(q, res.diffs[q], func(uint64) string { return w.scenario })
		s.tbl.mismatched(q, res.mismatches[q], func(string) string { return w.scenario })
	}
}

// soak runs scenarios picked at random until d has passed: with -favor,
// a share -favor-share of them from the favored list, the rest from list.
func (s *suite) soak(t *testing.T, list []scenario, d time.Duration) {
	pick := s.picker(t, list)
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		s.runOne(t, pick(), s.holdFor())
		if t.Failed() {
			return
		}
		if i%10 == 9 {
			t.Logf("soak: %d scenarios, %d confirmed, %v left", i+1, s.e.w.confirmed(), time.Until(end).Round(time.Second))
		}
	}
}

// picker returns the soak's choice of the next scenario (-favor, -favor-share).
func (s *suite) picker(t *testing.T, list []scenario) func() scenario {
	rng := s.e.rng
	mixed := func() scenario { return list[rng.IntN(len(list))] }
	if *favor == "" {
		return mixed
	}
	fav, err := byNames(*favor)
	if err != nil {
		t.Fatalf("-favor: %v", err)
	}
	if *favorShare < 0 || *favorShare > 1 {
		t.Fatalf("-favor-share %v: want a share from 0 to 1", *favorShare)
	}
	t.Logf("soak: %.0f%% of the scenarios from %s, the rest from the mixed schedule", *favorShare*100, *favor)
	return func() scenario {
		if rng.Float64() < *favorShare {
			return fav[rng.IntN(len(fav))]
		}
		return mixed()
	}
}

// verify stops the producers, waits until every reader has every confirmed
// message, and checks the histories, the order, the tails, the nodes'
// contents and the leader watch. It prints the results table.
func (s *suite) verify(t *testing.T) {
	w := s.e.w
	w.stopProducers()
	err := clustertest.Poll(timeout(t, 120*time.Second), 200*time.Millisecond, func() error {
		if n, ex := w.missing(); n > 0 {
			return fmt.Errorf("%d confirmed deliveries still missing (e.g. %s)", n, ex)
		}
		return nil
	})
	if err != nil {
		t.Errorf("drain: %v", err)
	}
	for _, e := range w.endedReaders() {
		t.Errorf("a reader's subscription ended with an error: %s", e)
	}
	var hs []*checker.History
	for _, q := range w.queues {
		h := w.hist[q]
		hs = append(hs, h)
		s.tbl.add(s.windows, h, s.checkQueue(t, q, h))
	}
	for _, st := range s.tbl.unavailability(s.windows, hs) {
		t.Logf("long unavailability: %s", st)
	}
	for _, q := range w.queues {
		s.checkStored(t, q)
	}
	if n, err := s.watch.Stop(); err != nil {
		t.Errorf("leader watch (%d samples): %v", n, err)
	}
	md := s.tbl.markdown()
	t.Logf("results (confirmed messages attributed to the scenario they were published in):\n%s", md)
	if *report != "" {
		path := *report
		if s.e.c.ClientTLS() != nil && !*tlsOn {
			path += ".tls" // TestFaultsTLS beside TestFaults
		}
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// checkQueue runs the checker for every reader of q and the order checks.
func (s *suite) checkQueue(t *testing.T, q string, h *checker.History) map[string]checker.Report {
	reports := map[string]checker.Report{}
	for _, r := range readers {
		rep := checker.CheckReader(h, r)
		reports[r] = rep
		t.Logf("%s/%s: %s", q, r, rep)
		if err := rep.Err(); err != nil {
			t.Errorf("%s/%s: %v", q, r, err)
		}
		if rep.Confirmed == 0 {
			t.Errorf("%s: nothing confirmed: the workload did not run", q)
		}
	}
	if err := checker.InOrder(h.Deliveries(readerOrdered)); err != nil {
		t.Errorf("%s/%s out of order: %v", q, readerOrdered, err)
	}
	if err := checker.Contiguous(h.Deliveries(readerTail)); err != nil {
		t.Errorf("%s/%s: %v", q, readerTail, err)
	}
	return reports
}

// checkStored polls until every node returns the same messages for q
// (compared by seq, id, time and body), then checks that every publish
// confirmed at a seq the nodes still hold (a bounded queue drops its
// oldest; the probes checked those) is stored at that seq on every node.
// Findings not already counted by a probe go into the table.
func (s *suite) checkStored(t *testing.T, q string) {
	ctx := timeout(t, 60*time.Second)
	var contents map[string][]checker.Stored
	err := clustertest.Poll(ctx, 500*time.Millisecond, func() error {
		c, err := readEvery(ctx, s.e.c.Running(), q)
		if err != nil {
			return err
		}
		contents = c
		return checker.Diverged(c)
	})
	if contents == nil {
		t.Errorf("%s: reading the nodes: %v", q, err)
		return
	}
	if err := checker.Diverged(contents); err != nil {
		t.Errorf("%s: nodes diverge at the end of the run: %v", q, err)
	}
	s.tbl.diverged(q, checker.Differences(contents), func(seq uint64) string { return bySeq(s.windows, q, seq) })
	h := s.e.w.hist[q]
	ms := checker.SeqMismatches(h, contents, firstHeld(contents), math.MaxUint64)
	if err := checker.SeqMismatchErr(ms); err != nil {
		t.Errorf("%s: at the end of the run: %v", q, err)
	}
	where := attribution(s.windows, h)
	s.tbl.mismatched(q, ms, func(id string) string { return where[id] })
}

// readEvery reads all of q from every node.
func readEvery(ctx context.Context, nodes []*clustertest.Node, q string) (map[string][]checker.Stored, error) {
	contents := map[string][]checker.Stored{}
	for _, n := range nodes {
		st, err := clustertest.ReadAll(ctx, n, q)
		if err != nil {
			return nil, err
		}
		contents[n.ID] = st
	}
	return contents, nil
}

// firstHeld is the lowest seq every node still holds.
func firstHeld(contents map[string][]checker.Stored) uint64 {
	var first uint64
	for _, st := range contents {
		if len(st) > 0 {
			first = max(first, st[0].Seq)
		}
	}
	return first
}
