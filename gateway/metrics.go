package gateway

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/carriermq/carrier/cluster"
)

// StatsSource is what GET /metrics reads besides Backend; *cluster.Node has
// it. Stats is safe for concurrent use and cheap (atomic loads).
type StatsSource interface {
	// Stats reports the node's group-commit counters since it started.
	Stats() cluster.Stats
}

// groupCommitCollector exposes a StatsSource's counters as Prometheus
// counters, read from Stats at scrape time: the node keeps the only copy
// of the numbers (no second bookkeeping here). Safe for concurrent scrapes.
type groupCommitCollector struct {
	src                        StatsSource
	appends, entries, commands *prometheus.Desc
}

func newGroupCommitCollector(src StatsSource) *groupCommitCollector {
	return &groupCommitCollector{
		src: src,
		appends: prometheus.NewDesc("carrier_raft_log_appends_total",
			"Raft log store appends on this node since it started; each is one fsync.", nil, nil),
		entries: prometheus.NewDesc("carrier_raft_entries_applied_total",
			"Raft entries of queue commands applied on this node since it started.", nil, nil),
		commands: prometheus.NewDesc("carrier_raft_commands_applied_total",
			"Queue commands applied on this node since it started (several per entry with group commit).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *groupCommitCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.appends
	ch <- c.entries
	ch <- c.commands
}

// Collect implements prometheus.Collector: one Stats call per scrape.
func (c *groupCommitCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	ch <- prometheus.MustNewConstMetric(c.appends, prometheus.CounterValue, float64(s.LogAppends))
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.CounterValue, float64(s.EntriesApplied))
	ch <- prometheus.MustNewConstMetric(c.commands, prometheus.CounterValue, float64(s.CommandsApplied))
}

// metricsHandler serves the Prometheus text format of a registry of its
// own (not the global default): the group-commit counters when the backend
// is a StatsSource, and nothing else.
//
// handleMetrics builds it per scrape: a registry and three descriptors are
// a few allocations, scrapes come every few seconds at most, and the
// Gateway keeps no metrics state of its own.
func metricsHandler(b Backend) http.Handler {
	reg := prometheus.NewRegistry()
	if src, ok := b.(StatsSource); ok {
		reg.MustRegister(newGroupCommitCollector(src))
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// handleMetrics serves GET /metrics.
func (g *Gateway) handleMetrics(w http.ResponseWriter, r *http.Request) {
	metricsHandler(g.b).ServeHTTP(w, r)
}
