package socketio_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/carriermq/carrier/test/checker"
)

const wait = 30 * time.Second

// payload is what the tests emit: one object argument.
type payload struct {
	ID    string `json:"id"`
	Order int    `json:"order"`
}

// payloadOf is the first argument of a delivered event.
func payloadOf(t *testing.T, e event) payload {
	t.Helper()
	var p payload
	if len(e.Args) == 0 || json.Unmarshal(e.Args[0], &p) != nil || p.ID == "" {
		t.Fatalf("event %s: first argument is not a test payload", e.Raw)
	}
	return p
}

// seqOf is the delivery's offset as a seq (the offset is the last
// argument; 0 when it is not a number).
func seqOf(e event) uint64 {
	if len(e.Args) < 2 {
		return 0
	}
	var s string
	if json.Unmarshal(e.Args[len(e.Args)-1], &s) != nil {
		return 0
	}
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// emit sends event with p from socket name, waits for the server's ack and
// returns the seq it carries, recording the publish in h when h is set.
func (e *env) emit(h *checker.History, name, ev string, p payload) uint64 {
	e.t.Helper()
	if h != nil {
		h.Attempt(p.ID)
	}
	mark := e.agent.since()
	e.agent.send(map[string]any{"op": "emit", "name": name, "key": p.ID, "event": ev, "args": []any{p}, "ack": true})
	a := e.agent.waitFrom(mark, "ack of "+p.ID, wait, func(x event) bool { return x.Ev == "acked" && x.Key == p.ID })
	var res struct {
		Seq uint64 `json:"seq"`
	}
	if a.Err != nil || json.Unmarshal(a.Res, &res) != nil || res.Seq == 0 {
		e.t.Fatalf("emit %s %s: ack %s, want {seq}", ev, p.ID, a.Raw)
	}
	if h != nil {
		h.Confirm(p.ID, res.Seq)
	}
	return res.Seq
}

// ids are the payload ids of events.
func ids(t *testing.T, evs []event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, payloadOf(t, e).ID)
	}
	return out
}

func isEvent(name string) func(event) bool {
	return func(e event) bool { return e.Ev == "event" && e.Name == name }
}

// TestTransportsThroughProxy: with default options (polling, then the
// upgrade) and with transports ["websocket"], apps behind the balancer
// publish, receive and ack; the first app's upgrade lands on a node other
// than the one holding its session (the balancer sends it elsewhere) and
// still succeeds.
func TestTransportsThroughProxy(t *testing.T) {
	e := start(t, firstElsewhere)
	poll := e.connect("poll", "/orders", map[string]any{"auth": map[string]any{"group": "poll"}}, "auto")
	if open := e.agent.wait("poll's session", wait, is("open", "poll")); open.Transport != "polling" {
		t.Errorf("default options opened over %s, want polling first", open.Transport)
	}
	owner := e.owner(poll.SID)
	up := e.agent.wait("upgrade of poll", wait, is("upgrade", "poll"))
	if up.Transport != "websocket" || up.SID != poll.SID {
		t.Errorf("upgrade %s, want websocket for sid %s", up.Raw, poll.SID)
	}
	b := e.upgradeBackend(poll.SID)
	if b == owner.Addrs.API {
		t.Errorf("the upgrade went to %s, the session's own node: the test did not cross nodes", b)
	}
	t.Logf("session %s on %s (%s); its upgrade landed on %s", poll.SID, owner.ID, owner.Addrs.API, b)
	ws := e.connect("ws", "/orders", map[string]any{"auth": map[string]any{"group": "ws"}, "transports": []string{"websocket"}}, "auto")
	if ws.Transport != "websocket" {
		t.Errorf("transports [websocket] connected over %s", ws.Transport)
	}
	var want []string
	for i := 1; i <= 10; i++ {
		from := []string{"poll", "ws"}[i%2]
		p := payload{ID: fmt.Sprintf("%s-%d", from, i), Order: i}
		e.emit(nil, from, "order", p)
		want = append(want, p.ID)
	}
	for _, name := range []string{"poll", "ws"} {
		got := ids(t, e.agent.waitN(0, len(want), name+" deliveries", wait, isEvent(name)))
		if !slices.Equal(got, want) {
			t.Errorf("%s received %v, want %v", name, got, want)
		}
		e.group("orders", name, drained)
	}
}

// TestSeedScenario is the problem Carrier grew from, through the balancer:
// a vendor app (group acme-widgets) and a driver app exchange pickup /
// in-transit / delivered; the vendor disconnects, the driver emits more,
// the vendor's node is killed (-9), and the vendor, reconnecting through the
// balancer, receives every event it missed, in order, and none it had acked.
func TestSeedScenario(t *testing.T) {
	e := start(t, nil)
	h := checker.NewHistory()
	vendorAuth := map[string]any{"group": "acme-widgets", "events": []string{"in-transit", "delivered"}}
	vendor := e.connect("vendor", "/orders", map[string]any{"auth": vendorAuth}, "manual")
	e.connect("driver", "/orders", map[string]any{"auth": map[string]any{"group": "drivers", "events": []string{"pickup"}}}, "auto")

	e.emit(nil, "vendor", "pickup", payload{ID: "pickup-1", Order: 1})
	pickup := e.agent.wait("driver gets the pickup", wait, isEvent("driver"))
	if p := payloadOf(t, pickup); p.ID != "pickup-1" {
		t.Fatalf("driver got %s, want pickup-1", pickup.Raw)
	}
	before := e.driverReports(h, 1, 1)
	e.vendorReceives(h, 0, before)
	e.group("orders", "acme-widgets", drained)

	mark := e.agent.since()
	e.agent.send(map[string]any{"op": "disconnect", "name": "vendor"})
	e.agent.waitFrom(mark, "vendor disconnected", wait, is("disconnect", "vendor"))
	missed := e.driverReports(h, 2, 6)
	node := e.owner(vendor.SID)
	node.Kill()
	t.Logf("vendor's node %s killed with %d events waiting for the vendor", node.ID, len(missed))

	mark = e.agent.since()
	e.agent.send(map[string]any{"op": "reconnect", "name": "vendor"})
	again := e.agent.waitFrom(mark, "vendor reconnected", wait, is("connect", "vendor"))
	if n := e.owner(again.SID); n == node {
		t.Fatalf("vendor reconnected to the killed node %s", n.ID)
	}
	e.vendorReceives(h, mark, missed)
	e.group("orders", "acme-widgets", drained)

	r := checker.CheckReader(h, "acme-widgets")
	t.Logf("checker: %s", r)
	if err := r.Err(); err != nil {
		t.Error(err)
	}
	if r.Duplicated != 0 {
		t.Errorf("%d deliveries of events the vendor had acked or already got", r.Duplicated)
	}
}

// driverReports has the driver emit in-transit and delivered for orders
// from..to and returns the payload ids in emit order.
func (e *env) driverReports(h *checker.History, from, to int) []string {
	e.t.Helper()
	var out []string
	for order := from; order <= to; order++ {
		for _, ev := range []string{"in-transit", "delivered"} {
			p := payload{ID: fmt.Sprintf("%s-%d", ev, order), Order: order}
			e.emit(h, "driver", ev, p)
			out = append(out, p.ID)
		}
	}
	return out
}

// vendorReceives waits for the vendor's deliveries from mark on to be want
// (in order), records them in h and acks each.
func (e *env) vendorReceives(h *checker.History, mark int, want []string) {
	e.t.Helper()
	evs := e.agent.waitN(mark, len(want), "vendor deliveries", wait, isEvent("vendor"))
	for _, ev := range evs {
		h.Receive(checker.Delivery{ID: payloadOf(e.t, ev).ID, Seq: seqOf(ev), Reader: "acme-widgets"})
		if !ev.Ackable {
			e.t.Errorf("group delivery without an ack callback: %s", ev.Raw)
			continue
		}
		e.agent.send(map[string]any{"op": "ack", "name": "vendor", "key": ev.Key})
	}
	if got := ids(e.t, evs); !slices.Equal(got, want) {
		e.t.Errorf("vendor received %v, want %v", got, want)
	}
}

// TestTailRecoversOnAnotherNode: browser-style tail clients (default
// options, no group) are on a node that dies: viewer has received events,
// quiet (another queue) none yet. What is published while they are away
// comes back on another node with socket.recovered === true, after what
// they had, none twice; then viewer drops its connection three times in a
// row, with an event published each time, and recovers each time.
func TestTailRecoversOnAnotherNode(t *testing.T) {
	e := start(t, nil)
	first := e.c.Nodes()[0]
	e.lb.SetBackends([]string{first.Addrs.API}) // both sessions on one node
	viewer := e.connect("viewer", "/tracking", map[string]any{}, "none")
	quiet := e.connect("quiet", "/quiet", map[string]any{}, "none")
	e.publishTracking(1, 3)
	e.agent.waitN(0, 3, "viewer's first events", wait, isEvent("viewer"))
	if a, b := e.owner(viewer.SID), e.owner(quiet.SID); a != first || b != first {
		t.Fatalf("sessions on %s and %s, want both on %s", a.ID, b.ID, first.ID)
	}

	e.lb.SetBackends(nil) // hold the reconnects off until the missed events exist
	mark := e.agent.since()
	first.Kill()
	e.agent.waitFrom(mark, "viewer disconnected", wait, is("disconnect", "viewer"))
	e.agent.waitFrom(mark, "quiet disconnected", wait, is("disconnect", "quiet"))
	e.publishTracking(4, 6)
	e.publishHTTP("quiet", "q-1", "position", payload{ID: "q-1", Order: 1})
	e.lb.SetBackends(apiAddrs(e.c.Running()))
	for _, name := range []string{"viewer", "quiet"} {
		again := e.agent.waitFrom(mark, name+" reconnected", wait, is("connect", name))
		if !again.Recovered {
			t.Errorf("%s reconnected with recovered false: %s", name, again.Raw)
		}
		if n := e.owner(again.SID); n == first {
			t.Errorf("%s reconnected to the killed node %s", name, n.ID)
		}
	}
	e.expect("viewer", 6)
	e.expect("quiet", 1)

	for round := range 3 {
		mark := e.agent.since()
		e.agent.send(map[string]any{"op": "drop", "name": "viewer"})
		e.agent.waitFrom(mark, "viewer dropped", wait, is("disconnect", "viewer"))
		e.publishTracking(7+round, 7+round)
		again := e.agent.waitFrom(mark, "viewer back", wait, is("connect", "viewer"))
		if !again.Recovered {
			t.Errorf("reconnect %d: recovered false: %s", round+1, again.Raw)
		}
		e.expect("viewer", 7+round)
	}
	e.publishTracking(10, 10) // a marker: nothing arrived twice before it
	e.expect("viewer", 10)
}

// publishTracking publishes t-from … t-to to the queue tracking.
func (e *env) publishTracking(from, to int) {
	e.t.Helper()
	for i := from; i <= to; i++ {
		id := fmt.Sprintf("t-%d", i)
		e.publishHTTP("tracking", id, "position", payload{ID: id, Order: i})
	}
}

// expect waits until socket name has n deliveries and checks they are its
// queue's 1..n, once each and in order (t-1… for viewer, q-1… for quiet):
// a delivery beyond n would show on the next call.
func (e *env) expect(name string, n int) {
	e.t.Helper()
	prefix := map[string]string{"viewer": "t-", "quiet": "q-"}[name]
	got := ids(e.t, e.agent.waitN(0, n, name+"'s events", wait, isEvent(name)))
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf("%s%d", prefix, i))
	}
	if !slices.Equal(got, want) {
		e.t.Errorf("%s received %v, want %v", name, got, want)
	}
}
