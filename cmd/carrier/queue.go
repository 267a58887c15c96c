package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
)

func (a *app) queueCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "List, create, inspect, purge and delete queues",
		Long: `Administer queues over the HTTP API. "carrier queue ls" lists them;
"carrier queue info NAME" shows one queue with its consumer groups.`,
		Example: `  carrier queue ls
  carrier queue create orders --max-age 24h --dedup-window 10m
  carrier queue update orders --max-age 48h
  carrier queue info orders
  carrier queue purge orders
  carrier queue rm orders`,
		Args: exactArgs(0, "a subcommand (ls, create, update, info, purge, rm)"),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f.register(cmd, true)
	cmd.AddCommand(a.queueLsCmd(f), a.queueCreateCmd(f), a.queueUpdateCmd(f), a.queueInfoCmd(f), a.queuePurgeCmd(f), a.queueRmCmd(f))
	return cmd
}

// withAdmin runs fn with an admin client and a request deadline.
func (a *app) withAdmin(cmd *cobra.Command, f *clientFlags, fn func(ctx context.Context, ad *client.Admin) error) error {
	ad, err := f.admin()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	return f.explain(fn(ctx, ad))
}

func (a *app) queueLsCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List queues",
		Example: "  carrier queue ls\n  carrier queue ls --json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				qs, err := ad.Queues(ctx)
				if err != nil {
					return err
				}
				return a.printQueues(f, qs)
			})
		},
	}
}

func (a *app) printQueues(f *clientFlags, qs []protocol.QueueInfo) error {
	if f.json {
		return printJSON(a.stdout, protocol.QueueList{Queues: qs})
	}
	if len(qs) == 0 {
		_, err := fmt.Fprintln(a.stdout, "no queues (publish to one, or: carrier queue create NAME)")
		return err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMESSAGES\tSIZE\tSEQS\tGROUPS\tDEAD LETTERS")
	for _, q := range qs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\n", q.Name, q.Messages, humanBytes(q.Bytes),
			seqRange(q), groupNames(q.Groups), q.DeadLetters)
	}
	return tw.Flush()
}

func seqRange(q protocol.QueueInfo) string {
	if q.Messages == 0 {
		return fmt.Sprintf("- (last %d)", q.LastSeq)
	}
	return fmt.Sprintf("%d-%d", q.FirstSeq, q.LastSeq)
}

func groupNames(gs []protocol.GroupInfo) string {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	return orDash(strings.Join(names, ","))
}

func (a *app) queueInfoCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "info QUEUE",
		Short:   "Show a queue's settings, counts and consumer groups",
		Example: "  carrier queue info orders\n  carrier queue info orders --json",
		Args:    exactArgs(1, "a QUEUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				q, err := ad.Queue(ctx, args[0])
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, q)
				}
				return printQueueInfo(a.stdout, q)
			})
		},
	}
}

func printQueueInfo(w io.Writer, q protocol.QueueInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Queue:\t%s\n", q.Name)
	fmt.Fprintf(tw, "Created:\t%s\n", shortTime(q.Created))
	fmt.Fprintf(tw, "Messages:\t%d (%s), seqs %s\n", q.Messages, humanBytes(q.Bytes), seqRange(q))
	fmt.Fprintf(tw, "Dead letters:\t%d\n", q.DeadLetters)
	fmt.Fprintf(tw, "Dropped by limits:\t%s\n", droppedNote(q))
	fmt.Fprintf(tw, "Settings:\t%s\n", configSummary(q.Config))
	fmt.Fprintf(tw, "Group defaults:\t%s\n", groupSummary(q.Config.Group))
	fmt.Fprintf(tw, "Version:\t%s\n", orDash(q.ETag))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(q.Groups) == 0 {
		_, err := fmt.Fprintln(w, "\nNo consumer groups yet (carrier sub QUEUE --group NAME makes one).")
		return err
	}
	fmt.Fprintln(w, "\nGroups:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMEMBERS\tPENDING\tUNACKED\tSCHEDULED\tACK FLOOR\tREDELIVERED\tSETTINGS")
	for _, g := range q.Groups {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", g.Name, g.Members, g.Pending, g.Unacked,
			g.Scheduled, g.AckFloor, g.Redelivered, groupSummary(g.Config))
	}
	return tw.Flush()
}

func configSummary(c protocol.QueueConfig) string {
	parts := []string{"retention=" + orDash(c.Retention), "discard=" + orDash(c.Discard)}
	add := func(name string, v int64) {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", name, v))
		}
	}
	add("maxMessages", c.MaxMessages)
	if c.MaxBytes != 0 {
		parts = append(parts, "maxBytes="+humanBytes(c.MaxBytes))
	}
	if c.MaxAge != "" {
		parts = append(parts, "maxAge="+c.MaxAge)
	}
	if c.MaxMessageSize != 0 {
		parts = append(parts, "maxMessageSize="+humanBytes(c.MaxMessageSize))
	}
	if c.DedupWindow != "" {
		parts = append(parts, "dedupWindow="+c.DedupWindow)
	}
	add("maxDeadLetters", c.MaxDeadLetters)
	return strings.Join(parts, " ")
}

func groupSummary(g protocol.GroupConfig) string {
	parts := []string{"ackWait=" + orDash(g.AckWait),
		fmt.Sprintf("maxDeliver=%d", g.MaxDeliver), fmt.Sprintf("maxInFlight=%d", g.MaxInFlight)}
	if g.Start != nil {
		parts = append(parts, "start="+g.Start.Kind)
	}
	return strings.Join(parts, " ")
}

func (a *app) queuePurgeCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "purge QUEUE",
		Short: "Remove every stored message of a queue (groups and settings stay)",
		Long: `Remove every stored message of QUEUE. Groups keep their settings and
members but lose their pending and unacked messages; seqs are never reused.`,
		Example: "  carrier queue purge orders",
		Args:    exactArgs(1, "a QUEUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				n, err := ad.PurgeQueue(ctx, args[0])
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, map[string]any{"queue": args[0], "purged": n})
				}
				_, err = fmt.Fprintf(a.stdout, "purged %d messages from %s\n", n, args[0])
				return err
			})
		},
	}
}

func (a *app) queueRmCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "rm QUEUE",
		Aliases: []string{"delete"},
		Short:   "Delete a queue with its messages, groups and dead letters",
		Example: "  carrier queue rm orders",
		Args:    exactArgs(1, "a QUEUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				if err := ad.DeleteQueue(ctx, args[0]); err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, map[string]any{"queue": args[0], "deleted": true})
				}
				_, err := fmt.Fprintf(a.stdout, "deleted queue %s\n", args[0])
				return err
			})
		},
	}
}

// queueConfigFlags are the create and update flags, one per QueueConfig
// field; the group's are the defaults of new groups.
type queueConfigFlags struct {
	retention, discard          string
	maxMessages, maxDeadLetters int64
	maxBytes, maxMessageSize    string
	maxAge, dedupWindow         time.Duration
	group                       groupConfigFlags
}

// register adds the flags to fs.
func (qf *queueConfigFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&qf.retention, "retention", "", "limits or workqueue (default limits)")
	fs.Int64Var(&qf.maxMessages, "max-messages", 0, "keep at most this many messages")
	fs.StringVar(&qf.maxBytes, "max-bytes", "", "keep at most this many bytes (e.g. 512MiB)")
	fs.DurationVar(&qf.maxAge, "max-age", 0, "drop messages older than this (e.g. 24h)")
	fs.StringVar(&qf.maxMessageSize, "max-message-size", "", "refuse larger messages (e.g. 256KiB)")
	fs.StringVar(&qf.discard, "discard", "", "when a limit is hit: old (drop oldest) or new (refuse publish)")
	fs.DurationVar(&qf.dedupWindow, "dedup-window", 0, "how long a message id is remembered for de-duplication")
	fs.Int64Var(&qf.maxDeadLetters, "max-dead-letters", 0, "keep at most this many dead letters")
	qf.group.register(fs, "group default: ", true)
}

func (a *app) queueCreateCmd(f *clientFlags) *cobra.Command {
	qf := &queueConfigFlags{}
	cmd := &cobra.Command{
		Use:   "create QUEUE",
		Short: "Create a queue (settings not given take the server's defaults)",
		Long: `Create QUEUE. Creating a queue that exists with the same settings succeeds;
with other settings it fails with queue_exists.

Retention "limits" keeps messages until --max-messages, --max-bytes or
--max-age is exceeded; "workqueue" also drops a message once every group has
acked it. When a limit is hit, --discard old drops the oldest messages and
--discard new refuses the publish (queue_full). Sizes take B, KiB, MiB, GiB
(or KB, MB, GB). The --ack-wait, --max-deliver, --max-in-flight and --start
flags are the defaults of groups created on this queue.`,
		Example: `  carrier queue create orders
  carrier queue create orders --max-age 24h --max-bytes 512MiB --discard old
  carrier queue create jobs --retention workqueue --ack-wait 1m --max-deliver 5
  carrier queue create audit --start first --dedup-window 1h`,
		Args: exactArgs(1, "a QUEUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendSettings(a, cmd, f, qf.config, func(ctx context.Context, ad *client.Admin, cfg protocol.QueueConfig) (protocol.QueueInfo, error) {
				return ad.CreateQueue(ctx, args[0], cfg)
			}, queueLine("created"))
		},
	}
	qf.register(cmd.Flags())
	return cmd
}

func (a *app) queueUpdateCmd(f *clientFlags) *cobra.Command {
	qf := &queueConfigFlags{}
	var ifMatch string
	cmd := &cobra.Command{
		Use:   "update QUEUE",
		Short: "Change some settings of a queue (the others stay)",
		Long: `Change the settings given as flags on QUEUE; the others stay as they are.
Lowered limits are enforced at once. Concurrent updates never lose each
other's changes. With --if-match VERSION (the Version of "carrier queue
info", or its --json etag) the change applies only if the settings are still
that version; otherwise it fails with precondition_failed and changes
nothing. The group flags change the defaults of groups created later:
"carrier group update" changes an existing group.`,
		Example: `  carrier queue update orders --max-age 48h
  carrier queue update orders --max-bytes 1GiB --if-match 1e905fe632c885ca`,
		Args: exactArgs(1, "a QUEUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendSettings(a, cmd, f, qf.config, func(ctx context.Context, ad *client.Admin, cfg protocol.QueueConfig) (protocol.QueueInfo, error) {
				return ad.UpdateQueue(ctx, args[0], cfg, ifMatch)
			}, queueLine("updated"))
		},
	}
	qf.register(cmd.Flags())
	cmd.Flags().StringVar(&ifMatch, "if-match", "", "apply only to this version of the settings (see queue info)")
	return cmd
}

// sendSettings builds settings from the flags with config, sends them with
// send and prints the answer as JSON or as the line text makes of it.
func sendSettings[C, I any](a *app, cmd *cobra.Command, f *clientFlags, config func(*cobra.Command) (C, error),
	send func(context.Context, *client.Admin, C) (I, error), text func(I) string) error {
	cfg, err := config(cmd)
	if err != nil {
		return err
	}
	return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
		v, err := send(ctx, ad, cfg)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(a.stdout, v)
		}
		_, err = fmt.Fprintln(a.stdout, text(v))
		return err
	})
}

// queueLine says what was done to a queue, with its settings and version.
func queueLine(done string) func(protocol.QueueInfo) string {
	return func(q protocol.QueueInfo) string {
		return fmt.Sprintf("%s queue %s (%s; group defaults: %s; version %s)", done, q.Name,
			configSummary(q.Config), groupSummary(q.Config.Group), q.ETag)
	}
}

// config validates the flags and builds the QueueConfig to send.
func (qf *queueConfigFlags) config(cmd *cobra.Command) (protocol.QueueConfig, error) {
	c := protocol.QueueConfig{Retention: qf.retention, Discard: qf.discard,
		MaxMessages: qf.maxMessages, MaxDeadLetters: qf.maxDeadLetters}
	if err := oneOf(cmd, "--retention", qf.retention, "limits", "workqueue"); err != nil {
		return c, err
	}
	if err := oneOf(cmd, "--discard", qf.discard, "old", "new"); err != nil {
		return c, err
	}
	var err error
	if c.MaxBytes, err = parseSize(qf.maxBytes); err != nil {
		return c, flagError(cmd, "--max-bytes: %v", err)
	}
	if c.MaxMessageSize, err = parseSize(qf.maxMessageSize); err != nil {
		return c, flagError(cmd, "--max-message-size: %v", err)
	}
	if qf.maxMessages < 0 || qf.maxDeadLetters < 0 || qf.maxAge < 0 || qf.dedupWindow < 0 {
		return c, flagError(cmd, "limits, counts and durations must not be negative")
	}
	c.MaxAge, c.DedupWindow = durationString(qf.maxAge), durationString(qf.dedupWindow)
	c.Group, err = qf.group.config(cmd)
	return c, err
}

func oneOf(cmd *cobra.Command, flag, v string, allowed ...string) error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return flagError(cmd, "%s %q: want %s", flag, v, strings.Join(allowed, " or "))
}

func durationString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// droppedNote says how many messages the queue's limits removed, with the
// hint a user needs when that is not zero.
func droppedNote(q protocol.QueueInfo) string {
	if q.Dropped == 0 {
		return "0"
	}
	if q.Config.Discard == "new" {
		return fmt.Sprintf("%d (by maxAge, or when a limit was lowered)", q.Dropped)
	}
	return fmt.Sprintf("%d (discard %s: the oldest go when maxMessages or maxBytes is reached; raise the limits or use --discard new)", q.Dropped, q.Config.Discard)
}
