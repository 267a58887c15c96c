package main

import (
	"context"
	"strings"
	"testing"
)

// The bench commands run clusters (bench's own smoke tests cover that);
// here: every one documents itself, and a bad target fails before starting
// anything.
func TestBenchCommandsHelpAndTarget(t *testing.T) {
	for _, name := range []string{"failover", "publish", "latency", "e2e", "consume", "fanout", "compare"} {
		out, _, err := runCLI(context.Background(), nil, "", "bench", name, "--help")
		if err != nil || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Examples:") {
			t.Errorf("carrier bench %s --help: err %v, output:\n%s", name, err, out)
		}
	}
	for _, name := range []string{"publish", "latency", "e2e", "consume", "fanout"} {
		_, _, err := runCLI(context.Background(), nil, "", "bench", name, "--target", "kafka")
		if err == nil || !strings.Contains(err.Error(), `unknown --target "kafka"`) {
			t.Errorf("carrier bench %s --target kafka: error %v, want unknown --target", name, err)
		}
	}
}
