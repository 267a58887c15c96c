package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
)

func (a *app) groupCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "group",
		Short: "Create, inspect, update and delete consumer groups",
		Long: `Administer the consumer groups of a queue over the HTTP API. A group is
also created by its first member ("carrier sub QUEUE --group NAME"); creating
it here first keeps every message from its start on. "carrier group update"
changes a group's settings in place: its members and their messages stay.`,
		Example: `  carrier group create orders billing --max-in-flight 10 --start first
  carrier group info orders billing
  carrier group update orders billing --max-in-flight 50 --ack-wait 1m
  carrier group rm orders billing`,
		Args: exactArgs(0, "a subcommand (create, info, update, rm)"),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f.register(cmd, true)
	cmd.AddCommand(a.groupCreateCmd(f), a.groupInfoCmd(f), a.groupUpdateCmd(f), a.groupRmCmd(f))
	return cmd
}

// groupConfigFlags are a group's settings as flags.
type groupConfigFlags struct {
	ackWait                 time.Duration
	maxDeliver, maxInFlight int
	start                   string
}

// register adds the flags to fs, each usage after prefix; --start only
// withStart (a start applies when a group is created).
func (gf *groupConfigFlags) register(fs *pflag.FlagSet, prefix string, withStart bool) {
	fs.DurationVar(&gf.ackWait, "ack-wait", 0, prefix+"redeliver a message not acked within this long")
	fs.IntVar(&gf.maxDeliver, "max-deliver", 0, prefix+"attempts before the dead-letter queue")
	fs.IntVar(&gf.maxInFlight, "max-in-flight", 0, prefix+"unacked messages per member")
	if withStart {
		fs.StringVar(&gf.start, "start", "", prefix+"where a new group starts, new or first")
	}
}

// config validates the flags and builds the GroupConfig to send.
func (gf *groupConfigFlags) config(cmd *cobra.Command) (protocol.GroupConfig, error) {
	c := protocol.GroupConfig{AckWait: durationString(gf.ackWait), MaxDeliver: gf.maxDeliver, MaxInFlight: gf.maxInFlight}
	if err := oneOf(cmd, "--start", gf.start, "new", "first"); err != nil {
		return c, err
	}
	if gf.maxDeliver < 0 || gf.maxInFlight < 0 || gf.ackWait < 0 {
		return c, flagError(cmd, "limits, counts and durations must not be negative")
	}
	if gf.start != "" {
		c.Start = &protocol.Position{Kind: gf.start}
	}
	return c, nil
}

func (a *app) groupCreateCmd(f *clientFlags) *cobra.Command {
	gf := &groupConfigFlags{}
	cmd := &cobra.Command{
		Use:   "create QUEUE GROUP",
		Short: "Create a consumer group before its members join",
		Long: `Create GROUP on QUEUE; settings not given take the queue's group defaults.
Creating a group that exists with the same settings succeeds; with others it
fails with group_exists.`,
		Example: "  carrier group create orders billing\n  carrier group create jobs workers --max-deliver 3 --start first",
		Args:    exactArgs(2, "a QUEUE and a GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendSettings(a, cmd, f, gf.config, func(ctx context.Context, ad *client.Admin, cfg protocol.GroupConfig) (protocol.GroupInfo, error) {
				return ad.CreateGroup(ctx, args[0], args[1], cfg)
			}, groupLine("created"))
		},
	}
	gf.register(cmd.Flags(), "", true)
	return cmd
}

func (a *app) groupUpdateCmd(f *clientFlags) *cobra.Command {
	gf := &groupConfigFlags{}
	var ifMatch string
	cmd := &cobra.Command{
		Use:   "update QUEUE GROUP",
		Short: "Change some settings of a consumer group in place (the others stay)",
		Long: `Change the settings given as flags on GROUP of QUEUE; the others stay, and
so do its members and their messages. A raised --max-in-flight hands out
more at once; a lowered one holds back new deliveries until members are
below it. --ack-wait applies to later deliveries; a lowered --max-deliver
moves waiting messages that used up their attempts to the dead letters.
With --if-match VERSION (from "carrier group info") the change applies only
if the settings are still that version; otherwise it fails with
precondition_failed and changes nothing.`,
		Example: "  carrier group update orders billing --max-in-flight 50\n  carrier group update jobs workers --ack-wait 2m --if-match 7e85b8a7b539ccfd",
		Args:    exactArgs(2, "a QUEUE and a GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendSettings(a, cmd, f, gf.config, func(ctx context.Context, ad *client.Admin, cfg protocol.GroupConfig) (protocol.GroupInfo, error) {
				return ad.UpdateGroup(ctx, args[0], args[1], cfg, ifMatch)
			}, groupLine("updated"))
		},
	}
	gf.register(cmd.Flags(), "", false)
	cmd.Flags().StringVar(&ifMatch, "if-match", "", "apply only to this version of the settings (see group info)")
	return cmd
}

// groupLine says what was done to a group, with its settings and version.
func groupLine(done string) func(protocol.GroupInfo) string {
	return func(g protocol.GroupInfo) string {
		return fmt.Sprintf("%s group %s (%s; version %s)", done, g.Name, groupSummary(g.Config), g.ETag)
	}
}

func (a *app) groupInfoCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "info QUEUE GROUP",
		Short:   "Show a consumer group's settings, counts and version",
		Example: "  carrier group info orders billing\n  carrier group info orders billing --json",
		Args:    exactArgs(2, "a QUEUE and a GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				g, err := ad.Group(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, g)
				}
				return printGroupInfo(a.stdout, g)
			})
		},
	}
}

func printGroupInfo(w io.Writer, g protocol.GroupInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Group:\t%s\n", g.Name)
	fmt.Fprintf(tw, "Members:\t%d\n", g.Members)
	fmt.Fprintf(tw, "Messages:\t%d pending, %d unacked, %d scheduled\n", g.Pending, g.Unacked, g.Scheduled)
	fmt.Fprintf(tw, "Ack floor:\t%d\n", g.AckFloor)
	fmt.Fprintf(tw, "Redelivered:\t%d\n", g.Redelivered)
	fmt.Fprintf(tw, "Settings:\t%s\n", groupSummary(g.Config))
	fmt.Fprintf(tw, "Version:\t%s\n", orDash(g.ETag))
	return tw.Flush()
}

func (a *app) groupRmCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "rm QUEUE GROUP",
		Aliases: []string{"delete"},
		Short:   "Delete a consumer group and its state",
		Long: `Delete GROUP of QUEUE with what it acked, pending and unacked. Members still
connected join again, which creates the group anew with the queue's defaults.`,
		Example: "  carrier group rm orders billing",
		Args:    exactArgs(2, "a QUEUE and a GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				if err := ad.DeleteGroup(ctx, args[0], args[1]); err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, map[string]any{"queue": args[0], "group": args[1], "deleted": true})
				}
				_, err := fmt.Fprintf(a.stdout, "deleted group %s of %s\n", args[1], args[0])
				return err
			})
		},
	}
}
