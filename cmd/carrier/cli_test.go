package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/test/testlog"
	"github.com/spf13/pflag"
)

// runCLI runs the command line in-process with env as the whole
// environment and returns stdout, stderr and the error.
func runCLI(ctx context.Context, env map[string]string, stdin string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	a := &app{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	err := a.run(ctx, args)
	return out.String(), errOut.String(), err
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"pub"}, "takes QUEUE and optionally DATA"},
		{[]string{"pub", "q", "a", "b"}, "takes QUEUE"},
		{[]string{"pub", "q", "x", "--header", "novalue"}, "want key=value"},
		{[]string{"pub", "q", "-", "--id", "x"}, "cannot be used with -"},
		{[]string{"sub"}, "needs a QUEUE"},
		{[]string{"sub", "q", "--from", "yesterday"}, "RFC 3339"},
		{[]string{"sub", "q", "--from", "0"}, "starts at 1"},
		{[]string{"sub", "q", "--count", "-1"}, "must not be negative"},
		{[]string{"queue", "create"}, "needs a QUEUE"},
		{[]string{"queue", "create", "q", "--discard", "maybe"}, "want old or new"},
		{[]string{"queue", "create", "q", "--retention", "forever"}, "want limits or workqueue"},
		{[]string{"queue", "create", "q", "--max-bytes", "lots"}, "is not a size"},
		{[]string{"queue", "info"}, "needs a QUEUE"},
		{[]string{"queue", "update"}, "needs a QUEUE"},
		{[]string{"queue", "update", "q", "--max-in-flight", "-1"}, "must not be negative"},
		{[]string{"group", "update", "q"}, "needs a QUEUE and a GROUP"},
		{[]string{"group", "update", "q", "g", "--start", "first"}, "unknown flag: --start"},
		{[]string{"group", "create", "q", "g", "--start", "later"}, "want new or first"},
		{[]string{"cluster", "safe-to-stop"}, "needs the member's node id"},
		{[]string{"cluster", "transfer", "n2"}, "the target is --to"},
		{[]string{"dlq", "redrive"}, "needs a QUEUE"},
		{[]string{"dlq", "redrive", "q", "x"}, "not a dead-letter number"},
		{[]string{"serve", "--log-level", "loud"}, "--log-level"},
		{[]string{"serve", "extra"}, "no arguments"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"pub", "q", "--nope"}, "unknown flag: --nope"},
	}
	for _, tt := range tests {
		_, _, err := runCLI(context.Background(), nil, "", tt.args...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--help' for usage") {
			t.Errorf("carrier %s: error %v, want a usage error containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
}

func TestHelpEverywhere(t *testing.T) {
	for _, args := range [][]string{{}, {"serve"}, {"pub"}, {"sub"}, {"queue"}, {"queue", "create"},
		{"queue", "ls"}, {"queue", "info"}, {"queue", "update"}, {"queue", "purge"}, {"queue", "rm"}, {"dlq"}, {"dlq", "ls"}, {"dlq", "redrive"},
		{"group"}, {"group", "create"}, {"group", "info"}, {"group", "update"}, {"group", "rm"},
		{"cluster"}, {"cluster", "transfer"}, {"cluster", "safe-to-stop"}} {
		out, _, err := runCLI(context.Background(), nil, "", append(args, "--help")...)
		if err != nil || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Examples:") {
			t.Errorf("carrier %s --help: err %v, output:\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestEnvironmentSetsServer(t *testing.T) {
	env := map[string]string{"CARRIER_SERVER": "http://127.0.0.1:1"}
	_, _, err := runCLI(context.Background(), env, "", "queue", "ls", "--timeout", "2s")
	if err == nil || !strings.Contains(err.Error(), "cannot reach a Carrier server at http://127.0.0.1:1") {
		t.Errorf("queue ls with CARRIER_SERVER: %v", err)
	}
	_, _, err = runCLI(context.Background(), env, "", "queue", "ls", "--server", "127.0.0.1:2", "--timeout", "2s")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:2") {
		t.Errorf("--server should win over CARRIER_SERVER: %v", err)
	}
	_, _, err = runCLI(context.Background(), map[string]string{"CARRIER_AUTO_CREATE": "perhaps"}, "", "serve")
	if err == nil || !strings.Contains(err.Error(), "$CARRIER_AUTO_CREATE") {
		t.Errorf("bad CARRIER_AUTO_CREATE: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"", 0}, {"1048576", 1 << 20}, {"512MiB", 512 << 20}, {"512mib", 512 << 20}, {"2GB", 2e9},
		{"1.5KiB", 1536}, {"64K", 64 << 10}, {"10B", 10}, {"3 MB", 3e6},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"lots", "-1", "MiB", "1XB"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestParseData(t *testing.T) {
	tests := []struct {
		in       string
		asString bool
		want     string // "" for an error
	}{
		{`{"id":1}`, false, `{"id":1}`}, {`42`, false, `42`}, {`true`, false, `true`}, {`"quoted"`, false, `"quoted"`},
		{`hello`, false, `"hello"`}, {` [1, 2] `, false, `[1, 2]`}, {``, false, `""`},
		{`{"id":1`, false, ""}, {`{broken`, false, ""}, {`[1,`, false, ""}, {`"open`, false, ""},
		{`{broken`, true, `"{broken"`}, {`{"id":1}`, true, `"{\"id\":1}"`}, {`42`, true, `"42"`},
	}
	for _, tt := range tests {
		got, err := parseData(tt.in, tt.asString)
		if tt.want == "" {
			if err == nil || !strings.Contains(err.Error(), "--string") {
				t.Errorf("parseData(%q) = %s, %v; want an error that names --string", tt.in, got, err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("parseData(%q, %v) = %s, %v; want %s", tt.in, tt.asString, got, err, tt.want)
		}
	}
}

func TestResolveNodeID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	id, err := resolveNodeID(dir, "alpha")
	if err != nil || id != "alpha" {
		t.Fatalf("first start = %q, %v", id, err)
	}
	if id, err := resolveNodeID(dir, ""); err != nil || id != "alpha" {
		t.Errorf("restart without flag = %q, %v; want the stored alpha", id, err)
	}
	if _, err := resolveNodeID(dir, "beta"); err == nil || !strings.Contains(err.Error(), `belongs to node "alpha"`) {
		t.Errorf("restart with another id: %v", err)
	}
	other := filepath.Join(t.TempDir(), "d2")
	id, err = resolveNodeID(other, "")
	stored, _ := os.ReadFile(filepath.Join(other, nodeIDFile))
	if err != nil || id == "" || badIDChars.MatchString(id) || strings.TrimSpace(string(stored)) != id {
		t.Errorf("hostname id = %q (stored %q), %v", id, stored, err)
	}
}

func TestServePublishSubscribeInProcess(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	listen, raft := freeAddr(t), freeAddr(t)
	ctx, stop := context.WithCancel(context.Background())
	var out, errOut testlog.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) (string, bool) { return "", false }}
	served := make(chan error, 1)
	go func() {
		served <- a.run(ctx, []string{"serve", "--data", data, "--listen", listen, "--raft-bind", raft, "--node-id", "n1"})
	}()
	t.Cleanup(func() {
		stop()
		<-served
	})
	err := pollUntil(30*time.Second, func() bool { return strings.Contains(out.String(), "Carrier is ready at http://"+listen) })
	if err != nil {
		t.Fatalf("serve did not announce itself: %v\nstdout: %s\nstderr: %s", err, out.String(), errOut.String())
	}
	env := map[string]string{"CARRIER_SERVER": listen}
	if o, e, err := runCLI(ctx, env, "1\n\n{\"a\":2}\nthree\n", "pub", "nums", "-", "--json"); err != nil ||
		strings.Count(o, `"duplicate":false`) != 3 {
		t.Fatalf("pub - : %v\n%s%s", err, o, e)
	}
	o, e, err := runCLI(ctx, env, "", "sub", "nums", "--from", "first", "--count", "3", "--json")
	if err != nil {
		t.Fatalf("sub: %v\n%s", err, e)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(o), "\n") {
		var d struct {
			Seq  uint64          `json:"seq"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("sub --json line %q: %v", line, err)
		}
		got = append(got, string(d.Data))
	}
	if strings.Join(got, " ") != `1 {"a":2} "three"` {
		t.Errorf("sub --json data = %v", got)
	}
	checkCreateFlags(t, ctx, env)
	checkHeadersAndDelay(t, ctx, env)
	checkSingleNodeCLI(t, ctx, env, listen)
	checkVersionsCLI(t, ctx, env)
	checkLeadershipSingleNode(t, ctx, env)
	checkDroppedShown(t, ctx, env)
	checkBenchRunning(t, ctx, env)
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve after cancel (SIGINT) returned %v, want nil", err)
		}
		served <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of cancel")
	}
}

// checkCreateFlags creates a queue with every create flag and reads the
// settings back.
func checkCreateFlags(t *testing.T, ctx context.Context, env map[string]string) {
	t.Helper()
	_, e, err := runCLI(ctx, env, "", "queue", "create", "cfg", "--retention", "workqueue", "--max-messages", "500",
		"--max-bytes", "2MiB", "--max-age", "90m", "--max-message-size", "64KiB", "--discard", "new",
		"--dedup-window", "5m", "--max-dead-letters", "50", "--ack-wait", "45s", "--max-deliver", "7",
		"--max-in-flight", "3", "--start", "first")
	if err != nil {
		t.Fatalf("queue create: %v\n%s", err, e)
	}
	o, e, err := runCLI(ctx, env, "", "queue", "info", "cfg", "--json")
	if err != nil {
		t.Fatalf("queue info: %v\n%s", err, e)
	}
	var q protocol.QueueInfo
	if err := json.Unmarshal([]byte(o), &q); err != nil {
		t.Fatalf("queue info --json: %v", err)
	}
	c := q.Config
	want := protocol.QueueConfig{Retention: "workqueue", MaxMessages: 500, MaxBytes: 2 << 20, MaxAge: "1h30m0s",
		MaxMessageSize: 64 << 10, Discard: "new", DedupWindow: "5m0s", MaxDeadLetters: 50,
		Group: protocol.GroupConfig{AckWait: "45s", MaxDeliver: 7, MaxInFlight: 3, Start: &protocol.Position{Kind: "first"}}}
	if c.Group.Start == nil || *c.Group.Start != *want.Group.Start {
		t.Errorf("group start = %+v, want first", c.Group.Start)
	}
	c.Group.Start, want.Group.Start = nil, nil
	if c != want {
		t.Errorf("created config:\n got %+v\nwant %+v", c, want)
	}
}

// checkHeadersAndDelay publishes with headers and a delay: the headers
// reach a tail, and the group holds the message as scheduled.
func checkHeadersAndDelay(t *testing.T, ctx context.Context, env map[string]string) {
	t.Helper()
	_, e, err := runCLI(ctx, env, "", "pub", "later", `{"x":1}`, "-e", "remind", "-H", "traceparent=00-ab-cd-01", "-H", "k=v", "--delay", "1h")
	if err != nil {
		t.Fatalf("pub --delay: %v\n%s", err, e)
	}
	o, _, err := runCLI(ctx, env, "", "sub", "later", "--from", "first", "--count", "1", "--json")
	var d struct {
		Event   string            `json:"event"`
		Headers map[string]string `json:"headers"`
	}
	if err != nil || json.Unmarshal([]byte(o), &d) != nil || d.Event != "remind" || d.Headers["traceparent"] != "00-ab-cd-01" || d.Headers["k"] != "v" {
		t.Errorf("tail of a message with headers: %v, %q", err, o)
	}
	// A member of a new group from the first message: the message is
	// scheduled, not delivered. Ctrl-C (cancel) then ends sub cleanly.
	subCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, _, err := runCLI(subCtx, env, "", "sub", "later", "--group", "g", "--from", "first")
		done <- err
	}()
	var q protocol.QueueInfo
	err = pollUntil(20*time.Second, func() bool {
		o, _, err := runCLI(ctx, env, "", "queue", "info", "later", "--json")
		return err == nil && json.Unmarshal([]byte(o), &q) == nil && len(q.Groups) == 1 &&
			q.Groups[0].Members == 1 && q.Groups[0].Scheduled == 1
	})
	cancel()
	if err != nil {
		t.Errorf("group of a delayed message: %+v", q)
	}
	if err := <-done; err != nil {
		t.Errorf("sub stopped by cancel returned %v, want nil", err)
	}
}

// Every flag of serve reads CARRIER_<FLAG>, as its --help promises: a value
// that does not parse is reported under the variable's name.
func TestEveryServeFlagHasItsVariable(t *testing.T) {
	a := &app{}
	serve := a.serveCmd()
	n := 0
	serve.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || f.Value.Type() == "string" {
			return // a string flag accepts any value; the mapping is the same code path
		}
		n++
		key := envKey(f.Name)
		_, _, err := runCLI(context.Background(), map[string]string{key: "not-a-value"}, "", "serve")
		if err == nil || !strings.Contains(err.Error(), "$"+key) {
			t.Errorf("--%s: $%s=not-a-value gave %v, want an error naming $%s", f.Name, key, err, key)
		}
	})
	for _, name := range []string{"max-store-bytes", "raft-segment-bytes", "snapshot-interval", "snapshot-threshold", "trailing-logs"} {
		if serve.Flags().Lookup(name) == nil {
			t.Errorf("serve has no --%s", name)
		}
	}
	if n < 8 {
		t.Fatalf("only %d typed flags checked", n)
	}
}

// checkSingleNodeCLI: broken JSON is refused (and sent as a string with
// --string), queue create echoes its group defaults, and cluster status on a
// single node shows the node's own applied index and address.
func checkSingleNodeCLI(t *testing.T, ctx context.Context, env map[string]string, listen string) {
	t.Helper()
	if _, _, err := runCLI(ctx, env, "", "pub", "broken", `{"id":1`); err == nil || !strings.Contains(err.Error(), "--string") {
		t.Errorf("pub of broken JSON: %v, want a refusal naming --string", err)
	}
	if o, e, err := runCLI(ctx, env, "", "pub", "broken", `{"id":1`, "--string"); err != nil || !strings.Contains(o, "broken #1 published") {
		t.Errorf("pub --string: %v\n%s%s", err, o, e)
	}
	o, e, err := runCLI(ctx, env, "", "queue", "create", "echo", "--max-deliver", "3")
	if err != nil || !strings.Contains(o, "group defaults: ackWait=30s maxDeliver=3 maxInFlight=100 start=first") {
		t.Errorf("queue create: %v\n%s%s", err, o, e)
	}
	o, e, err = runCLI(ctx, env, "", "cluster", "status")
	if err != nil {
		t.Fatalf("cluster status: %v\n%s", err, e)
	}
	lines := strings.Split(strings.TrimSpace(o), "\n")
	var applied uint64
	fmt.Sscanf(lines[0][strings.Index(lines[0], "applied "):], "applied %d", &applied)
	row := strings.Fields(lines[len(lines)-1])
	want := []string{"n1", "off", "*", row[3], "http://" + listen, "Voter", fmt.Sprintf("%d/%d", applied, applied)}
	if len(lines) != 3 || !strings.Contains(lines[1], "GOSSIP") || strings.Join(row, " ") != strings.Join(want, " ") || applied == 0 {
		t.Errorf("cluster status on a single node:\n%s\nwant the row %v", o, want)
	}
}

// checkVersionsCLI: queue and group updates change only the flags given,
// --if-match with a stale version changes nothing and fails with
// precondition_failed, with the version shown by info it applies.
func checkVersionsCLI(t *testing.T, ctx context.Context, env map[string]string) {
	t.Helper()
	if o, e, err := runCLI(ctx, env, "", "queue", "create", "ver", "--max-messages", "100"); err != nil || !strings.Contains(o, "version ") {
		t.Fatalf("queue create: %v\n%s%s", err, o, e)
	}
	_, _, err := runCLI(ctx, env, "", "queue", "update", "ver", "--max-age", "1h", "--if-match", "0000000000000000")
	if client.CodeOf(err) != protocol.CodePreconditionFailed || exitCode(err) != exitError {
		t.Errorf("queue update with a stale version: %v (exit %d), want %s", err, exitCode(err), protocol.CodePreconditionFailed)
	}
	q := cliJSON[protocol.QueueInfo](t, ctx, env, "queue", "info", "ver")
	if q.Config.MaxAge != "" {
		t.Errorf("after the refused update: %+v", q.Config)
	}
	if o, _, _ := runCLI(ctx, env, "", "queue", "info", "ver"); !strings.Contains(o, q.ETag) {
		t.Errorf("queue info does not show the version %s:\n%s", q.ETag, o)
	}
	q2 := cliJSON[protocol.QueueInfo](t, ctx, env, "queue", "update", "ver", "--max-age", "1h", "--if-match", q.ETag)
	if q2.Config.MaxAge != "1h0m0s" || q2.Config.MaxMessages != 100 || q2.ETag == q.ETag {
		t.Errorf("queue update with the current version: %+v", q2)
	}

	cliJSON[protocol.GroupInfo](t, ctx, env, "group", "create", "ver", "billing", "--max-in-flight", "1", "--start", "first")
	g := cliJSON[protocol.GroupInfo](t, ctx, env, "group", "info", "ver", "billing")
	g2 := cliJSON[protocol.GroupInfo](t, ctx, env, "group", "update", "ver", "billing", "--max-in-flight", "5", "--if-match", g.ETag)
	if g2.Config.MaxInFlight != 5 || g2.Config.MaxDeliver != g.Config.MaxDeliver || g2.Config.Start == nil || g2.Config.Start.Kind != "first" {
		t.Errorf("group update: %+v, was %+v", g2.Config, g.Config)
	}
	_, _, err = runCLI(ctx, env, "", "group", "update", "ver", "billing", "--max-deliver", "2", "--if-match", g.ETag)
	if client.CodeOf(err) != protocol.CodePreconditionFailed {
		t.Errorf("group update with a stale version: %v, want %s", err, protocol.CodePreconditionFailed)
	}
	if o, e, err := runCLI(ctx, env, "", "group", "rm", "ver", "billing"); err != nil || !strings.Contains(o, "deleted group billing") {
		t.Errorf("group rm: %v\n%s%s", err, o, e)
	}
}

// checkLeadershipSingleNode: a single node cannot hand leadership over and
// is never safe to stop (exit 4, the reason on stderr).
func checkLeadershipSingleNode(t *testing.T, ctx context.Context, env map[string]string) {
	t.Helper()
	if _, _, err := runCLI(ctx, env, "", "cluster", "transfer"); client.CodeOf(err) != protocol.CodeBadRequest {
		t.Errorf("cluster transfer on a single node: %v, want %s", err, protocol.CodeBadRequest)
	}
	o, _, err := runCLI(ctx, env, "", "cluster", "safe-to-stop", "n1", "--json")
	var chk protocol.StopCheck
	if exitCode(err) != exitNotSafe || !strings.Contains(err.Error(), "quorum is 1") || json.Unmarshal([]byte(o), &chk) != nil || chk.Safe || chk.Member != "n1" {
		t.Errorf("safe-to-stop of the only node: %v (exit %d), output %q", err, exitCode(err), o)
	}
	if _, _, err := runCLI(ctx, env, "", "cluster", "safe-to-stop", "nobody"); client.CodeOf(err) != protocol.CodeNotFound || exitCode(err) != exitError {
		t.Errorf("safe-to-stop of an unknown node: %v, want %s", err, protocol.CodeNotFound)
	}
}

// cliJSON runs a command with --json and decodes its output.
func cliJSON[T any](t *testing.T, ctx context.Context, env map[string]string, args ...string) T {
	t.Helper()
	var v T
	o, e, err := runCLI(ctx, env, "", append(args, "--json")...)
	if err != nil {
		t.Fatalf("carrier %s: %v\n%s", strings.Join(args, " "), err, e)
	}
	if err := json.Unmarshal([]byte(o), &v); err != nil {
		t.Fatalf("carrier %s: decode %q: %v", strings.Join(args, " "), o, err)
	}
	return v
}

// checkDroppedShown: messages a limit removed are counted in queue info,
// with what to do about it.
func checkDroppedShown(t *testing.T, ctx context.Context, env map[string]string) {
	t.Helper()
	if _, e, err := runCLI(ctx, env, "", "queue", "create", "tiny", "--max-messages", "2"); err != nil {
		t.Fatalf("queue create tiny: %v\n%s", err, e)
	}
	if o, e, err := runCLI(ctx, env, "1\n2\n3\n4\n5\n", "pub", "tiny", "-", "--json"); err != nil {
		t.Fatalf("pub tiny: %v\n%s%s", err, o, e)
	}
	o, e, err := runCLI(ctx, env, "", "queue", "info", "tiny")
	if err != nil || !strings.Contains(o, "Dropped by limits:  3 (discard old") {
		t.Fatalf("queue info tiny: %v\n%s%s", err, o, e)
	}
	o, _, err = runCLI(ctx, env, "", "queue", "info", "tiny", "--json")
	if err != nil || !strings.Contains(o, `"dropped":3`) {
		t.Fatalf("queue info tiny --json: %v\n%s", err, o)
	}
}
