package cluster

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/carriermq/carrier/queue"
)

// BenchmarkProposeCluster publishes 1 KiB messages on a three-node cluster,
// on the leader and on a follower (forwarded), from many goroutines, and
// reports messages per second, per Raft entry and per leader fsync, and for
// a follower the commands per forward request. Run with:
//
//	go test ./cluster -run '^$' -bench ProposeCluster -benchtime 3s
func BenchmarkProposeCluster(b *testing.B) {
	for _, on := range []string{"leader", "follower"} {
		for _, par := range []int{1, 16, 128} {
			b.Run(fmt.Sprintf("on=%s/goroutines=%d", on, par*runtime.GOMAXPROCS(0)), func(b *testing.B) {
				leader, fs := split(b, startTrio(b))
				n := leader
				if on == "follower" {
					n = fs[0]
				}
				mustPropose(b, n, queue.CreateQueue{Name: "q"})
				reqs, cmds := n.group.fwd.requests.Load(), n.group.fwd.commands.Load()
				benchPublishVia(b, n, leader, par)
				if r := n.group.fwd.requests.Load() - reqs; r > 0 {
					b.ReportMetric(float64(n.group.fwd.commands.Load()-cmds)/float64(r), "msgs/forward")
				}
			})
		}
	}
}

// benchPublishVia is benchPublish with the entry and fsync counts read on
// the leader (a follower's own log appends are its replication, not the
// group commit).
func benchPublishVia(b *testing.B, n, leader *Node, par int) {
	before := leader.Stats()
	benchPublishOnly(b, n, par)
	after := leader.Stats()
	cmds := float64(after.CommandsApplied - before.CommandsApplied)
	b.ReportMetric(cmds/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(cmds/float64(after.EntriesApplied-before.EntriesApplied), "msgs/entry")
	b.ReportMetric(cmds/float64(after.LogAppends-before.LogAppends), "msgs/fsync")
}

// benchPublishOnly runs b.N 1 KiB publishes on n from par×GOMAXPROCS goroutines.
func benchPublishOnly(b *testing.B, n *Node, par int) {
	data := []byte(`"` + strings.Repeat("x", 1022) + `"`)
	var id atomic.Uint64
	b.SetBytes(int64(len(data)))
	b.SetParallelism(par)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			msg := &queue.Message{ID: fmt.Sprint(id.Add(1)), Event: "e", Data: data}
			res, err := n.Propose(context.Background(), queue.Publish{Queue: "q", Messages: []*queue.Message{msg}})
			if err != nil || res.Err != nil {
				b.Errorf("publish: %v %v", err, res.Err)
				return
			}
		}
	})
	b.StopTimer()
}
