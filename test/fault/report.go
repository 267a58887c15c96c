package faulttest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/carriermq/carrier/test/checker"
)

// window is one scenario's time in a run: from its injection until the
// cluster had recovered; spans are the seqs its probe compared, per queue.
type window struct {
	scenario   string
	start, end time.Time
	spans      map[string]span
}

// row is one scenario's line of the results table.
type row struct {
	scenario   string
	runs       int
	skipped    int
	confirmed  int
	lost       int
	unexpected int
	divergence int // (queue, seq, node) where a node stores another message than the others
	mismatch   int // (queue, id, node) where a confirmed id is not at its confirmed seq
	duplicated int
	unknown    int
	maxUnavail time.Duration
}

// table accumulates rows by scenario; "(between faults)" holds what was
// published outside every window.
type table struct {
	rows  map[string]*row
	order []string
	seen  map[string]bool // divergences and mismatches counted, so a later check does not count one again
}

const between = "(between faults)"

func newTable() *table { return &table{rows: map[string]*row{}, seen: map[string]bool{}} }

func (t *table) row(name string) *row {
	r, ok := t.rows[name]
	if !ok {
		r = &row{scenario: name}
		t.rows[name] = r
		t.order = append(t.order, name)
	}
	return r
}

// attribute returns the scenario whose window holds at, or between.
func attribute(ws []window, at time.Time) string {
	for _, w := range ws {
		if !at.Before(w.start) && at.Before(w.end) {
			return w.scenario
		}
	}
	return between
}

// add counts one queue's history into the table: every publish under the
// scenario it was attempted in, lost and duplicated deliveries of every
// reader the same way.
func (t *table) add(ws []window, h *checker.History, reports map[string]checker.Report) {
	where := attribution(ws, h)
	for _, p := range h.Publishes() {
		switch p.Outcome {
		case checker.Confirmed:
			t.row(where[p.ID]).confirmed++
		default:
			t.row(where[p.ID]).unknown++
		}
	}
	for reader, r := range reports {
		for _, id := range r.Lost {
			t.row(where[id]).lost++
		}
		t.row(between).unexpected += len(r.Unexpected)
		t.countDuplicates(where, h.Deliveries(reader))
	}
}

// attribution maps every message id of h to the scenario it was first
// attempted in.
func attribution(ws []window, h *checker.History) map[string]string {
	pubs := h.Publishes()
	where := make(map[string]string, len(pubs))
	for _, p := range pubs {
		where[p.ID] = attribute(ws, p.Attempted)
	}
	return where
}

// bySeq returns the scenario whose probe compared seq of q, or between.
func bySeq(ws []window, q string, seq uint64) string {
	for _, w := range ws {
		if sp, ok := w.spans[q]; ok && sp.holds(seq) {
			return w.scenario
		}
	}
	return between
}

// diverged counts the differences of q not counted yet, each under
// scenario(seq).
func (t *table) diverged(q string, ds []checker.Difference, scenario func(seq uint64) string) {
	for _, d := range ds {
		if t.first(fmt.Sprintf("d %s %d %s", q, d.Seq, d.Node)) {
			t.row(scenario(d.Seq)).divergence++
		}
	}
}

// mismatched counts the seq mismatches of q not counted yet, each under
// scenario(id).
func (t *table) mismatched(q string, ms []checker.Mismatch, scenario func(id string) string) {
	for _, m := range ms {
		if t.first(fmt.Sprintf("m %s %s %s", q, m.ID, m.Node)) {
			t.row(scenario(m.ID)).mismatch++
		}
	}
}

// first reports whether key is new, and remembers it.
func (t *table) first(key string) bool {
	if t.seen[key] {
		return false
	}
	t.seen[key] = true
	return true
}

func (t *table) countDuplicates(where map[string]string, ds []checker.Delivery) {
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.ID] {
			t.row(where[d.ID]).duplicated++
		}
		seen[d.ID] = true
	}
}

// unavailability sets each scenario's longest time inside one of its
// windows without any confirmation (all queues together), and returns the
// stretches of at least longStretch, for the log.
func (t *table) unavailability(ws []window, hs []*checker.History) []stretch {
	var times []time.Time
	for _, h := range hs {
		for _, p := range h.Publishes() {
			if p.Outcome == checker.Confirmed {
				times = append(times, p.Decided)
			}
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	var long []stretch
	for _, w := range ws {
		r := t.row(w.scenario)
		st := longestGap(times, w.start, w.end)
		r.maxUnavail = max(r.maxUnavail, st.length)
		if st.length >= longStretch {
			st.scenario = w.scenario
			long = append(long, st)
		}
	}
	return long
}

// longStretch is how long a stretch without confirmations must be to be
// listed on its own.
const longStretch = 5 * time.Second

// stretch is a time without any confirmation inside a scenario's window.
type stretch struct {
	scenario string
	from     time.Time
	length   time.Duration
}

func (s stretch) String() string {
	return fmt.Sprintf("%s: no confirmation for %s from %s", s.scenario, s.length.Round(10*time.Millisecond), s.from.UTC().Format("15:04:05.000"))
}

// longestGap is the longest interval of [start, end) that holds no time of
// sorted.
func longestGap(sorted []time.Time, start, end time.Time) stretch {
	i, _ := slices.BinarySearchFunc(sorted, start, func(a, b time.Time) int { return a.Compare(b) })
	prev, best := start, stretch{}
	for ; i < len(sorted) && sorted[i].Before(end); i++ {
		if g := sorted[i].Sub(prev); g > best.length {
			best = stretch{from: prev, length: g}
		}
		prev = sorted[i]
	}
	if g := end.Sub(prev); g > best.length {
		best = stretch{from: prev, length: g}
	}
	return best
}

// markdown renders the table, scenarios in first-run order, a total last.
func (t *table) markdown() string {
	var b strings.Builder
	b.WriteString("| scenario | runs | confirmed | lost | unexpected | divergence | seq mismatch | duplicated | unknown | max unavailability |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	total := row{scenario: "**total**"}
	for _, name := range t.order {
		r := t.rows[name]
		runs := fmt.Sprint(r.runs)
		if r.skipped > 0 {
			runs = fmt.Sprintf("%d (%d skipped)", r.runs, r.skipped)
		}
		writeRow(&b, r, runs)
		total.runs += r.runs
		total.confirmed += r.confirmed
		total.lost += r.lost
		total.unexpected += r.unexpected
		total.divergence += r.divergence
		total.mismatch += r.mismatch
		total.duplicated += r.duplicated
		total.unknown += r.unknown
		total.maxUnavail = max(total.maxUnavail, r.maxUnavail)
	}
	writeRow(&b, &total, fmt.Sprint(total.runs))
	return b.String()
}

func writeRow(b *strings.Builder, r *row, runs string) {
	fmt.Fprintf(b, "| %s | %s | %d | %d | %d | %d | %d | %d | %d | %s |\n", r.scenario, runs, r.confirmed, r.lost,
		r.unexpected, r.divergence, r.mismatch, r.duplicated, r.unknown, r.maxUnavail.Round(10*time.Millisecond))
}
