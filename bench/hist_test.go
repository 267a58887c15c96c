package bench

import (
	"testing"
	"time"
)

func TestHistogramSummary(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	s := h.summary()
	near := func(got, want float64) bool { return got >= want*0.99 && got <= want*1.01 }
	if s.Count != 1000 || !near(s.P50Ms, 500) || !near(s.P99Ms, 990) || !near(s.P999Ms, 999) || !near(s.MaxMs, 1000) {
		t.Errorf("summary %+v, want count 1000, p50 500, p99 990, p99.9 999, max 1000 ms (±1%%)", s)
	}
}
