// Package socketio_test runs unchanged socket.io-client programs (Node,
// agent.mjs) through a round-robin load balancer (test/lb) against real
// 3-node Carrier clusters (test/cluster): both transports, the upgrade on
// another node, the seed scenario with kill -9, recovery on another node.
// See DESIGN.md.
package socketio_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	clustertest "github.com/carriermq/carrier/test/cluster"
)

var (
	carrierBin string
	// noNode says why the Node programs cannot run here ("" when they can).
	noNode string
)

func TestMain(m *testing.M) {
	os.Exit(clustertest.RunWithBuild(m, "socket.io tests", func(ctx context.Context, dir string) (err error) {
		if noNode = prepareNode(ctx); noNode != "" {
			return nil
		}
		carrierBin, err = clustertest.Build(ctx, dir)
		return err
	}))
}

// prepareNode checks for Node.js 20+ and npm and installs the locked
// packages (socket.io-client, and the reference socket.io server); it
// returns why it could not, or "".
func prepareNode(ctx context.Context) string {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not found on PATH: install Node.js 20 or newer to run the socket.io tests"
		}
	}
	out, err := exec.CommandContext(ctx, "node", "--version").Output()
	if v := strings.TrimSpace(string(out)); err != nil || !atLeast20(v) {
		return fmt.Sprintf("node %q (%v) is not Node.js 20 or newer", v, err)
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Run(); err != nil {
		// Not a skip: with Node present, a failing install is a failure.
		fmt.Fprintf(os.Stderr, "socket.io tests: npm ci: %v\n%s", err, b.String())
		os.Exit(1)
	}
	return ""
}

func atLeast20(v string) bool {
	m := regexp.MustCompile(`^v(\d+)\.`).FindStringSubmatch(v)
	if m == nil {
		return false
	}
	major, err := strconv.Atoi(m[1])
	return err == nil && major >= 20
}

// needNode skips t, saying why, when the Node programs cannot run.
func needNode(t *testing.T) {
	t.Helper()
	if noNode != "" {
		t.Skip(noNode)
	}
}

// timeout is a context ending after d or at the end of t.
func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
