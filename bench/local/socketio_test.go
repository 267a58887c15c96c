package local

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/carriermq/carrier/bench"
)

// TestSocketIORefSmoke runs the socket.io publish and fan-out workloads
// briefly against the reference socket.io server and checks the counts
// (a smoke test: no figure is judged).
func TestSocketIORefSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the benchmark smoke tests start servers")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found on PATH: the reference socket.io server needs Node.js 20+", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ref, err := StartSocketIORef(ctx, "../../"+DefaultSocketIODir)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if len(ref.PIDs()) != 1 {
		t.Errorf("PIDs %v, want the node process", ref.PIDs())
	}
	pub, err := bench.RunPublish(ctx, ref, bench.PublishConfig{Publishers: 2, Window: 16, Duration: 300 * time.Millisecond})
	if err != nil || pub.Confirmed == 0 {
		t.Errorf("publish: %+v, %v", pub, err)
	}
	fan, err := bench.RunFanout(ctx, ref, bench.FanoutConfig{Subscribers: 3, Window: 16, Duration: 300 * time.Millisecond})
	if err != nil || fan.Published == 0 || fan.Deliveries != 3*fan.Published {
		t.Errorf("fanout: %+v, %v; want 3 deliveries per publish", fan, err)
	}
	if m, err := IdleSocketIOMemory(ctx, ref, 20); err != nil || m.Conns != 20 || m.RSSAfter <= 0 {
		t.Errorf("idle sockets: %+v, %v", m, err)
	}
	if _, err := ref.NewConsumer(ctx, 0, "bench-consume", "g"); err == nil {
		t.Error("the reference server has no consumer groups, NewConsumer must fail")
	}
}

// TestCarrierSocketIOSmoke runs the same workloads over socket.io against a
// 3-node Carrier cluster (counts only).
func TestCarrierSocketIOSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the benchmark smoke tests start clusters")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := StartCarrierSocketIO(ctx, carrierBin, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pub, err := bench.RunPublish(ctx, c, bench.PublishConfig{Publishers: 2, Window: 16, Duration: 300 * time.Millisecond})
	if err != nil || pub.Confirmed == 0 || pub.Target != SysCarrierSocketIO || pub.GroupCommit == nil {
		t.Errorf("publish: %+v, %v", pub, err)
	}
	fan, err := bench.RunFanout(ctx, c, bench.FanoutConfig{Subscribers: 3, Window: 16, Duration: 300 * time.Millisecond})
	if err != nil || fan.Published == 0 || fan.Deliveries != 3*fan.Published {
		t.Errorf("fanout: %+v, %v; want 3 deliveries per publish", fan, err)
	}
	if m, err := IdleSocketIOMemory(ctx, c, 20); err != nil || m.Conns != 20 || m.RSSAfter <= 0 {
		t.Errorf("idle sockets: %+v, %v", m, err)
	}
}
