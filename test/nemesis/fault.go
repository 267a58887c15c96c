//go:build linux

// Package nemesis injects faults into real Carrier processes on one Linux
// machine: network partitions (iptables), latency and loss (tc netem), a
// full disk (a size-limited tmpfs) and a corrupted Raft log or snapshot
// tail. Every fault is a small value with Start and Heal; the fault-injection
// suite mixes them on a schedule. See DESIGN.md.
package nemesis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Fault is one injectable failure.
//
// Start applies the fault; Heal undoes it and is safe to call more than
// once and after a failed Start (it removes whatever Start left). A Fault is
// not safe for concurrent use: one goroutine (the schedule) drives it.
type Fault interface {
	Start(ctx context.Context) error
	Heal(ctx context.Context) error
	String() string
}

// ErrUnsupported is wrapped by Available when the machine cannot inject a
// kind of fault (a tool is missing or the process lacks privileges).
var ErrUnsupported = errors.New("fault injection unsupported here")

// Available reports whether the named tools are on PATH and the process is
// root (every fault here needs CAP_NET_ADMIN or CAP_SYS_ADMIN). The error
// names what is missing, for a loud skip.
func Available(tools ...string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: not root (uid %d)", ErrUnsupported, os.Geteuid())
	}
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s not found (scripts/install-test-deps.sh installs them)",
			ErrUnsupported, strings.Join(missing, ", "))
	}
	return nil
}

// run executes a command and returns its error with its output attached.
func run(ctx context.Context, name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err,
			strings.TrimSpace(out.String()))
	}
	return nil
}

// output executes a command and returns its standard output.
func output(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}
