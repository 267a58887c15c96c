// Command carrier-bench runs the benchmarks that start clusters of their
// own on this machine: the side-by-side comparison of Carrier with NATS
// JetStream (compare), the leader-failover measurement (failover), and each
// workload against a fresh 3-node Carrier or JetStream cluster. It is a
// separate binary so that carrier links neither the test harness nor a NATS
// client. Run "carrier-bench --help" for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "carrier-bench:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake in how the command was called (exit status 2).
type usageError struct {
	err  error
	path string // command path for the --help hint
}

func (e usageError) Error() string {
	return fmt.Sprintf("%v\nRun '%s --help' for usage.", e.err, e.path)
}

func (e usageError) Unwrap() error { return e.err }

func usage(cmd *cobra.Command, err error) error {
	return usageError{err: err, path: cmd.CommandPath()}
}

// run executes the command line args: main without the process. The caller
// owns ctx (cancelled on SIGINT/SIGTERM); errors are returned, not printed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	started := false
	root.PersistentPreRun = func(*cobra.Command, []string) { started = true }
	cmd, err := root.ExecuteContextC(ctx)
	if cerr := a.cleanup(); cerr != nil && err == nil {
		err = cerr
	}
	var ue usageError
	if err != nil && !started && !errors.As(err, &ue) {
		return usageError{err: err, path: cmd.CommandPath()}
	}
	return err
}
