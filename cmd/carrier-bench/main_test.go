package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func runBench(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// The commands run clusters (bench/local's smoke tests cover that); here:
// every one documents itself, and bad command lines fail as usage errors
// before anything is built or started.
func TestHelpAndUsage(t *testing.T) {
	for _, name := range []string{"compare", "failover", "socketio", "publish", "latency", "e2e", "consume", "fanout"} {
		out, _, err := runBench(name, "--help")
		if err != nil || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Examples:") ||
			!strings.Contains(out, "carrier-bench "+name) || !strings.Contains(out, "--carrier") {
			t.Errorf("carrier-bench %s --help: err %v, output:\n%s", name, err, out)
		}
	}
	for _, name := range []string{"publish", "latency", "e2e", "consume", "fanout"} {
		_, errOut, err := runBench(name, "--target", "kafka")
		if err == nil || !strings.Contains(err.Error(), `unknown --target "kafka"`) || errOut != "" {
			t.Errorf("carrier-bench %s --target kafka: error %v, stderr %q: want unknown --target, nothing built", name, err, errOut)
		}
	}
	for _, args := range [][]string{{"failover", "--trials", "0"}, {"compare", "extra"}, {"publish", "--size", "0"},
		{"compare", "--no-such-flag"}, {"socketio", "extra"}} {
		_, _, err := runBench(args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("carrier-bench %s: error %v, want a usage error", strings.Join(args, " "), err)
		}
	}
}
