// Command carrier runs a Carrier server (carrier serve) and talks to one:
// publish, subscribe, administer queues and dead letters. Run
// "carrier --help" for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/carriermq/carrier/cluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "carrier:", err)
		os.Exit(exitCode(err))
	}
}

// Exit codes: 2 for a usage error, 3 when a server stopped because its Raft
// log could not be written (a fail-stop: start it again once the disk is
// fixed; it reopens its log from disk), 4 when "cluster safe-to-stop"
// answers no, 1 for every other error.
const (
	exitError    = 1
	exitUsage    = 2
	exitFailStop = 3
	exitNotSafe  = 4
)

func exitCode(err error) int {
	var ue usageError
	var ns notSafeError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ns):
		return exitNotSafe
	case errors.Is(err, cluster.ErrLogStoreFailed), errors.Is(err, cluster.ErrStoreFailed):
		return exitFailStop
	default:
		return exitError
	}
}
