package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/client"
)

type subFlags struct {
	clientFlags
	group       string
	from        string
	ack         bool
	count       int
	maxInFlight int
	ackWait     time.Duration
	maxDeliver  int
}

func (a *app) subCmd() *cobra.Command {
	f := &subFlags{}
	cmd := &cobra.Command{
		Use:   "sub QUEUE",
		Short: "Receive messages from a queue, one line each",
		Long: `Subscribe to QUEUE and print each message as it arrives, until Ctrl-C or
--count messages.

With --group NAME you are a member of a durable consumer group: each message
goes to one member of the group, is acked after it is printed, and a message
the group has not acked yet is delivered again (after --ack-wait, or at once to
another member when you disconnect). Stop the command, publish more, start it
again: you get what the group missed.

Without --group it is a tail: a live stream from --from (new, first, a seq or
an RFC 3339 time), nothing to ack, nothing remembered. With --group, --from
only matters when the group does not exist yet: it is where the group starts
(default: the queue's group start setting).

Each line is "#SEQ EVENT DATA", with "(attempt N)" when a message is
delivered again; --json prints the whole message as JSON.`,
		Example: `  carrier sub orders --group billing
  carrier sub orders --group billing --count 10
  carrier sub orders --from first
  carrier sub orders --from 120 --json
  carrier sub orders --from 2025-06-01T12:00:00Z`,
		Args: exactArgs(1, "a QUEUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.sub(cmd, f, args[0])
		},
	}
	f.register(cmd, false)
	fs := cmd.Flags()
	fs.StringVarP(&f.group, "group", "g", "", "consumer group to join (durable; acks and redelivery)")
	fs.StringVar(&f.from, "from", "", "where to start: new, first, a SEQ or an RFC 3339 time (tail default: new; with --group it only sets where a new group starts)")
	fs.BoolVar(&f.ack, "ack", true, "ack each group message after printing it (--ack=false leaves them for redelivery)")
	fs.IntVarP(&f.count, "count", "n", 0, "exit after this many messages (0: run until Ctrl-C)")
	fs.IntVar(&f.maxInFlight, "max-in-flight", 0, "unacked messages at a time for this member (new group: default from the queue)")
	fs.DurationVar(&f.ackWait, "ack-wait", 0, "new group: redeliver a message not acked within this long")
	fs.IntVar(&f.maxDeliver, "max-deliver", 0, "new group: attempts before a message goes to the dead-letter queue")
	return cmd
}

func (a *app) sub(cmd *cobra.Command, f *subFlags, queue string) error {
	opts, err := f.options(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	c, err := f.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	sctx, cancel := context.WithTimeout(ctx, f.timeout)
	s, err := c.Subscribe(sctx, queue, opts)
	cancel()
	if err != nil {
		return err
	}
	err = a.consume(ctx, f, s)
	uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if uerr := s.Unsubscribe(uctx); err == nil && uerr != nil {
		err = uerr
	}
	return err
}

func (f *subFlags) options(cmd *cobra.Command) (client.SubOptions, error) {
	o := client.SubOptions{Group: f.group, MaxInFlight: f.maxInFlight, AckWait: f.ackWait, MaxDeliver: f.maxDeliver}
	if f.count < 0 || f.maxInFlight < 0 || f.maxDeliver < 0 || f.ackWait < 0 {
		return o, flagError(cmd, "--count, --max-in-flight, --max-deliver and --ack-wait must not be negative")
	}
	switch from := strings.TrimSpace(f.from); {
	case from == "" || from == client.FromNew || from == client.FromFirst:
		o.From = from
	case isDigits(from):
		seq, err := strconv.ParseUint(from, 10, 64)
		if err != nil || seq == 0 {
			return o, flagError(cmd, "--from %q: a seq starts at 1", from)
		}
		o.FromSeq = seq
	default:
		t, err := time.Parse(time.RFC3339Nano, from)
		if err != nil {
			return o, flagError(cmd, "--from %q: want new, first, a seq number or an RFC 3339 time like 2025-06-01T12:00:00Z", from)
		}
		o.FromTime = t
	}
	return o, nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// consume prints (and acks) deliveries until ctx ends or --count is reached.
func (a *app) consume(ctx context.Context, f *subFlags, s *client.Subscription) error {
	for n := 0; f.count == 0 || n < f.count; n++ {
		d, err := s.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // Ctrl-C: a normal way to stop
			}
			return err
		}
		if err := a.printDelivery(f, d); err != nil {
			return err
		}
		if err := a.settle(ctx, f, d); err != nil {
			return err
		}
	}
	return nil
}

// settle acks d when asked to; a delivery from a dropped connection cannot
// be acked and will come again, which is not an error for sub.
func (a *app) settle(ctx context.Context, f *subFlags, d *client.Delivery) error {
	if d.Group == "" || !f.ack {
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	err := d.Ack(actx)
	if errors.Is(err, client.ErrStaleDelivery) || errors.Is(err, client.ErrDisconnected) {
		fmt.Fprintf(a.stderr, "carrier: #%d not acked (connection lost); it will be delivered again\n", d.Seq)
		return nil
	}
	return err
}

func (a *app) printDelivery(f *subFlags, d *client.Delivery) error {
	if f.json {
		return printJSON(a.stdout, deliveryJSON(d))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#%d", d.Seq)
	if d.Event != "" {
		b.WriteString(" " + d.Event)
	}
	switch {
	case d.Binary != nil:
		fmt.Fprintf(&b, " <%d bytes>", len(d.Binary))
	case len(d.Data) > 0:
		b.WriteString(" " + string(d.Data))
	}
	if d.Attempt > 1 {
		fmt.Fprintf(&b, " (attempt %d)", d.Attempt)
	}
	_, err := fmt.Fprintln(a.stdout, b.String())
	return err
}

func deliveryJSON(d *client.Delivery) map[string]any {
	m := map[string]any{"queue": d.Queue, "seq": d.Seq, "msgId": d.MsgID, "time": d.Time.Format(time.RFC3339Nano)}
	put := func(k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	put("group", d.Group, d.Group != "")
	put("event", d.Event, d.Event != "")
	put("data", d.Data, len(d.Data) > 0)
	put("binary", d.Binary, d.Binary != nil)
	put("headers", d.Headers, len(d.Headers) > 0)
	put("attempt", d.Attempt, d.Attempt > 0)
	return m
}
