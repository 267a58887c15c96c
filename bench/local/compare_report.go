package local

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// CompareResult is the side-by-side table: per metric, the median over the
// rounds per system and the ratio Carrier / peer; then the goals.
type CompareResult struct {
	Rounds  int      `json:"rounds"`
	E2EPeak float64  `json:"e2ePeak"` // msgs/s the e2e loads are fractions of
	Systems []string `json:"systems"`
	Metrics []Metric `json:"metrics"`
	Goals   []Goal   `json:"goals"`
	Samples []Sample `json:"samples"`
}

// Metric is one row: medians by system, and Carrier's value divided by
// each peer's.
type Metric struct {
	Name   string             `json:"name"`
	Median map[string]float64 `json:"median"`
	Ratio  map[string]float64 `json:"carrierOver,omitempty"`
}

// Goal is one goal evaluated on the medians: Value is a ratio Carrier /
// peer, or an absolute figure (KiB, MiB, ms), compared with Want.
type Goal struct {
	Issue int     `json:"issue"`
	Goal  string  `json:"goal"`
	Value float64 `json:"value"`
	Want  string  `json:"want"`
	Met   bool    `json:"met"`
}

// medians returns, per system, the median of every value over the samples.
func medians(samples []Sample) map[string]map[string]float64 {
	all := map[string]map[string][]float64{}
	for _, s := range samples {
		if all[s.System] == nil {
			all[s.System] = map[string][]float64{}
		}
		for k, v := range s.Values {
			all[s.System][k] = append(all[s.System][k], v)
		}
	}
	out := map[string]map[string]float64{}
	for sys, vals := range all {
		out[sys] = map[string]float64{}
		for k, vs := range vals {
			out[sys][k] = median(vs)
		}
	}
	return out
}

// median of vs (the mean of the middle two for an even count); 0 if empty.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summarize builds the result from the samples.
func summarize(rounds int, peak float64, samples []Sample) CompareResult {
	med := medians(samples)
	res := CompareResult{Rounds: rounds, E2EPeak: peak, Samples: samples}
	for _, s := range systemOrder {
		if med[s] != nil {
			res.Systems = append(res.Systems, s)
		}
	}
	names := map[string]bool{}
	for _, vals := range med {
		for k := range vals {
			names[k] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		res.Metrics = append(res.Metrics, metricRow(name, med))
	}
	res.Goals = goals(med)
	return res
}

func metricRow(name string, med map[string]map[string]float64) Metric {
	m := Metric{Name: name, Median: map[string]float64{}, Ratio: map[string]float64{}}
	for sys, vals := range med {
		if v, ok := vals[name]; ok {
			m.Median[sys] = v
		}
	}
	c, ok := m.Median[SysCarrier]
	for sys, v := range m.Median {
		if ok && sys != SysCarrier && v != 0 {
			m.Ratio[sys] = c / v
		}
	}
	return m
}

// fairPeer is the column a goal on metric is judged against: the peer
// driven at its best where compare measured that (publish), else
// the matched drive.
func fairPeer(med map[string]map[string]float64, peer, metric string) string {
	if _, ok := med[peer+"-best"][metric]; ok {
		return peer + "-best"
	}
	return peer
}

// goals evaluates the goals of issues 15 and 5 on the medians, each
// against the fair peer.
func goals(med map[string]map[string]float64) []Goal {
	ratio := func(name, peer string) float64 {
		if p := med[fairPeer(med, peer, name)][name]; p != 0 {
			return med[SysCarrier][name] / p
		}
		return 0
	}
	atLeast := func(issue int, goal string, v, want float64) Goal {
		return Goal{Issue: issue, Goal: goal, Value: v, Want: fmt.Sprintf("≥ %g×", want), Met: v >= want}
	}
	atMost := func(issue int, goal string, v, want float64, unit string) Goal {
		return Goal{Issue: issue, Goal: goal, Value: v, Want: fmt.Sprintf("≤ %g%s", want, unit), Met: v > 0 && v <= want}
	}
	below := func(issue int, goal string, v, want float64, unit string) Goal {
		return Goal{Issue: issue, Goal: goal, Value: v, Want: fmt.Sprintf("< %g %s", want, unit), Met: v > 0 && v < want}
	}
	c := med[SysCarrier]
	followerCost := Goal{Issue: 15, Goal: "publish via a follower − via the leader, p50 (ms)", Want: "≤ 0.3 ms"}
	if f, l := c["latency_follower_p50_ms"], c["latency_leader_p50_ms"]; f > 0 && l > 0 {
		followerCost.Value, followerCost.Met = f-l, f-l <= 0.3
	}
	return []Goal{
		atLeast(15, "publish throughput vs nats-always", ratio("publish_msgs_per_sec", SysNATSAlways), 2),
		atLeast(15, "publish throughput vs nats-default", ratio("publish_msgs_per_sec", SysNATSDefault), 1),
		atMost(15, "e2e p99 at 50% load vs nats-always", ratio("e2e_50_p99_ms", SysNATSAlways), 1, "×"),
		atMost(15, "publish latency p99 via the leader vs nats-always", ratio("latency_leader_p99_ms", SysNATSAlways), 1, "×"),
		followerCost,
		atMost(15, "peak RSS of the largest node vs nats-always", ratio("peak_rss_mib", SysNATSAlways), 1, "×"),
		atLeast(15, "fan-out deliveries/s vs nats-always", ratio("fanout_deliveries_per_sec", SysNATSAlways), 1),
		atLeast(5, "consume-and-ack throughput vs nats-always", ratio("consume_msgs_per_sec", SysNATSAlways), 1),
		below(5, "idle WebSocket connection (KiB)", c["idle_conn_kib"], 15, "KiB"),
		below(5, "idle node RSS (MiB)", c["idle_node_rss_mib"], 50, "MiB"),
	}
}

// WriteTable prints the medians and ratios, then the goals, as aligned text.
func (r CompareResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	var peers []string
	for _, s := range r.Systems {
		if s != SysCarrier {
			peers = append(peers, s)
		}
	}
	head := append([]string{fmt.Sprintf("median of %d round(s)", r.Rounds)}, r.Systems...)
	for _, p := range peers {
		head = append(head, "carrier/"+p)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, m := range r.Metrics {
		row := []string{m.Name}
		for _, s := range r.Systems {
			row = append(row, cell(m.Median, s, "%.4g"))
		}
		for _, p := range peers {
			row = append(row, cell(m.Ratio, p, "%.2f×"))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	fmt.Fprintln(tw, "\t")
	if r.E2EPeak > 0 {
		fmt.Fprintf(tw, "e2e loads: fractions of %.0f msgs/s\t\n", r.E2EPeak)
	}
	fmt.Fprintln(tw, "goal (issue), against the fair peer\tmeasured\twant\tmet\t")
	for _, g := range r.Goals {
		fmt.Fprintf(tw, "%s (%d)\t%.2f\t%s\t%s\t\n", g.Goal, g.Issue, g.Value, g.Want, metWord(g.Met))
	}
	return tw.Flush()
}

func cell(m map[string]float64, key, format string) string {
	if v, ok := m[key]; ok {
		return fmt.Sprintf(format, v)
	}
	return "-"
}

func metWord(met bool) string {
	if met {
		return "met"
	}
	return "NOT MET"
}
