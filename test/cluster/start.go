package clustertest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Start starts a cluster of opts for t and waits until every node is ready
// and they agree on a leader (60 s at most). t's cleanup kills the nodes
// and, when t failed, logs the tail of each node's log (logBytes each).
func Start(t testing.TB, opts Options, logBytes int) *Cluster {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			var b strings.Builder
			c.DumpLogs(&b, logBytes)
			t.Log(b.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leader(ctx); err != nil {
		t.Fatalf("no agreed leader: %v", err)
	}
	return c
}
