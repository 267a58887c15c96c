package queue

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// cmdGen makes random but valid-looking command streams over a small
// universe of names, so that commands collide often: acks of delivered
// seqs, joins of existing groups, limits that are hit, timers that fire.
type cmdGen struct {
	r    *rand.Rand
	now  int64
	seqs map[string]uint64 // rough upper bound of each queue's seqs
}

func newCmdGen(seed uint64) *cmdGen {
	return &cmdGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seqs: map[string]uint64{}}
}

func (g *cmdGen) pick(options ...string) string { return options[g.r.IntN(len(options))] }

func (g *cmdGen) queue() string  { return g.pick("q0", "q1", "q2") }
func (g *cmdGen) group() string  { return g.pick("g0", "g1", "g2") }
func (g *cmdGen) member() string { return g.pick("m0", "m1", "m2", "m3", "m4") }

// entry makes the next entry: 1–4 commands, time mostly moving forward
// (sometimes backwards, which Apply must absorb).
func (g *cmdGen) entry() Entry {
	g.now += int64(g.r.IntN(3000)) * int64(time.Millisecond)
	t := g.now
	if g.r.IntN(20) == 0 {
		t -= int64(5 * time.Second)
	}
	e := Entry{Time: t}
	for n := 1 + g.r.IntN(4); n > 0; n-- {
		e.Commands = append(e.Commands, g.command())
	}
	return e
}

func (g *cmdGen) command() Command {
	q := g.queue()
	switch k := g.r.IntN(100); {
	case k < 30:
		return g.publish(q)
	case k < 42:
		return Ack{Queue: q, Group: g.group(), Member: g.member(), Seqs: g.seqList(q)}
	case k < 50:
		return Nack{Queue: q, Group: g.group(), Member: g.member(), Seqs: g.seqList(q),
			Delay: time.Duration(g.r.IntN(3)) * time.Second}
	case k < 60:
		return Join{Queue: q, Group: g.group(), Member: g.memberRef(), Config: g.groupConfig()}
	case k < 68:
		return Tick{}
	case k < 72:
		return Leave{Queue: q, Group: g.group(), Member: g.member()}
	case k < 75:
		return ResetNode{Node: g.pick("n0", "n1"), Keep: g.pick("s0", "s1")}
	case k < 79:
		return Redrive{Queue: q, DLSeqs: g.dlSeqs()}
	case k < 84:
		return CreateQueue{Name: q, Config: g.queueConfig(), MaxQueues: g.r.IntN(4)}
	case k < 86:
		return UpdateQueue{Name: q, Config: g.queueConfig(), IfMatch: g.pick("", "", "0000000000000000")}
	case k < 87:
		return UpdateGroup{Queue: q, Group: g.group(), Config: g.groupConfig(), IfMatch: g.pick("", "", "0000000000000000")}
	case k < 90:
		return CreateGroup{Queue: q, Group: g.group(), Config: g.groupConfig()}
	case k < 92:
		return DeleteGroup{Queue: q, Group: g.group()}
	case k < 94:
		return PurgeQueue{Name: q}
	case k < 95:
		return DeleteQueue{Name: q}
	default:
		return Publish{Queue: "bad/name", Create: &QueueConfig{}, Messages: []*Message{{ID: "x"}}}
	}
}

func (g *cmdGen) publish(q string) Command {
	p := Publish{Queue: q}
	if g.r.IntN(2) == 0 {
		cfg := g.queueConfig()
		p.Create = &cfg
	}
	for n := g.r.IntN(5); n > 0; n-- {
		p.Messages = append(p.Messages, g.message())
	}
	g.seqs[q] += uint64(len(p.Messages))
	return p
}

func (g *cmdGen) message() *Message {
	m := &Message{Event: g.pick("", "pickup", "drop")}
	if g.r.IntN(3) > 0 {
		m.ID = fmt.Sprintf("id%d", g.r.IntN(40))
	}
	if n := g.r.IntN(6); n > 0 {
		m.Data = make([]byte, n*n*4)
		for i := range m.Data {
			m.Data[i] = byte(g.r.IntN(256))
		}
		m.Binary = g.r.IntN(2) == 0
	}
	if g.r.IntN(4) == 0 {
		m.Headers = map[string]string{"traceparent": "00-abc", g.pick("a", "b"): "v"}
	}
	if g.r.IntN(6) == 0 {
		m.DeliverAt = g.now + int64(g.r.IntN(5000))*int64(time.Millisecond)
	}
	return m
}

func (g *cmdGen) memberRef() MemberRef {
	return MemberRef{ID: g.member(), Node: g.pick("n0", "n1"), Session: g.pick("s0", "s1")}
}

func (g *cmdGen) seqList(q string) []uint64 {
	var seqs []uint64
	for n := 1 + g.r.IntN(3); n > 0; n-- {
		seqs = append(seqs, 1+uint64(g.r.IntN(int(g.seqs[q])+2)))
	}
	return seqs
}

func (g *cmdGen) dlSeqs() []uint64 {
	if g.r.IntN(2) == 0 {
		return nil
	}
	return []uint64{1 + uint64(g.r.IntN(10)), 1 + uint64(g.r.IntN(10))}
}

// queueConfig mostly uses small limits, so that they are hit.
func (g *cmdGen) queueConfig() QueueConfig {
	if g.r.IntN(4) == 0 {
		return QueueConfig{}
	}
	return QueueConfig{
		Retention:      Retention(g.pick("", "limits", "workqueue")),
		MaxMessages:    int64(g.r.IntN(12)),
		MaxBytes:       int64(g.r.IntN(3)) * 200,
		MaxAge:         time.Duration(g.r.IntN(3)) * 10 * time.Second,
		MaxMessageSize: int64(g.r.IntN(2)) * 100,
		Discard:        Discard(g.pick("", "old", "new")),
		DedupWindow:    time.Duration(g.r.IntN(3)) * 5 * time.Second,
		MaxDeadLetters: int64(g.r.IntN(5)),
		Group:          g.groupConfig(),
	}
}

func (g *cmdGen) groupConfig() GroupConfig {
	c := GroupConfig{
		AckWait:     time.Duration(g.r.IntN(3)) * 4 * time.Second,
		MaxDeliver:  g.r.IntN(4),
		MaxInFlight: g.r.IntN(4),
	}
	switch g.r.IntN(5) {
	case 0:
		c.Start = Position{Kind: FromNew}
	case 1:
		c.Start = Position{Kind: FromSeq, Seq: uint64(g.r.IntN(10))}
	case 2:
		c.Start = Position{Kind: FromTime, Time: g.now - int64(g.r.IntN(10))*int64(time.Second)}
	}
	return c
}
