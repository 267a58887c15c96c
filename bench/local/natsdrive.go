package local

import (
	"fmt"
	"strconv"
	"strings"
)

// NATSDrive is how the benchmark's nats.go client drives JetStream: the
// choices a JetStream user makes in the client, with the cluster and the
// stream (file storage, 3 replicas) unchanged. NATSMatched drives it as the
// Carrier client is driven; NATSBest as nats.go's documentation recommends
// for throughput (bench/DESIGN.md says which pages and what was measured).
type NATSDrive struct {
	// Placement of the publishers' and consumers' connections: "spread"
	// (connection i to node i mod 3 first, as Carrier's), "leader" (every
	// one to the stream's leader), or "random" (the server list in nats.go's
	// default random order).
	Placement string
	// MsgID sets a Nats-Msg-Id on every publish, as Carrier's client sets an
	// id on every message: JetStream then de-duplicates within the stream's
	// window (2 minutes by default), as Carrier does.
	MsgID bool
	// Consume is how a group member receives: "messages" (the Messages()
	// iterator, pre-buffering), "fetch" (Fetch(Batch) batches, one pull
	// request each), or "consume" (the Consume() callback).
	Consume string
	// Batch is PullMaxMessages of "messages" and "consume", the batch of
	// "fetch"; 0 takes nats.go's default (500), and 100 for "fetch".
	Batch int
	// AckNoWait acks with Ack(), which does not wait for the server, instead
	// of DoubleAck. Carrier's ack always waits: a drive with it set does not
	// match Carrier's guarantee and is only reported beside.
	AckNoWait bool
}

// NATSMatched drives JetStream like the Carrier client: the same connection
// placement, a de-duplication id on every message, acks that wait for the
// server.
var NATSMatched = NATSDrive{Placement: "spread", MsgID: true, Consume: "messages"}

// NATSBest is JetStream driven at its best for the same durability:
// publishes confirmed after storage, acks confirmed by the server. It
// differs from NATSMatched only where measurement and nats.go's
// documentation say a user would choose otherwise for throughput: no
// message id (the audit measured −22 % publish throughput with one). Other
// placements and ways to consume measured within the noise of the
// documented defaults (docs/benchmarks.md).
var NATSBest = NATSDrive{Placement: "spread", Consume: "messages"}

func (d NATSDrive) withDefaults() NATSDrive {
	if d.Placement == "" {
		d.Placement = "spread"
	}
	if d.Consume == "" {
		d.Consume = "messages"
	}
	if d.Batch <= 0 && d.Consume == "fetch" {
		d.Batch = 100
	}
	return d
}

// String is the drive as ParseNATSDrive reads it.
func (d NATSDrive) String() string {
	d = d.withDefaults()
	parts := []string{"placement=" + d.Placement, "consume=" + d.Consume}
	if d.Batch > 0 {
		parts = append(parts, "batch="+strconv.Itoa(d.Batch))
	}
	if d.MsgID {
		parts = append(parts, "msgid")
	}
	if d.AckNoWait {
		parts = append(parts, "ack-nowait")
	}
	return strings.Join(parts, ",")
}

// ParseNATSDrive reads a drive: "matched", "best", or comma-separated
// settings — placement=spread|leader|random, msgid,
// consume=messages|fetch|consume, batch=N, ack-nowait — over the matched
// drive without a message id ("consume=fetch,batch=100").
func ParseNATSDrive(s string) (NATSDrive, error) {
	switch s {
	case "", "matched":
		return NATSMatched, nil
	case "best":
		return NATSBest, nil
	}
	d := NATSDrive{}
	for _, kv := range strings.Split(s, ",") {
		key, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
		var err error
		switch key {
		case "placement":
			d.Placement, err = oneOf(key, val, "spread", "leader", "random")
		case "consume":
			d.Consume, err = oneOf(key, val, "messages", "fetch", "consume")
		case "batch":
			d.Batch, err = strconv.Atoi(val)
			if err == nil && d.Batch < 1 {
				err = fmt.Errorf("batch %d: want at least 1", d.Batch)
			}
		case "msgid":
			d.MsgID = true
		case "ack-nowait":
			d.AckNoWait = true
		default:
			err = fmt.Errorf("unknown setting %q", key)
		}
		if err != nil {
			return NATSDrive{}, fmt.Errorf("nats drive %q: %w", s, err)
		}
	}
	return d.withDefaults(), nil
}

func oneOf(key, val string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if val == a {
			return val, nil
		}
	}
	return "", fmt.Errorf("%s=%q: want one of %s", key, val, strings.Join(allowed, ", "))
}
