package gateway

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// GET /metrics serves the node's group-commit counters in the Prometheus
// text format, read from Node.Stats at scrape time.
func TestMetricsExposeGroupCommitCounters(t *testing.T) {
	s := startServer(t, DefaultConfig())
	c := s.dial()
	for range 3 {
		c.publishWS("m", "e", `{"n":1}`)
	}
	before := s.node.Stats()
	got := scrape(t, s.ts.URL+"/metrics")
	after := s.node.Stats()
	tests := []struct {
		name        string
		lo, hi, min uint64
	}{
		{"carrier_raft_log_appends_total", before.LogAppends, after.LogAppends, 1},
		{"carrier_raft_entries_applied_total", before.EntriesApplied, after.EntriesApplied, 1},
		{"carrier_raft_commands_applied_total", before.CommandsApplied, after.CommandsApplied, 3},
	}
	for _, tt := range tests {
		v, ok := got[tt.name]
		if !ok {
			t.Errorf("%s missing from /metrics: %v", tt.name, got)
			continue
		}
		if v < float64(tt.lo) || v > float64(tt.hi) || v < float64(tt.min) {
			t.Errorf("%s = %v, want within Stats before/after [%d, %d] and at least %d", tt.name, v, tt.lo, tt.hi, tt.min)
		}
	}
}

// scrape GETs url and returns the value of every unlabelled sample.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		out[name] = v
	}
	return out
}
