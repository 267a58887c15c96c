package local

import (
	"math"
	"os"
	"slices"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		vs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.vs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.vs, got, tt.want)
		}
	}
}

func TestSummarizeRatiosAndGoals(t *testing.T) {
	s := func(round int, sys string, v map[string]float64) Sample {
		return Sample{Round: round, System: sys, Workload: "w", Values: v}
	}
	samples := []Sample{
		s(1, SysCarrier, map[string]float64{"publish_msgs_per_sec": 30, "latency_leader_p99_ms": 4,
			"latency_leader_p50_ms": 1, "latency_follower_p50_ms": 1.2}),
		s(2, SysCarrier, map[string]float64{"publish_msgs_per_sec": 50, "latency_leader_p99_ms": 6,
			"latency_leader_p50_ms": 2, "latency_follower_p50_ms": 3}),
		s(3, SysCarrier, map[string]float64{"publish_msgs_per_sec": 40, "latency_leader_p99_ms": 5,
			"latency_leader_p50_ms": 1.5, "latency_follower_p50_ms": 1.7}),
		s(1, SysCarrier, map[string]float64{"idle_conn_kib": 12, "idle_node_rss_mib": 60}),
		s(1, SysNATSAlways, map[string]float64{"publish_msgs_per_sec": 10, "latency_leader_p99_ms": 4}),
		s(1, SysNATSAlwaysBest, map[string]float64{"publish_msgs_per_sec": 20}),
		s(1, SysNATSDefault, map[string]float64{"publish_msgs_per_sec": 80}),
	}
	res := summarize(3, 1000, samples)
	if want := []string{SysCarrier, SysNATSAlways, SysNATSAlwaysBest, SysNATSDefault}; !slices.Equal(res.Systems, want) {
		t.Errorf("systems %v, want %v (display order, only those measured)", res.Systems, want)
	}
	var pub Metric
	for _, m := range res.Metrics {
		if m.Name == "publish_msgs_per_sec" {
			pub = m
		}
	}
	if pub.Median[SysCarrier] != 40 || pub.Ratio[SysNATSAlways] != 4 || pub.Ratio[SysNATSAlwaysBest] != 2 || pub.Ratio[SysNATSDefault] != 0.5 {
		t.Errorf("publish row %+v: want carrier median 40, ratios 4, 2 and 0.5", pub)
	}
	want := map[string]struct {
		met   bool
		value float64
	}{
		"publish throughput vs nats-always":                 {true, 2},    // against the best column: 40 / 20
		"publish throughput vs nats-default":                {false, 0.5}, // no best column: the matched one
		"publish latency p99 via the leader vs nats-always": {false, 1.25},
		"publish via a follower − via the leader, p50 (ms)": {true, 0.2}, // medians 1.7 − 1.5
		"idle WebSocket connection (KiB)":                   {true, 12},
		"idle node RSS (MiB)":                               {false, 60},
		"e2e p99 at 50% load vs nats-always":                {false, 0}, // not measured
	}
	seen := 0
	for _, g := range res.Goals {
		w, ok := want[g.Goal]
		if !ok {
			continue
		}
		seen++
		if g.Met != w.met || math.Abs(g.Value-w.value) > 1e-9 {
			t.Errorf("goal %q: %+v, want met=%v value %v", g.Goal, g, w.met, w.value)
		}
	}
	if seen != len(want) {
		t.Errorf("%d of the %d goals checked found in %+v", seen, len(want), res.Goals)
	}
}

func TestProcReadings(t *testing.T) {
	pid := os.Getpid()
	for end := time.Now().Add(20 * time.Millisecond); time.Now().Before(end); {
	} // burn a little CPU so that utime+stime is not 0
	cpu, err := cpuSeconds(pid)
	if err != nil || cpu < 0 {
		t.Errorf("cpuSeconds = %v, %v", cpu, err)
	}
	rss, peak, err := memory(pid)
	if err != nil || rss <= 0 || peak < rss {
		t.Errorf("memory = rss %d peak %d, %v: want 0 < rss <= peak", rss, peak, err)
	}
	if got, ok := pidWithArg(os.Args[0]); !ok || got != pid {
		t.Errorf("pidWithArg(%q) = %d, %v, want %d", os.Args[0], got, ok, pid)
	}
}
