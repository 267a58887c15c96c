// Package socketio_test runs unchanged socket.io-client programs (Node,
// agent.mjs) through a round-robin load balancer (test/lb) against real
// 3-node Carrier clusters (test/cluster): both transports, the upgrade on
// another node, the seed scenario with kill -9, recovery on another node.
// See DESIGN.md.
package socketio_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	clustertest "github.com/carriermq/carrier/test/cluster"
	"github.com/carriermq/carrier/test/nodejs"
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
// returns why the Node programs cannot run, or "". With Node present, a
// failing install fails the run.
func prepareNode(ctx context.Context) string {
	if why := nodejs.Missing(ctx); why != "" {
		return why + " to run the socket.io tests"
	}
	if err := nodejs.CI(ctx, "."); err != nil {
		fmt.Fprintln(os.Stderr, "socket.io tests:", err)
		os.Exit(1)
	}
	return ""
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
