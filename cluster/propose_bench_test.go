package cluster

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/carriermq/carrier/queue"
)

// BenchmarkPropose publishes 1 KiB messages through a single-node cluster
// from many goroutines (b.SetParallelism), for several pipelining depths, and reports how many commands
// shared each Raft entry and each log fsync. Run with:
//
//	go test ./cluster -run '^$' -bench Propose -benchtime 3s
func BenchmarkPropose(b *testing.B) {
	for _, inflight := range []int{1, 4, 16} {
		for _, par := range []int{1, 16, 128} {
			b.Run(fmt.Sprintf("inflight=%d/goroutines=%d", inflight, par*runtime.GOMAXPROCS(0)), func(b *testing.B) {
				cfg := testConfig(b, b.TempDir())
				cfg.MaxInflightEntries = inflight
				n := startNode(b, cfg)
				mustPropose(b, n, queue.CreateQueue{Name: "q"})
				benchPublish(b, n, par)
			})
		}
	}
}

// benchPublish runs benchPublishOnly and reports throughput and how many
// messages shared each Raft entry and each fsync (group commit).
func benchPublish(b *testing.B, n *Node, par int) {
	before := n.Stats()
	benchPublishOnly(b, n, par)
	after := n.Stats()
	cmds := float64(after.CommandsApplied - before.CommandsApplied)
	b.ReportMetric(cmds/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(cmds/float64(after.EntriesApplied-before.EntriesApplied), "msgs/entry")
	b.ReportMetric(cmds/float64(after.LogAppends-before.LogAppends), "msgs/fsync")
}
