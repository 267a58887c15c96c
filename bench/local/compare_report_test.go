package local

import (
	"os"
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
		s(1, SysCarrier, map[string]float64{"publish_msgs_per_sec": 30, "latency_p50_ms": 1, "latency_p99_ms": 4}),
		s(2, SysCarrier, map[string]float64{"publish_msgs_per_sec": 50, "latency_p50_ms": 3, "latency_p99_ms": 6}),
		s(3, SysCarrier, map[string]float64{"publish_msgs_per_sec": 40, "latency_p50_ms": 2, "latency_p99_ms": 5}),
		s(1, SysNATSAlways, map[string]float64{"publish_msgs_per_sec": 20, "latency_p50_ms": 4, "latency_p99_ms": 4}),
		s(1, SysNATSDefault, map[string]float64{"publish_msgs_per_sec": 80}),
	}
	single := map[string]map[string]float64{SysCarrier: {"idle_conn_kib": 12, "idle_node_rss_mib": 60}}
	res := summarize(3, samples, single)
	var pub Metric
	for _, m := range res.Metrics {
		if m.Name == "publish_msgs_per_sec" {
			pub = m
		}
	}
	if pub.Median[SysCarrier] != 40 || pub.Ratio[SysNATSAlways] != 2 || pub.Ratio[SysNATSDefault] != 0.5 {
		t.Errorf("publish row %+v: want carrier median 40, ratios 2 and 0.5", pub)
	}
	want := map[string]bool{
		"publish throughput vs nats-always":  true,  // 2.0 ≥ 2
		"publish throughput vs nats-default": false, // 0.5
		"publish latency p50 vs nats-always": true,  // 0.5
		"publish latency p99 vs nats-always": false, // 1.25
		"idle WebSocket connection (KiB)":    true,  // 12 < 15
		"idle node RSS (MiB)":                false, // 60
		"e2e p99 at 50% load vs nats-always": false, // not measured
	}
	for _, g := range res.Goals {
		if met, ok := want[g.Goal]; ok && g.Met != met {
			t.Errorf("goal %q: %+v, want met=%v", g.Goal, g, met)
		}
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
