package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/client"
)

type pubFlags struct {
	clientFlags
	event   string
	id      string
	headers []string
	delay   time.Duration
	text    bool
}

func (a *app) pubCmd() *cobra.Command {
	f := &pubFlags{}
	cmd := &cobra.Command{
		Use:   "pub QUEUE [DATA | -]",
		Short: "Publish a message (or one per line of stdin) to a queue",
		Long: `Publish DATA to QUEUE and wait until the server confirms it is stored.

DATA is any JSON value ('{"id":1}', 42, true, "text" with its quotes); anything
that is not valid JSON is sent as a JSON string, so 'carrier pub q hello'
publishes "hello". DATA that starts like JSON ({, [ or ") but does not parse
is refused, so that a broken object is not stored as a string; --string
sends DATA as a JSON string whatever it looks like. With "-" every non-empty line of stdin is one message,
published with up to 256 in flight. Without DATA the message has no data.

The message id (--id, or a random one) lets the server drop a retried
publish: publishing an id again within the queue's de-duplication window
answers "duplicate" and stores nothing. The queue is created on first publish
when the server allows it (carrier serve does by default).`,
		Example: `  carrier pub orders '{"id":42,"total":9.5}' --event order.created
  carrier pub orders hello
  carrier pub notes '{not json}' --string
  carrier pub orders '{"id":42}' --id order-42 -H traceparent=00-abc-def-01
  carrier pub reminders '"wake up"' --delay 30s
  seq 1 5 | carrier pub numbers -`,
		Args: rangeArgs(1, 2, "QUEUE and optionally DATA or -"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.pub(cmd, f, args)
		},
	}
	f.register(cmd, false)
	fs := cmd.Flags()
	fs.StringVarP(&f.event, "event", "e", "", "event name (as in socket.emit(\"name\", data))")
	fs.StringVar(&f.id, "id", "", "message id for de-duplication (default: random)")
	fs.StringArrayVarP(&f.headers, "header", "H", nil, "header key=value (repeatable)")
	fs.DurationVar(&f.delay, "delay", 0, "deliver to groups after this long (e.g. 30s)")
	fs.BoolVar(&f.text, "string", false, "send DATA (or each stdin line) as a JSON string, even when it looks like JSON")
	return cmd
}

func (a *app) pub(cmd *cobra.Command, f *pubFlags, args []string) error {
	template, err := f.template(cmd)
	if err != nil {
		return err
	}
	fromStdin := len(args) == 2 && args[1] == "-"
	if fromStdin && f.id != "" {
		return flagError(cmd, "--id names one message; it cannot be used with - (stdin)")
	}
	if len(args) == 2 && !fromStdin {
		if template.Data, err = parseData(args[1], f.text); err != nil {
			return flagError(cmd, "DATA %v", err)
		}
	}
	c, err := f.dial(cmd.Context())
	if err != nil {
		return err
	}
	defer c.Close()
	if fromStdin {
		return a.pubLines(cmd.Context(), c, f, args[0], template)
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	ack, err := c.Publish(ctx, args[0], template)
	if err != nil {
		return err
	}
	return a.printAck(f, args[0], ack)
}

// template builds the message all published messages share.
func (f *pubFlags) template(cmd *cobra.Command) (client.Message, error) {
	m := client.Message{ID: f.id, Event: f.event}
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return m, flagError(cmd, "--header %q: want key=value", h)
		}
		if m.Headers == nil {
			m.Headers = map[string]string{}
		}
		m.Headers[k] = v
	}
	if f.delay < 0 {
		return m, flagError(cmd, "--delay must not be negative")
	}
	if f.delay > 0 {
		m.DeliverAt = time.Now().Add(f.delay)
	}
	return m, nil
}

// parseData keeps valid JSON as it is and makes anything else a JSON
// string, except text that starts like JSON but does not parse: that is an
// error unless asString, which makes every s a JSON string.
func parseData(s string, asString bool) (json.RawMessage, error) {
	t := strings.TrimSpace(s)
	if !asString && t != "" {
		var v any
		err := json.Unmarshal([]byte(t), &v)
		if err == nil {
			return json.RawMessage(t), nil
		}
		if strings.ContainsAny(t[:1], `{["`) {
			return nil, fmt.Errorf("looks like JSON but does not parse (%w); fix it, or pass --string to send it as a JSON string", err)
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode as a JSON string: %w", err)
	}
	return b, nil
}

// pubLines publishes every non-empty stdin line, keeping a window of
// publishes in flight, and prints the acks in input order.
func (a *app) pubLines(ctx context.Context, c *client.Client, f *pubFlags, queue string, template client.Message) error {
	futures := make(chan *client.PublishFuture, 1024)
	readErr := make(chan error, 1)
	go func() {
		defer close(futures)
		readErr <- a.readLines(ctx, c, queue, template, f.text, futures)
	}()
	var firstErr error
	for p := range futures {
		ack, err := p.Wait(context.Background())
		if err == nil {
			err = a.printAck(f, queue, ack)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if err := <-readErr; err != nil && firstErr == nil {
		firstErr = err
	}
	return firstErr
}

func (a *app) readLines(ctx context.Context, c *client.Client, queue string, template client.Message, asString bool, out chan<- *client.PublishFuture) error {
	sc := bufio.NewScanner(a.stdin)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan() && ctx.Err() == nil; n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		m := template
		var err error
		if m.Data, err = parseData(line, asString); err != nil {
			return fmt.Errorf("stdin line %d %w", n, err)
		}
		out <- c.PublishAsync(queue, m)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	return nil
}

func (a *app) printAck(f *pubFlags, queue string, ack client.PublishAck) error {
	if f.json {
		return printJSON(a.stdout, map[string]any{"queue": queue, "seq": ack.Seq, "msgId": ack.MsgID, "duplicate": ack.Duplicate})
	}
	if ack.Duplicate {
		_, err := fmt.Fprintf(a.stdout, "%s #%d duplicate, already stored (id %s)\n", queue, ack.Seq, ack.MsgID)
		return err
	}
	_, err := fmt.Fprintf(a.stdout, "%s #%d published (id %s)\n", queue, ack.Seq, ack.MsgID)
	return err
}
