package local

import (
	"context"
	"testing"
	"time"

	"github.com/carriermq/carrier/bench"
	"github.com/carriermq/carrier/test/nodejs"
)

// needNode skips t, saying why, when the reference server cannot run.
func needNode(ctx context.Context, t *testing.T) {
	t.Helper()
	if why := nodejs.Missing(ctx); why != "" {
		t.Skip(why + ": the reference socket.io server did not run")
	}
}

// TestSocketIORefSmoke runs the socket.io publish and fan-out workloads
// briefly against the reference socket.io server and checks the counts
// (a smoke test: no figure is judged).
func TestSocketIORefSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the benchmark smoke tests start servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	needNode(ctx, t)
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

// TestCompareSocketIOQuick runs "carrier-bench socketio --quick" and checks
// the shape: one session per system, a summary row each with every figure.
func TestCompareSocketIOQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the benchmark smoke tests start clusters")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	needNode(ctx, t)
	res, err := CompareSocketIO(ctx, SocketIOCompareConfig{Bin: carrierBin, Dir: "../../" + DefaultSocketIODir, Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sessions) != 2 || len(res.Summary) != 2 {
		t.Fatalf("%d sessions, %d summary rows; want 2 and 2", len(res.Sessions), len(res.Summary))
	}
	for _, s := range res.Summary {
		if s.DeliveriesPerSec <= 0 || s.PublishPerSec <= 0 || s.PeakRSSMiB <= 0 {
			t.Errorf("summary %+v: a figure is missing", s)
		}
	}
	for _, s := range res.Sessions {
		if s.Fanout.Deliveries != int64(res.Subscribers)*s.Fanout.Published || s.Idle.Conns != res.IdleConns {
			t.Errorf("session %s: %d deliveries of %d × %d, %d idle sockets", s.System, s.Fanout.Deliveries, s.Fanout.Published, res.Subscribers, s.Idle.Conns)
		}
	}
}
