package socketio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/gateway/sioroute"
	"github.com/carriermq/carrier/protocol"
	clustertest "github.com/carriermq/carrier/test/cluster"
	"github.com/carriermq/carrier/test/lb"
)

// env is a 3-node cluster of real carrier processes behind a round-robin
// load balancer, and an agent driving socket.io-client sockets.
type env struct {
	t     *testing.T
	c     *clustertest.Cluster
	lb    *lb.Proxy
	agent *agent
}

// start starts the cluster (waiting for a leader), the balancer in front of
// the nodes' API addresses (pick: nil for round robin) and the agent.
func start(t *testing.T, pick func(n, count int) int) *env {
	t.Helper()
	needNode(t)
	c := clustertest.Start(t, clustertest.Options{Bin: carrierBin, Dir: t.TempDir(), Size: 3}, 4000)
	p, err := lb.Start("127.0.0.1:0", apiAddrs(c.Nodes()), lb.Options{Pick: pick})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &env{t: t, c: c, lb: p, agent: startAgent(t)}
}

func apiAddrs(nodes []*clustertest.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Addrs.API)
	}
	return out
}

// firstElsewhere sends the first connection to the first node and every
// later one to the two others in turn: the handshake of the first socket
// lands on n1, its upgrade never does.
func firstElsewhere(n, count int) int {
	if n == 1 {
		return 0
	}
	return 1 + n%(count-1)
}

// url is the balancer's URL for namespace nsp.
func (e *env) url(nsp string) string { return e.lb.URL() + nsp }

// connect opens socket name on namespace nsp with the socket.io options
// opts and waits until it is connected; it returns the connect event.
func (e *env) connect(name, nsp string, opts map[string]any, ack string) event {
	e.t.Helper()
	mark := e.agent.since()
	e.agent.send(map[string]any{"op": "connect", "name": name, "url": e.url(nsp), "opts": opts, "ack": ack})
	return e.agent.waitFrom(mark, name+" connected", 30*time.Second, func(ev event) bool {
		if ev.Name == name && ev.Ev == "connect_error" {
			e.t.Fatalf("%s: connect_error %s", name, ev.Raw)
		}
		return ev.Ev == "connect" && ev.Name == name
	})
}

// owner is the node holding the Engine.IO session sid.
func (e *env) owner(sid string) *clustertest.Node {
	e.t.Helper()
	id, ok := sioroute.NodeOf(sid)
	if !ok {
		e.t.Fatalf("sid %q names no node", sid)
	}
	n := e.c.Node(id)
	if n == nil {
		e.t.Fatalf("sid %q names node %q, not in the cluster", sid, id)
	}
	return n
}

// upgradeBackend is the backend the balancer gave sid's WebSocket upgrade.
func (e *env) upgradeBackend(sid string) string {
	e.t.Helper()
	for _, c := range e.lb.Conns() {
		if strings.Contains(c.FirstLine, "transport=websocket") && strings.Contains(c.FirstLine, "sid="+sid) {
			return c.Backend
		}
	}
	e.t.Fatalf("no upgrade for sid %s went through the balancer: %+v", sid, e.lb.Conns())
	return ""
}

// group polls the group's info on a running node until ok accepts it.
func (e *env) group(queue, name string, ok func(protocol.GroupInfo) error) protocol.GroupInfo {
	e.t.Helper()
	var last protocol.GroupInfo
	err := clustertest.Poll(timeout(e.t, 30*time.Second), 100*time.Millisecond, func() error {
		n := e.c.Running()[0]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g, err := n.Admin().Group(ctx, queue, name)
		if err != nil {
			return err
		}
		last = g
		return ok(g)
	})
	if err != nil {
		e.t.Fatalf("group %s/%s: %v (last %+v)", queue, name, err, last)
	}
	return last
}

// drained accepts a group with nothing pending, unacked or scheduled.
func drained(g protocol.GroupInfo) error {
	if g.Pending != 0 || g.Unacked != 0 || g.Scheduled != 0 {
		return fmt.Errorf("pending %d, unacked %d, scheduled %d", g.Pending, g.Unacked, g.Scheduled)
	}
	return nil
}

// publishHTTP publishes through any running node's HTTP API, retrying
// within 30 s while the cluster elects a leader; it returns the seq.
func (e *env) publishHTTP(queue, id, event string, data any) uint64 {
	e.t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		e.t.Fatal(err)
	}
	var seq uint64
	err = clustertest.Poll(timeout(e.t, 30*time.Second), 100*time.Millisecond, func() error {
		for _, n := range e.c.Running() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ack, err := n.Admin().Publish(ctx, queue, client.Message{ID: id, Event: event, Data: raw})
			cancel()
			if err == nil {
				seq = ack.Seq
				return nil
			}
		}
		return fmt.Errorf("publish %s: no node confirmed it", id)
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return seq
}
