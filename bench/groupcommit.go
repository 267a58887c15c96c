package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// GroupCommit is the sum over a Carrier cluster's nodes of the group-commit
// counters of GET /metrics (each node counts its own log appends and applied
// entries and commands).
type GroupCommit struct {
	LogAppends      float64 `json:"logAppends"`
	EntriesApplied  float64 `json:"entriesApplied"`
	CommandsApplied float64 `json:"commandsApplied"`
}

// GroupCommitStats is what the group commit did over a run: commands (queue
// writes; one Publish command may carry many messages) per Raft entry and
// per log append (= per fsync), from the counters' deltas summed over the
// nodes; and the benchmark's confirmed messages per log append of a node
// (every node appends every entry: messages × nodes / appends).
type GroupCommitStats struct {
	CommandsPerEntry  float64 `json:"commandsPerEntry"`
	CommandsPerAppend float64 `json:"commandsPerFsync"`
	MessagesPerAppend float64 `json:"messagesPerFsync"`
	LogAppends        float64 `json:"logAppends"`
	Commands          float64 `json:"commands"`
}

// metricNames maps the /metrics counters to their GroupCommit field.
var metricNames = map[string]func(*GroupCommit) *float64{
	"carrier_raft_log_appends_total":      func(g *GroupCommit) *float64 { return &g.LogAppends },
	"carrier_raft_entries_applied_total":  func(g *GroupCommit) *float64 { return &g.EntriesApplied },
	"carrier_raft_commands_applied_total": func(g *GroupCommit) *float64 { return &g.CommandsApplied },
}

// ReadGroupCommit scrapes GET /metrics of every node and sums the counters.
func (t *CarrierTarget) ReadGroupCommit(ctx context.Context) (GroupCommit, error) {
	var sum GroupCommit
	for _, u := range t.NodeURLs() {
		g, err := scrapeGroupCommit(ctx, t.hc, u+"/metrics")
		if err != nil {
			return GroupCommit{}, err
		}
		sum.LogAppends += g.LogAppends
		sum.EntriesApplied += g.EntriesApplied
		sum.CommandsApplied += g.CommandsApplied
	}
	return sum, nil
}

// scrapeGroupCommit reads the counters at url with hc (nil: the default client).
func scrapeGroupCommit(ctx context.Context, hc *http.Client, url string) (GroupCommit, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return GroupCommit{}, fmt.Errorf("metrics: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return GroupCommit{}, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return GroupCommit{}, fmt.Errorf("metrics %s: status %d", url, resp.StatusCode)
	}
	var g GroupCommit
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		field, known := metricNames[name]
		if !ok || !known {
			continue
		}
		if *field(&g), err = strconv.ParseFloat(val, 64); err != nil {
			return GroupCommit{}, fmt.Errorf("metrics %s: %q: %w", url, sc.Text(), err)
		}
	}
	return g, sc.Err()
}

// since returns the stats of the interval from before to g, in which
// messages were confirmed by a cluster of nodes nodes.
func (g GroupCommit) since(before GroupCommit, messages int64, nodes int) GroupCommitStats {
	s := GroupCommitStats{LogAppends: g.LogAppends - before.LogAppends, Commands: g.CommandsApplied - before.CommandsApplied}
	if e := g.EntriesApplied - before.EntriesApplied; e > 0 {
		s.CommandsPerEntry = s.Commands / e
	}
	if s.LogAppends > 0 {
		s.CommandsPerAppend = s.Commands / s.LogAppends
		s.MessagesPerAppend = float64(messages) * float64(nodes) / s.LogAppends
	}
	return s
}
