package queue

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scriptRunner executes script blocks against one State.
type scriptRunner struct {
	t     *testing.T
	s     *State
	index uint64
	pos   string
}

func (r *scriptRunner) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("%s: %s", r.pos, fmt.Sprintf(format, args...))
}

func (r *scriptRunner) run(block []string) string {
	f := strings.Fields(block[0])
	dir, args, input := f[0], f[1:], block[1:]
	switch dir {
	case "apply":
		return r.apply(args, input)
	case "info":
		return r.info(args)
	case "config":
		return r.config(args)
	case "group":
		return r.group(args)
	case "read":
		return r.read(args)
	case "dlq":
		return r.dlq(args)
	case "deadline":
		return r.deadline()
	case "start":
		return r.start(args)
	}
	r.fatalf("unknown directive %q", dir)
	return ""
}

// apply: "apply at=5s", then one command per input line.
func (r *scriptRunner) apply(args, input []string) string {
	kv := r.keyValues(args)
	e := Entry{Time: r.duration(kv["at"])}
	for _, line := range input {
		e.Commands = append(e.Commands, r.command(line))
	}
	r.index++
	results, events := r.s.Apply(r.index, e)
	var out []string
	for i, res := range results {
		out = append(out, fmt.Sprintf("%s: %s", strings.Fields(input[i])[0], formatResult(res)))
	}
	for _, ev := range events {
		out = append(out, formatEvent(ev))
	}
	r.check()
	return strings.Join(out, "\n")
}

// check verifies the internal invariants and the snapshot round trip.
func (r *scriptRunner) check() {
	r.t.Helper()
	if err := checkInvariants(r.s); err != nil {
		r.fatalf("invariant: %v", err)
	}
	var a, b bytes.Buffer
	if _, err := r.s.Snapshot().WriteTo(&a); err != nil {
		r.fatalf("snapshot: %v", err)
	}
	s2 := New(nil)
	if err := s2.Restore(bytes.NewReader(a.Bytes())); err != nil {
		r.fatalf("restore: %v", err)
	}
	if _, err := s2.Snapshot().WriteTo(&b); err != nil {
		r.fatalf("snapshot: %v", err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		r.fatalf("snapshot of the restored state differs")
	}
	if err := checkInvariants(s2); err != nil {
		r.fatalf("invariant after restore: %v", err)
	}
}

func formatResult(res Result) string {
	var parts []string
	if res.Published != nil {
		for _, a := range res.Published {
			parts = append(parts, formatAck(a))
		}
	}
	if res.Count != 0 {
		parts = append(parts, fmt.Sprintf("count=%d", res.Count))
	}
	if res.Err != nil {
		parts = append(parts, "error "+res.Err.Error())
	} else if res.Published == nil {
		parts = append([]string{"ok"}, parts...)
	}
	return strings.Join(parts, " ")
}

func formatAck(a PublishAck) string {
	switch {
	case a.Err != nil:
		return "[" + string(CodeOf(a.Err)) + "]"
	case a.Duplicate:
		return fmt.Sprintf("%d:%s(dup)", a.Seq, a.ID)
	default:
		return fmt.Sprintf("%d:%s", a.Seq, a.ID)
	}
}

func formatEvent(ev Event) string {
	switch ev.Kind {
	case EventAppended:
		seqs := make([]uint64, len(ev.Messages))
		for i, m := range ev.Messages {
			seqs[i] = m.Seq
		}
		return fmt.Sprintf("> appended %s %s", ev.Queue, formatSeqList(seqs))
	case EventDeliver:
		if ev.Message.Seq != ev.Seq {
			return fmt.Sprintf("> BAD deliver: message seq %d, event seq %d", ev.Message.Seq, ev.Seq)
		}
		return fmt.Sprintf("> deliver %s/%s %s seq=%d attempt=%d", ev.Queue, ev.Group, ev.Member, ev.Seq, ev.Attempt)
	case EventMemberRemoved:
		return fmt.Sprintf("> member-removed %s/%s %s", ev.Queue, ev.Group, ev.Member)
	case EventQueueDeleted:
		return fmt.Sprintf("> queue-deleted %s", ev.Queue)
	case EventLimitDropped:
		return fmt.Sprintf("> dropped %s through=%d count=%d", ev.Queue, ev.Seq, ev.Count)
	case EventQueuePurged:
		return fmt.Sprintf("> queue-purged %s seq=%d", ev.Queue, ev.Seq)
	}
	return fmt.Sprintf("> unknown event %+v", ev)
}

// formatSeqList prints 1-3,5 style lists.
func formatSeqList(seqs []uint64) string {
	var parts []string
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", seqs[i], seqs[j]))
		} else {
			parts = append(parts, fmt.Sprint(seqs[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

func fmtTime(t int64) string { return time.Duration(t).String() }

func (r *scriptRunner) info(args []string) string {
	if len(args) == 0 {
		var out []string
		for _, q := range r.s.Queues() {
			out = append(out, formatQueue(q))
		}
		return strings.Join(out, "\n")
	}
	q, err := r.s.Queue(args[0])
	if err != nil {
		return "error " + err.Error()
	}
	out := []string{formatQueue(q)}
	for _, g := range q.Groups {
		out = append(out, formatGroup(g))
	}
	return strings.Join(out, "\n")
}

func formatQueue(q QueueInfo) string {
	return fmt.Sprintf("queue %s first=%d last=%d messages=%d bytes=%d deadLetters=%d groups=%d created=%s dropped=%d",
		q.Name, q.FirstSeq, q.LastSeq, q.Messages, q.Bytes, q.DeadLetters, len(q.Groups), fmtTime(q.Created), q.Dropped)
}

func formatGroup(g GroupInfo) string {
	return fmt.Sprintf("group %s members=%d pending=%d unacked=%d scheduled=%d ackFloor=%d redelivered=%d",
		g.Name, g.Members, g.Pending, g.Unacked, g.Scheduled, g.AckFloor, g.Redelivered)
}

func (r *scriptRunner) config(args []string) string {
	q, err := r.s.Queue(args[0])
	if err != nil {
		return "error " + err.Error()
	}
	c := q.Config
	out := fmt.Sprintf("retention=%s maxMessages=%d maxBytes=%d maxAge=%v maxMessageSize=%d discard=%s dedupWindow=%v maxDeadLetters=%d\n",
		c.Retention, c.MaxMessages, c.MaxBytes, c.MaxAge, c.MaxMessageSize, c.Discard, c.DedupWindow, c.MaxDeadLetters)
	out += "group " + formatGroupConfig(c.Group)
	for _, g := range q.Groups {
		out += "\ngroup " + g.Name + " " + formatGroupConfig(g.Config)
	}
	return out
}

func formatGroupConfig(c GroupConfig) string {
	return fmt.Sprintf("ackWait=%v maxDeliver=%d maxInFlight=%d start=%s:%d:%s",
		c.AckWait, c.MaxDeliver, c.MaxInFlight, c.Start.Kind, c.Start.Seq, fmtTime(c.Start.Time))
}

// group: "group <queue> <group>": the group, then each member and its unacked seqs.
func (r *scriptRunner) group(args []string) string {
	g, err := r.s.Group(args[0], args[1])
	if err != nil {
		return "error " + err.Error()
	}
	out := []string{formatGroup(g)}
	members, err := r.s.Members(args[0], args[1])
	if err != nil {
		r.fatalf("members: %v", err)
	}
	for _, m := range members {
		seqs, err := r.s.Unacked(args[0], args[1], m.ID)
		if err != nil {
			r.fatalf("unacked: %v", err)
		}
		out = append(out, fmt.Sprintf("member %s node=%s session=%s unacked=[%s]", m.ID, m.Node, m.Session, formatSeqList(seqs)))
	}
	return strings.Join(out, "\n")
}

// read: "read <queue> from=N limit=N".
func (r *scriptRunner) read(args []string) string {
	kv := r.keyValues(args[1:])
	msgs, err := r.s.Read(args[0], r.uint(kv["from"]), int(r.uint(kv["limit"])))
	if err != nil {
		return "error " + err.Error()
	}
	var out []string
	for _, m := range msgs {
		out = append(out, formatMessage(m))
	}
	return strings.Join(out, "\n")
}

func formatMessage(m *Message) string {
	s := fmt.Sprintf("%d id=%s event=%s data=%q time=%s", m.Seq, m.ID, m.Event, m.Data, fmtTime(m.Time))
	if m.DeliverAt != 0 {
		s += " deliverAt=" + fmtTime(m.DeliverAt)
	}
	for _, k := range sortedKeys(m.Headers) {
		s += fmt.Sprintf(" h:%s=%s", k, m.Headers[k])
	}
	return s
}

// dlq: "dlq <queue> [from=N limit=N]".
func (r *scriptRunner) dlq(args []string) string {
	kv := r.keyValues(args[1:])
	limit := 100
	if v, ok := kv["limit"]; ok {
		limit = int(r.uint(v))
	}
	dls, err := r.s.DeadLetters(args[0], r.uint(kv["from"]), limit)
	if err != nil {
		return "error " + err.Error()
	}
	var out []string
	for _, dl := range dls {
		var hist []string
		for _, d := range dl.Deliveries {
			hist = append(hist, fmt.Sprintf("%d %s %s %s", d.Attempt, d.Member, fmtTime(d.Time), d.Outcome))
		}
		out = append(out, fmt.Sprintf("dl %d group=%s seq=%d id=%s time=%s deliveries=[%s]",
			dl.DLSeq, dl.Group, dl.Message.Seq, dl.Message.ID, fmtTime(dl.Time), strings.Join(hist, "; ")))
	}
	return strings.Join(out, "\n")
}

func (r *scriptRunner) deadline() string {
	at, ok := r.s.NextDeadline()
	if !ok {
		return "none"
	}
	return fmtTime(at)
}

// start: "start <queue> new|first|seq=N|time=T".
func (r *scriptRunner) start(args []string) string {
	seq, err := r.s.StartSeq(args[0], r.position(args[1]))
	if err != nil {
		return "error " + err.Error()
	}
	return fmt.Sprint(seq)
}

func (r *scriptRunner) position(v string) Position {
	kind, arg, _ := strings.Cut(v, ":")
	p := Position{Kind: PositionKind(kind)}
	switch p.Kind {
	case FromSeq:
		p.Seq = r.uint(arg)
	case FromTime:
		p.Time = r.duration(arg)
	}
	return p
}

func (r *scriptRunner) keyValues(args []string) map[string]string {
	kv := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			r.fatalf("want key=value, got %q", a)
		}
		kv[k] = v
	}
	return kv
}

// duration parses a Go duration ("5s"); times in scripts are durations
// since the zero time.
func (r *scriptRunner) duration(v string) int64 {
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fatalf("bad duration %q: %v", v, err)
	}
	return int64(d)
}

func (r *scriptRunner) uint(v string) uint64 {
	if v == "" {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		r.fatalf("bad number %q: %v", v, err)
	}
	return n
}

func (r *scriptRunner) int(v string) int64 {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		r.fatalf("bad number %q: %v", v, err)
	}
	return n
}
