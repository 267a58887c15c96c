package local

import (
	"slices"
	"time"
)

// summarise fills the percentiles from the trials.
func (r *FailoverResult) summarise() {
	ds := make([]time.Duration, len(r.Trials))
	for i, t := range r.Trials {
		ds[i] = t.Failover
	}
	r.P50, r.P99, r.Max, r.Mean = Percentile(ds, 50), Percentile(ds, 99), Percentile(ds, 100), mean(ds)
}

// Percentile returns the nearest-rank p-th percentile of ds (0 when empty):
// the smallest value with at least p% of the values at or below it.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s)) + 0.999999)
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}
