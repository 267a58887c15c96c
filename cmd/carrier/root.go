package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// app carries what commands read and write, so tests can run them with
// their own streams and environment.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) (string, bool)
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

// envKey is the environment variable that sets a flag: CARRIER_<FLAG>
// (upper case, "-" as "_"), for example CARRIER_SERVER or CARRIER_DATA. A
// flag given on the command line wins.
func envKey(flag string) string {
	return "CARRIER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envFlagged reports whether a flag of cmd takes its default from the
// environment: every flag of serve (derived from its flag set, so a new
// flag cannot be forgotten), and --server and the --tls-* flags of the
// client commands.
func envFlagged(cmd *cobra.Command, f *pflag.Flag) bool {
	if f.Name == "help" {
		return false
	}
	return cmd.Name() == "serve" || f.Name == "server" || strings.HasPrefix(f.Name, "tls-")
}

// run executes the carrier command line args. It is main without the
// process: the caller owns ctx (cancelled on SIGINT/SIGTERM), and errors are
// returned, not printed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := &app{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: os.LookupEnv}
	return a.run(ctx, args)
}

func (a *app) run(ctx context.Context, args []string) error {
	root := a.rootCmd()
	root.SetArgs(args)
	started := false
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		started = true
		return a.applyEnv(cmd)
	}
	cmd, err := root.ExecuteContextC(ctx)
	var ue usageError
	if err != nil && !started && !errors.As(err, &ue) {
		return usageError{err: err, path: cmd.CommandPath()}
	}
	return err
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "carrier",
		Short: "Carrier: a clustered message queue that remembers what each consumer missed",
		Long: `Carrier is a message queue for real-time apps. Producers publish events to
named queues; consumer groups receive every event and ack it, and a consumer
that was away gets everything it missed when it comes back.

Start a server with "carrier serve", then publish and subscribe from another
terminal. Client commands talk to --server (default http://127.0.0.1:7420,
or $CARRIER_SERVER).`,
		Example: `  carrier serve
  carrier sub orders --group billing
  carrier pub orders '{"id":42,"total":9.5}' --event order.created
  carrier queue ls`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// --version is a flag of its own, not cobra's Version field: cobra prints
	// that through text/template, whose reflection keeps the linker from
	// dropping unused methods (2.8 MB more binary, measured).
	showVersion := root.Flags().BoolP("version", "v", false, "print the version, the revision it was built from, and the Go version")
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if *showVersion {
			_, err := fmt.Fprintln(a.stdout, versionLine())
			return err
		}
		return cmd.Help()
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetIn(a.stdin)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{err: err, path: c.CommandPath()}
	})
	root.AddCommand(a.serveCmd(), a.pubCmd(), a.subCmd(), a.queueCmd(), a.groupCmd(), a.dlqCmd(), a.benchCmd(), a.clusterCmd())
	return root
}

// applyEnv fills unset envFlags of cmd from the environment.
func (a *app) applyEnv(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || !envFlagged(cmd, f) {
			return
		}
		key := envKey(f.Name)
		if v, ok := a.getenv(key); ok && v != "" {
			if err := cmd.Flags().Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("$%s: %w", key, err))
			}
		}
	})
	if len(errs) > 0 {
		return usageError{err: errors.Join(errs...), path: cmd.CommandPath()}
	}
	return nil
}

// exactArgs is cobra.ExactArgs with a message that names the arguments.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{err: fmt.Errorf("%s needs %s (got %d arguments)", cmd.CommandPath(), names, len(args)), path: cmd.CommandPath()}
		}
		return nil
	}
}

// rangeArgs accepts between lo and hi arguments.
func rangeArgs(lo, hi int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usageError{err: fmt.Errorf("%s takes %s (got %d arguments)", cmd.CommandPath(), names, len(args)), path: cmd.CommandPath()}
		}
		return nil
	}
}

// flagError reports a bad flag value as a usage error.
func flagError(cmd *cobra.Command, format string, args ...any) error {
	return usageError{err: fmt.Errorf(format, args...), path: cmd.CommandPath()}
}

// hasFlag reports whether the flag was given (on the command line or by env).
func hasFlag(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed
}
