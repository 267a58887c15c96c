package local

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/bench"
)

// TestCompareQuick runs "compare --quick" — every workload for about a
// second against a 3-node Carrier cluster and both JetStream clusters — so
// the drivers keep working. It checks the shape of the result and that the
// counts add up, never the speed. The first run on a machine installs
// nats-server into the user cache dir (Go module proxy).
func TestCompareQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds carrier, installs nats-server and runs three 3-node clusters")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	cfg := CompareConfig{Bin: carrierBin, Quick: true, IdleConns: 5, Progress: &progress,
		Latency: bench.LatencyConfig{Count: 20}, E2E: bench.E2EConfig{Loads: []int{50}}, Consume: bench.ConsumeConfig{Messages: 200, Consumers: 2}}
	res, err := Compare(ctx, cfg)
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	if want := []string{SysCarrier, SysNATSAlways, SysNATSDefault}; strings.Join(res.Systems, ",") != strings.Join(want, ",") {
		t.Fatalf("systems %v, want %v", res.Systems, want)
	}
	seen := map[string]int{}
	for _, s := range res.Samples {
		seen[s.Workload]++
		checkSample(t, s)
	}
	for _, w := range []string{"publish", "latency", "e2e", "consume", "fanout"} {
		if seen[w] != 3 {
			t.Errorf("workload %s: %d samples, want one per system", w, seen[w])
		}
	}
	checkSummary(t, res)
	if !strings.Contains(progress.String(), "round 1/1: fanout on nats-default") {
		t.Errorf("progress lacks the last step:\n%s", progress.String())
	}
}

// checkSample checks that a workload's counts add up.
func checkSample(t *testing.T, s Sample) {
	t.Helper()
	switch r := s.Result.(type) {
	case bench.PublishResult:
		if r.Confirmed < 1 || r.MsgsPerSec <= 0 || (s.System == SysCarrier) != (r.GroupCommit != nil) {
			t.Errorf("publish on %s: %+v", s.System, r)
		}
		if g := r.GroupCommit; g != nil && (g.Commands < 1 || g.CommandsPerAppend <= 0 || g.CommandsPerEntry < 1 || g.MessagesPerAppend <= 0) {
			t.Errorf("publish on %s: group commit %+v for %d confirmed", s.System, *g, r.Confirmed)
		}
	case bench.LatencyResult:
		if r.Count != 20 || r.P50Ms <= 0 || r.P50Ms > r.P99Ms || r.P99Ms > r.MaxMs {
			t.Errorf("latency on %s: %+v", s.System, r)
		}
	case bench.E2EResult:
		if len(r.Runs) != 1 || r.Runs[0].Sent < 1 || r.Runs[0].Received != r.Runs[0].Sent || r.Runs[0].Count != r.Runs[0].Sent {
			t.Errorf("e2e on %s: %+v", s.System, r)
		}
	case bench.ConsumeResult:
		if r.Acked != 200 || r.Consumers != 2 {
			t.Errorf("consume on %s: %+v", s.System, r)
		}
	case bench.FanoutResult:
		if r.Published < 1 || r.Deliveries != r.Published*int64(r.Subscribers) || r.Subscribers != 4 {
			t.Errorf("fanout on %s: %+v", s.System, r)
		}
	default:
		t.Errorf("sample %s on %s: result %T", s.Workload, s.System, s.Result)
	}
}

func checkSummary(t *testing.T, res CompareResult) {
	t.Helper()
	byName := map[string]Metric{}
	for _, m := range res.Metrics {
		byName[m.Name] = m
	}
	for _, name := range []string{"publish_msgs_per_sec", "publish_cpu_s_per_M", "latency_p99_ms", "e2e_50_p99_ms",
		"consume_msgs_per_sec", "fanout_deliveries_per_sec", "idle_node_rss_mib", "peak_rss_mib"} {
		if m := byName[name]; len(m.Median) != 3 || len(m.Ratio) != 2 {
			t.Errorf("metric %s: %+v, want a median per system and two ratios", name, m)
		}
	}
	if m := byName["idle_conn_kib"]; len(m.Median) != 1 {
		t.Errorf("idle_conn_kib: %+v, want Carrier only", m)
	}
	if len(res.Goals) != 10 {
		t.Errorf("%d goals, want 10", len(res.Goals))
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil || !strings.Contains(table.String(), "carrier/nats-always") {
		t.Errorf("table (err %v):\n%s", err, table.String())
	}
}
