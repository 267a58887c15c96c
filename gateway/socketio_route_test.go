package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/carriermq/carrier/gateway/sioroute"
)

// By default the sids name this node, and a sid of another node this node
// does not know (here: no gossip at all) is an unknown session at once,
// polling and upgrade alike. Forwarding between nodes is tested in
// gateway/sioroute and, with real processes, in test/socketio.
func TestSocketIOSidRouting(t *testing.T) {
	s := startServer(t, DefaultConfig())
	c := eioHandshake(t, s.ts.URL)
	if node, ok := sioroute.NodeOf(c.sid); !ok || node != "n1" {
		t.Errorf("sid %q carries node %q (%v), want n1", c.sid, node, ok)
	}
	c.mustPost("40")
	other, err := sioroute.NewSID("n2")
	if err != nil {
		t.Fatal(err)
	}
	status, body := httpDo(t, http.MethodGet, sioURL(s.ts.URL, "EIO=4&transport=polling&sid="+other), "")
	if status != http.StatusBadRequest || body != `{"code":1,"message":"Session ID unknown"}` {
		t.Errorf("poll for n2's session on n1 without gossip: %d %s, want 400 Session ID unknown", status, body)
	}
	if _, resp, err := wsDial(t, s.ts.URL, "EIO=4&transport=websocket&sid="+other); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("upgrade for n2's session on n1: %v %v, want 400", resp, err)
	}
	if status, body := c.poll(); status != http.StatusOK || len(body) == 0 || !strings.HasPrefix(body[0], "40") {
		t.Errorf("n1's own session after those: %d %v, want its CONNECT answer", status, body)
	}
}

func TestSocketIONodeIDTooLong(t *testing.T) {
	if _, err := sidMaker(strings.Repeat("x", sioroute.MaxNodeBytes+1)); err == nil {
		t.Error("a node id no sid can carry was accepted")
	}
}
