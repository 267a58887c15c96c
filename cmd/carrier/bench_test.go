package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/carriermq/carrier/bench"
)

// The workloads against a running server are checked by checkBenchRunning
// (called with a real server by TestServePublishSubscribeInProcess); here:
// every one documents itself, a node that does not answer fails before
// anything runs, and the benchmarks that start clusters point to
// carrier-bench.
func TestBenchCommandsHelpAndServer(t *testing.T) {
	for _, name := range []string{"publish", "latency", "e2e", "consume", "fanout"} {
		out, _, err := runCLI(context.Background(), nil, "", "bench", name, "--help")
		if err != nil || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Examples:") ||
			!strings.Contains(out, "--server") || strings.Contains(out, "--target") {
			t.Errorf("carrier bench %s --help: err %v, output:\n%s", name, err, out)
		}
		_, _, err = runCLI(context.Background(), nil, "", "bench", name, "--server", "127.0.0.1:1")
		if err == nil || !strings.Contains(err.Error(), "cannot reach a Carrier server at 127.0.0.1:1") {
			t.Errorf("carrier bench %s --server 127.0.0.1:1: error %v, want cannot reach", name, err)
		}
	}
	for _, name := range []string{"compare", "failover"} {
		_, _, err := runCLI(context.Background(), nil, "", "bench", name, "--quick")
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "carrier-bench "+name) {
			t.Errorf("carrier bench %s: error %v, want a usage error naming carrier-bench", name, err)
		}
	}
	_, _, err := runCLI(context.Background(), nil, "", "bench", "publish", "--window", "0")
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "must be positive") {
		t.Errorf("carrier bench publish --window 0: error %v, want a usage error", err)
	}
}

// checkBenchRunning runs every workload, briefly, against the running
// single node at env's CARRIER_SERVER and checks that its counts add up.
func checkBenchRunning(t *testing.T, ctx context.Context, env map[string]string) {
	t.Helper()
	var (
		pub     bench.PublishResult
		lat     bench.LatencyResult
		e2e     bench.E2EResult
		consume bench.ConsumeResult
		fanout  bench.FanoutResult
	)
	runs := []struct {
		args   []string
		result any
		ok     func() bool
	}{
		{[]string{"publish", "--publishers", "2", "--window", "16", "--duration", "500ms"}, &pub, func() bool {
			return pub.Confirmed > 0 && pub.GroupCommit != nil && pub.GroupCommit.LogAppends > 0
		}},
		{[]string{"latency", "--count", "20"}, &lat, func() bool { return lat.Count == 20 }},
		{[]string{"e2e", "--peak", "200", "--loads", "50", "--duration", "500ms"}, &e2e, func() bool {
			return len(e2e.Runs) == 1 && e2e.Runs[0].Sent > 0 && e2e.Runs[0].Received == e2e.Runs[0].Sent
		}},
		{[]string{"consume", "--messages", "50", "--consumers", "2"}, &consume, func() bool { return consume.Acked == 50 }},
		{[]string{"fanout", "--subscribers", "2", "--duration", "500ms"}, &fanout, func() bool {
			return fanout.Published > 0 && fanout.Deliveries == 2*fanout.Published
		}},
		{[]string{"publish", "--protocol", "socketio", "--publishers", "2", "--window", "16", "--duration", "500ms"}, &pub, func() bool {
			return pub.Target == "carrier-socketio" && pub.Confirmed > 0 && pub.GroupCommit != nil
		}},
		{[]string{"fanout", "--protocol", "socketio", "--subscribers", "2", "--duration", "500ms"}, &fanout, func() bool {
			return fanout.Target == "carrier-socketio" && fanout.Published > 0 && fanout.Deliveries == 2*fanout.Published
		}},
	}
	for _, run := range runs {
		args := append([]string{"bench"}, run.args...)
		out, errOut, err := runCLI(ctx, env, "", append(args, "--json")...)
		if err != nil {
			t.Errorf("carrier %s: %v\n%s", strings.Join(args, " "), err, errOut)
			continue
		}
		if err := json.Unmarshal([]byte(out), run.result); err != nil || !run.ok() {
			t.Errorf("carrier %s --json: %v, result:\n%s", strings.Join(args, " "), err, out)
		}
	}
}
