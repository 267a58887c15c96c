package local

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestFailoverSmoke runs two trials of the failover benchmark against a
// freshly built carrier, so the command keeps working; it checks the shape
// of the result, never its speed.
func TestFailoverSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds carrier and runs a 3-node cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := carrierBin
	var progress bytes.Buffer
	dir := t.TempDir()
	res, err := Failover(ctx, FailoverConfig{Bin: bin, Dir: dir, Trials: 2, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	if len(res.Trials) != 2 || strings.Count(progress.String(), "\n") != 2 {
		t.Fatalf("got %d trials and progress %q, want 2 of each", len(res.Trials), progress.String())
	}
	for i, tr := range res.Trials {
		if tr.Failover <= 0 || tr.Killed == "" || tr.Via == "" || tr.Killed == tr.Via {
			t.Errorf("trial %d: %+v: want a positive failover, killed leader and a different publishing node", i+1, tr)
		}
	}
	if res.Max < res.P50 || res.P50 <= 0 {
		t.Errorf("summary p50 %v max %v: want 0 < p50 <= max", res.P50, res.Max)
	}
}
