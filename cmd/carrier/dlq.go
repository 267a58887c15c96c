package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
)

func (a *app) dlqCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Browse and redrive a queue's dead letters",
		Long: `A message that a consumer group failed to process --max-deliver times moves
to its queue's dead-letter queue, with payload, headers and delivery history.
"carrier dlq ls QUEUE" shows them; "carrier dlq redrive QUEUE" hands them back
to their groups with fresh attempts.`,
		Example: `  carrier dlq ls orders
  carrier dlq redrive orders
  carrier dlq redrive orders 3 4`,
		Args: exactArgs(0, "a subcommand (ls, redrive)"),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f.register(cmd, true)
	cmd.AddCommand(a.dlqLsCmd(f), a.dlqRedriveCmd(f))
	return cmd
}

func (a *app) dlqLsCmd(f *clientFlags) *cobra.Command {
	var from uint64
	var limit int
	cmd := &cobra.Command{
		Use:     "ls QUEUE",
		Aliases: []string{"list"},
		Short:   "List a queue's dead letters",
		Example: "  carrier dlq ls orders\n  carrier dlq ls orders --from 100 --limit 20 --json",
		Args:    exactArgs(1, "a QUEUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				l, err := ad.DeadLetters(ctx, args[0], from, limit)
				if err != nil {
					return err
				}
				return a.printDeadLetters(f, args[0], l)
			})
		},
	}
	cmd.Flags().Uint64Var(&from, "from", 0, "first dead-letter number (dlSeq) to show")
	cmd.Flags().IntVar(&limit, "limit", 100, "show at most this many")
	return cmd
}

func (a *app) printDeadLetters(f *clientFlags, queue string, l protocol.DeadLetterList) error {
	if f.json {
		return printJSON(a.stdout, l)
	}
	if len(l.DeadLetters) == 0 {
		_, err := fmt.Fprintf(a.stdout, "no dead letters in %s\n", queue)
		return err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DLSEQ\tGROUP\tSEQ\tEVENT\tATTEMPTS\tLAST OUTCOME\tDEAD SINCE\tDATA")
	for _, d := range l.DeadLetters {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n", d.DLSeq, d.Group, d.Message.Seq, orDash(d.Message.Event),
			len(d.Deliveries), lastOutcome(d.Deliveries), shortTime(d.Time), dataPreview(d.Message))
	}
	return tw.Flush()
}

func lastOutcome(ds []protocol.DeliveryRecord) string {
	if len(ds) == 0 {
		return "-"
	}
	return orDash(ds[len(ds)-1].Outcome)
}

// dataPreview shows the start of a message's payload on one line.
func dataPreview(m protocol.Message) string {
	s := string(m.Data)
	if m.Binary != nil {
		s = fmt.Sprintf("<%d bytes>", len(m.Binary))
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return orDash(s)
}

func (a *app) dlqRedriveCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "redrive QUEUE [DLSEQ...]",
		Short: "Hand dead letters back to their groups (all, or the given ones)",
		Long: `Move dead letters of QUEUE back to the consumer group they failed in, with
their attempt count reset. Without DLSEQ numbers (see "carrier dlq ls") every
dead letter of the queue is redriven.`,
		Example: "  carrier dlq redrive orders\n  carrier dlq redrive orders 3 4",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return flagError(cmd, "%s needs a QUEUE", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			seqs, err := parseSeqs(cmd, args[1:])
			if err != nil {
				return err
			}
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				n, err := ad.Redrive(ctx, args[0], seqs)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, map[string]any{"queue": args[0], "redriven": n})
				}
				_, err = fmt.Fprintf(a.stdout, "%s of %s redriven\n", plural(n, "dead letter"), args[0])
				return err
			})
		},
	}
}

func parseSeqs(cmd *cobra.Command, args []string) ([]uint64, error) {
	seqs := make([]uint64, 0, len(args))
	for _, s := range args {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return nil, flagError(cmd, "%q is not a dead-letter number (DLSEQ from 'carrier dlq ls')", s)
		}
		seqs = append(seqs, n)
	}
	return seqs, nil
}

// plural is "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
