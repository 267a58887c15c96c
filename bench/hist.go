package bench

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency is a latency distribution summarised from an HDR histogram of
// microseconds (3 significant digits, up to 10 minutes).
type Latency struct {
	Count  int64   `json:"count"`
	P50Ms  float64 `json:"p50Ms"`
	P99Ms  float64 `json:"p99Ms"`
	P999Ms float64 `json:"p999Ms"`
	MaxMs  float64 `json:"maxMs"`
}

// histogram records durations; not safe for concurrent use.
type histogram struct{ h *hdrhistogram.Histogram }

const histMaxMicros = int64(10 * time.Minute / time.Microsecond)

func newHistogram() *histogram { return &histogram{hdrhistogram.New(1, histMaxMicros, 3)} }

// record adds d, clamped to the histogram's range.
func (h *histogram) record(d time.Duration) {
	us := min(max(d.Microseconds(), 1), histMaxMicros)
	_ = h.h.RecordValue(us) // in range by construction
}

func (h *histogram) summary() Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Latency{Count: h.h.TotalCount(), P50Ms: ms(h.h.ValueAtQuantile(50)), P99Ms: ms(h.h.ValueAtQuantile(99)),
		P999Ms: ms(h.h.ValueAtQuantile(99.9)), MaxMs: ms(h.h.Max())}
}
