package local

import (
	"testing"
	"time"
)

func ms(n ...int) []time.Duration {
	out := make([]time.Duration, len(n))
	for i, x := range n {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the second", ms(40, 10, 30, 20), 50, 20 * time.Millisecond},
		{"p99 of twenty is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 200), 99, 200 * time.Millisecond},
		{"p50 of twenty is the tenth", ms(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 50, 10 * time.Millisecond},
		{"p100 is the max", ms(3, 9, 1), 100, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.ds, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.ds, tt.p, got, tt.want)
			}
		})
	}
}

func TestGapAround(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(n ...int) []time.Time {
		out := make([]time.Time, len(n))
		for i, x := range n {
			out[i] = base.Add(time.Duration(x) * time.Millisecond)
		}
		return out
	}
	kill := base.Add(100 * time.Millisecond)
	tests := []struct {
		name   string
		times  []time.Time
		n      int
		want   time.Duration
		wantOK bool
	}{
		{"gap spans the kill", at(10, 90, 95, 1300, 1310), 1, 1205 * time.Millisecond, true},
		{"a confirm at the kill instant counts as before", at(50, 100, 900), 1, 800 * time.Millisecond, true},
		{"a reply in flight at the kill does not hide the outage", at(90, 95, 102, 1150, 1152, 1155), 3, 1048 * time.Millisecond, true},
		{"the window ends at the n-th confirmation after", at(90, 1000, 1010, 5000), 2, 910 * time.Millisecond, true},
		{"not enough after the kill yet", at(10, 90, 1000), 2, 0, false},
		{"nothing after the kill yet", at(10, 90), 1, 0, false},
		{"nothing before the kill", at(150, 200), 1, 0, false},
		{"empty", nil, 1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := gapAround(tt.times, kill, tt.n)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("gapAround = %v, %v, want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestSummarise(t *testing.T) {
	r := FailoverResult{}
	for _, d := range ms(300, 100, 200) {
		r.Trials = append(r.Trials, Trial{Failover: d})
	}
	r.summarise()
	if r.P50 != 200*time.Millisecond || r.P99 != 300*time.Millisecond || r.Max != 300*time.Millisecond || r.Mean != 200*time.Millisecond {
		t.Errorf("summarise: p50 %v p99 %v max %v mean %v, want 200ms 300ms 300ms 200ms", r.P50, r.P99, r.Max, r.Mean)
	}
}
