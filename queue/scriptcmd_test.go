package queue

import (
	"slices"
	"strings"
	"time"
)

// command parses one command line of an apply block:
//
//	create <q> [config] [maxQueues=N]      update <q> [config]
//	delete <q>                             purge <q>
//	publish <q> [create] [config] [maxQueues=N] [maxTotalBytes=N] | msg | msg ...
//	join <q> <g> <member> [node=N] [session=S] [group config]
//	leave <q> <g> <member>                 tick
//	ack <q> <g> <member> seq...            nack <q> <g> <member> seq... [delay=D]
//	redrive <q> [dlseq...]                 reset <node> [keep=S]
//	create-group <q> <g> [group config]    delete-group <q> <g>
//	update-group <q> <g> [group config] [ifMatch=E]
//	nil                                    (a nil command)
//
// config is key=value pairs named as the JSON fields of QueueConfig and
// GroupConfig (start=first|new|seq:N|time:D). A msg is key=value pairs:
// id, event, data, size=N (N bytes of data), deliverAt=D, h:key=value, and
// the flag binary.
func (r *scriptRunner) command(line string) Command {
	parts := strings.Split(line, "|")
	f := strings.Fields(parts[0])
	name, args := f[0], f[1:]
	switch name {
	case "create":
		cfg, kv := r.queueConfig(args[1:])
		return CreateQueue{Name: args[0], Config: cfg, MaxQueues: int(r.uint(kv["maxQueues"]))}
	case "update":
		cfg, kv := r.queueConfig(args[1:])
		return UpdateQueue{Name: args[0], Config: cfg, IfMatch: kv["ifMatch"]}
	case "delete":
		return DeleteQueue{Name: args[0]}
	case "purge":
		return PurgeQueue{Name: args[0]}
	case "publish":
		return r.publish(args, parts[1:])
	case "join":
		return r.join(args)
	case "leave":
		return Leave{Queue: args[0], Group: args[1], Member: args[2]}
	case "ack":
		seqs, _ := r.seqArgs(args[3:])
		return Ack{Queue: args[0], Group: args[1], Member: args[2], Seqs: seqs}
	case "nack":
		seqs, kv := r.seqArgs(args[3:])
		return Nack{Queue: args[0], Group: args[1], Member: args[2], Seqs: seqs, Delay: time.Duration(r.duration(kv["delay"]))}
	case "tick":
		return Tick{}
	case "redrive":
		seqs, _ := r.seqArgs(args[1:])
		return Redrive{Queue: args[0], DLSeqs: seqs}
	case "reset":
		node := ""
		if len(args) > 0 && !strings.Contains(args[0], "=") {
			node, args = args[0], args[1:]
		}
		return ResetNode{Node: node, Keep: r.keyValues(args)["keep"]}
	case "create-group":
		cfg, _ := r.queueConfig(args[2:])
		return CreateGroup{Queue: args[0], Group: args[1], Config: cfg.Group}
	case "delete-group":
		return DeleteGroup{Queue: args[0], Group: args[1]}
	case "update-group":
		cfg, kv := r.queueConfig(args[2:])
		return UpdateGroup{Queue: args[0], Group: args[1], Config: cfg.Group, IfMatch: kv["ifMatch"]}
	case "nil":
		return nil
	}
	r.fatalf("unknown command %q", name)
	return nil
}

func (r *scriptRunner) publish(args, msgs []string) Command {
	p := Publish{Queue: args[0]}
	rest := args[1:]
	if len(rest) > 0 && rest[0] == "create" {
		cfg, kv := r.queueConfig(rest[1:])
		p.Create, p.MaxQueues = &cfg, int(r.uint(kv["maxQueues"]))
		p.MaxTotalBytes = int64(r.uint(kv["maxTotalBytes"]))
	} else {
		p.MaxTotalBytes = int64(r.uint(r.keyValues(rest)["maxTotalBytes"]))
	}
	for _, spec := range msgs {
		if strings.TrimSpace(spec) == "nil" {
			p.Messages = append(p.Messages, nil)
			continue
		}
		p.Messages = append(p.Messages, r.message(strings.Fields(spec)))
	}
	return p
}

func (r *scriptRunner) message(fields []string) *Message {
	m := &Message{}
	for _, f := range fields {
		if f == "binary" {
			m.Binary = true
			continue
		}
		k, v, _ := strings.Cut(f, "=")
		switch {
		case k == "id":
			m.ID = v
		case k == "event":
			m.Event = v
		case k == "data":
			m.Data = []byte(v)
		case k == "size":
			m.Data = []byte(strings.Repeat("x", int(r.uint(v))))
		case k == "deliverAt":
			m.DeliverAt = r.duration(v)
		case strings.HasPrefix(k, "h:"):
			if m.Headers == nil {
				m.Headers = map[string]string{}
			}
			m.Headers[k[2:]] = v
		default:
			r.fatalf("unknown message field %q", f)
		}
	}
	return m
}

func (r *scriptRunner) join(args []string) Command {
	cfg, kv := r.queueConfig(args[3:])
	return Join{Queue: args[0], Group: args[1], Config: cfg.Group,
		Member: MemberRef{ID: args[2], Node: kv["node"], Session: kv["session"]}}
}

// seqArgs splits numbers from key=value arguments.
func (r *scriptRunner) seqArgs(args []string) ([]uint64, map[string]string) {
	var seqs []uint64
	var rest []string
	for _, a := range args {
		if strings.Contains(a, "=") {
			rest = append(rest, a)
		} else {
			seqs = append(seqs, r.uint(a))
		}
	}
	return seqs, r.keyValues(rest)
}

// queueConfig reads config keys; other key=value pairs are returned.
func (r *scriptRunner) queueConfig(args []string) (QueueConfig, map[string]string) {
	var c QueueConfig
	other := map[string]string{}
	for k, v := range r.keyValues(args) {
		if !r.configKey(&c, k, v) {
			other[k] = v
		}
	}
	return c, other
}

func (r *scriptRunner) configKey(c *QueueConfig, k, v string) bool {
	dur := func() time.Duration { return time.Duration(r.duration(v)) }
	switch k {
	case "retention":
		c.Retention = Retention(v)
	case "maxMessages":
		c.MaxMessages = r.int(v)
	case "maxBytes":
		c.MaxBytes = r.int(v)
	case "maxAge":
		c.MaxAge = dur()
	case "maxMessageSize":
		c.MaxMessageSize = r.int(v)
	case "discard":
		c.Discard = Discard(v)
	case "dedupWindow":
		c.DedupWindow = dur()
	case "maxDeadLetters":
		c.MaxDeadLetters = r.int(v)
	case "ackWait":
		c.Group.AckWait = dur()
	case "maxDeliver":
		c.Group.MaxDeliver = int(r.int(v))
	case "maxInFlight":
		c.Group.MaxInFlight = int(r.int(v))
	case "start":
		c.Group.Start = r.position(v)
	default:
		return false
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
