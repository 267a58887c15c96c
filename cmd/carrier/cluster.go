package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
)

func (a *app) clusterCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show the cluster's members; remove a member, make a node leave, move leadership",
		Long: `Cluster membership over the HTTP API. "carrier cluster status" shows every
member as the node at --server sees it: gossip state, Raft role and suffrage,
addresses and applied index. "carrier cluster remove ID" removes a member
(scale-down; any node forwards it to the leader); "carrier cluster leave"
makes the node at --server leave. Removed nodes keep their data and are not
added back unless re-added explicitly. "carrier cluster safe-to-stop ID"
says whether stopping a node now keeps a quorum, and "carrier cluster
transfer" moves leadership to another voter, for maintenance one node at a
time.`,
		Example: `  carrier cluster status
  carrier cluster status --server 127.0.0.3:7420 --json
  carrier cluster remove carrier-4
  carrier cluster leave --server carrier-4.carrier:7420
  carrier cluster safe-to-stop carrier-2 && carrier cluster transfer --to carrier-3`,
		Args: exactArgs(0, "a subcommand (status, remove, leave, transfer, safe-to-stop)"),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f.register(cmd, true)
	cmd.AddCommand(a.clusterStatusCmd(f), a.clusterRemoveCmd(f), a.clusterLeaveCmd(f),
		a.clusterTransferCmd(f), a.clusterSafeToStopCmd(f))
	return cmd
}

func (a *app) clusterStatusCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Show the members of the cluster",
		Example: "  carrier cluster status\n  carrier cluster status --json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				st, err := ad.Cluster(ctx)
				if err != nil {
					return err
				}
				return a.printCluster(f, st, ad.URL())
			})
		},
	}
}

// printCluster writes the status as JSON or as a header line and a table;
// asked is the URL the status came from (the address of the node asked).
func (a *app) printCluster(f *clientFlags, st protocol.ClusterStatus, asked string) error {
	if f.json {
		return printJSON(a.stdout, st)
	}
	fmt.Fprintf(a.stdout, "node %s: %s, leader %s, term %d, commit %d, applied %d\n",
		st.NodeID, st.State, orDash(st.Leader), st.Term, st.CommitIndex, st.AppliedIndex)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tGOSSIP\tLEADER\tRAFT ADDR\tAPI ADDR\tSUFFRAGE\tAPPLIED/COMMIT")
	for _, m := range st.Members {
		leader := ""
		if m.Leader {
			leader = "*"
		}
		api, applied := m.APIAddress, m.Applied
		if m.ID == st.NodeID { // the node asked: its own values are current
			api, applied = orText(api, asked), st.AppliedIndex
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s/%d\n", m.ID, orText(m.Gossip, "off"), leader,
			orDash(m.Address), orDash(api), m.Suffrage, appliedText(applied, m.Gossip), st.CommitIndex)
	}
	return tw.Flush()
}

// orText is s, or def when s is empty.
func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// appliedText is a member's applied index, "-" when it is unknown (no
// gossip to report it).
func appliedText(applied uint64, gossip string) string {
	if applied == 0 && gossip == "" {
		return "-"
	}
	return strconv.FormatUint(applied, 10)
}

func (a *app) clusterRemoveCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "remove ID",
		Aliases: []string{"rm"},
		Short:   "Remove a member from the cluster (scale-down)",
		Long: `Remove the node ID from the Raft configuration. The node keeps its data
but is not added back automatically. Refused when it would remove the
last voter.`,
		Example: "  carrier cluster remove carrier-4",
		Args:    exactArgs(1, "the member's node id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				ch, err := ad.RemoveMember(ctx, args[0])
				if err != nil {
					return err
				}
				return a.printChange(f, ch)
			})
		},
	}
}

func (a *app) clusterLeaveCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "leave",
		Short: "Make the node at --server leave the cluster",
		Long: `The node at --server is removed from the Raft configuration (by the
leader) and leaves gossip. Stop it afterwards; it is not added back unless
re-added explicitly.`,
		Example: "  carrier cluster leave --server carrier-4.carrier:7420",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				ch, err := ad.Leave(ctx)
				if err != nil {
					return err
				}
				return a.printChange(f, ch)
			})
		},
	}
}

func (a *app) printChange(f *clientFlags, ch protocol.MemberChange) error {
	if f.json {
		return printJSON(a.stdout, ch)
	}
	_, err := fmt.Fprintf(a.stdout, "%s: %s\n", ch.Member, ch.Change)
	return err
}

func (a *app) clusterTransferCmd(f *clientFlags) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "transfer",
		Short: "Hand leadership to another voter",
		Long: `The leader hands leadership to the voter --to, or without it to the most
up-to-date other voter; any node forwards the request to the leader. Prints
the new leader once it is known. Transfer before stopping the leader for
maintenance, so the cluster does not wait an election timeout. A single
voter has no one to hand over to (bad_request).`,
		Example: "  carrier cluster transfer\n  carrier cluster transfer --to carrier-2 --json",
		Args:    exactArgs(0, "no arguments (the target is --to)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				tr, err := ad.TransferLeadership(ctx, to)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, tr)
				}
				_, err = fmt.Fprintf(a.stdout, "leader: %s (was %s)\n", tr.Leader, tr.Previous)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the voter to hand leadership to (default: the most up-to-date other voter)")
	return cmd
}

func (a *app) clusterSafeToStopCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "safe-to-stop ID",
		Short: "Say whether stopping a node now keeps a quorum of caught-up voters",
		Long: `Ask the leader (any node forwards) whether stopping the node ID now leaves a
quorum of caught-up voters. Exit status 0 when it is safe; 4 when it is not,
with the reason on stderr (1 for any other failure, such as an unknown ID).
With --json the leader's whole answer is printed either way. A node that
leads is safe to stop only after a transfer ("carrier cluster transfer"):
the reason says so.`,
		Example: "  carrier cluster safe-to-stop carrier-2\n  until carrier cluster safe-to-stop carrier-2; do sleep 5; done",
		Args:    exactArgs(1, "the member's node id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAdmin(cmd, f, func(ctx context.Context, ad *client.Admin) error {
				chk, err := ad.SafeToStop(ctx, args[0])
				if err != nil {
					return err
				}
				if f.json {
					err = printJSON(a.stdout, chk)
				} else if chk.Safe {
					_, err = fmt.Fprintf(a.stdout, "%s is safe to stop: %s\n", chk.Member, chk.Reason)
				}
				if err == nil && !chk.Safe {
					err = notSafeError{chk}
				}
				return err
			})
		},
	}
}

// notSafeError is the answer "not safe to stop" of safe-to-stop (exit 4).
type notSafeError struct{ chk protocol.StopCheck }

func (e notSafeError) Error() string {
	return fmt.Sprintf("%s is not safe to stop: %s", e.chk.Member, e.chk.Reason)
}
