// Package clustertest runs Carrier clusters of real "carrier serve"
// processes on loopback addresses, for the cluster tests in this directory
// and for "carrier-bench" (failover, compare). It starts, kills (SIGKILL), stops
// (SIGTERM), pauses (SIGSTOP), resumes, restarts, wipes and adds nodes, finds
// the leader through GET /v1/cluster, and drives a checked workload
// (producers and a consumer group recorded in a checker.History).
//
// The import path is github.com/carriermq/carrier/test/cluster. See DESIGN.md.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Build compiles cmd/carrier into dir and returns the binary's path. It runs
// "go build" from the current directory, which must be inside the module.
func Build(ctx context.Context, dir string) (string, error) {
	return BuildTagged(ctx, dir, "carrier", "")
}

// BuildTagged compiles cmd/carrier with the build tags (comma-separated,
// "" for none) into dir/name. The fault suite uses it for a deliberately
// broken binary.
func BuildTagged(ctx context.Context, dir, name, tags string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", tags, "-o", bin, "github.com/carriermq/carrier/cmd/carrier")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build carrier: %w\n%s", err, out)
	}
	return bin, nil
}

// ErrStop makes Poll give up at once with the wrapped error.
type ErrStop struct{ Err error }

func (e ErrStop) Error() string { return e.Err.Error() }
func (e ErrStop) Unwrap() error { return e.Err }

// Poll calls fn every interval until it returns nil, returns ErrStop, or
// ctx ends; it then returns fn's last error (wrapped with ctx's).
func Poll(ctx context.Context, interval time.Duration, fn func() error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := fn()
		var stop ErrStop
		if err == nil || errors.As(err, &stop) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// CleanEnv is this process's environment without CARRIER_* variables, so a
// developer's settings never leak into the nodes under test.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CARRIER_") {
			env = append(env, kv)
		}
	}
	return env
}

// RunWithBuild is the body of a TestMain that needs carrier binaries: it
// makes a temporary dir, calls build (which compiles into it, e.g. with
// Build), runs the tests and removes the dir. It returns the exit code;
// name prefixes errors ("cluster tests").
func RunWithBuild(m interface{ Run() int }, name string, build func(ctx context.Context, dir string) error) int {
	dir, err := os.MkdirTemp("", "carrier-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := build(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return m.Run()
}
