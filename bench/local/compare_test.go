package local

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/bench"
)

// TestCompareQuick runs "compare --quick" — a calibration publish, then every
// workload for about a second against a fresh 3-node Carrier cluster and
// fresh JetStream clusters, one at a time, the peers' publish also driven at
// their best — so the drivers keep working. It checks the shape of the result and
// that the counts add up, never the speed. The first run on a machine
// installs nats-server into the user cache dir (Go module proxy).
func TestCompareQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds carrier, installs nats-server and runs 3-node clusters")
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
	if !slices.Equal(res.Systems, systemOrder) {
		t.Fatalf("systems %v, want %v", res.Systems, systemOrder)
	}
	if res.E2EPeak <= 0 {
		t.Errorf("e2e peak %v: the calibration pass should have set it", res.E2EPeak)
	}
	seen := map[string]int{}
	for _, s := range res.Samples {
		seen[s.System+" "+s.Workload]++
		checkSample(t, s)
	}
	for _, sys := range []string{SysCarrier, SysNATSAlways, SysNATSDefault} {
		for _, w := range []string{"idle", "publish", "latency_leader", "latency_follower", "e2e", "consume", "fanout", "memory"} {
			if seen[sys+" "+w] != 1 {
				t.Errorf("%s on %s: %d samples, want 1", w, sys, seen[sys+" "+w])
			}
		}
	}
	for _, sys := range []string{SysNATSAlwaysBest, SysNATSDefaultBest} {
		if seen[sys+" publish"] != 1 || len(res.Samples) != 3*8+2 {
			t.Errorf("%s: samples %v, want publish once", sys, seen)
		}
	}
	checkSummary(t, res)
	if !strings.Contains(progress.String(), "calibration: publish on nats-default") ||
		!strings.Contains(progress.String(), "round 1/1: fanout on nats-default") {
		t.Errorf("progress lacks the calibration or the last step:\n%s", progress.String())
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
		if r.Count != 20 || r.P50Ms <= 0 || r.P50Ms > r.P99Ms || r.P99Ms > r.MaxMs || s.Workload != "latency_"+r.Via {
			t.Errorf("%s on %s: %+v", s.Workload, s.System, r)
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
	case bench.ConnMemory:
		if r.Conns != 5 || s.System != SysCarrier {
			t.Errorf("idle connections on %s: %+v", s.System, r)
		}
	case nil:
		if s.Workload != "memory" && (s.Workload != "idle" || s.System == SysCarrier) {
			t.Errorf("sample %s on %s has no result", s.Workload, s.System)
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
	for _, name := range []string{"publish_msgs_per_sec", "publish_cpu_s_per_M"} {
		if m := byName[name]; len(m.Median) != 5 || len(m.Ratio) != 4 {
			t.Errorf("metric %s: %+v, want a median per system and column, four ratios", name, m)
		}
	}
	for _, name := range []string{"consume_msgs_per_sec", "latency_leader_p99_ms", "latency_follower_p50_ms", "e2e_50_p99_ms",
		"fanout_deliveries_per_sec", "idle_node_rss_mib", "peak_rss_mib"} {
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
	if err := res.WriteTable(&table); err != nil || !strings.Contains(table.String(), "carrier/nats-always-best") {
		t.Errorf("table (err %v):\n%s", err, table.String())
	}
}
