//go:build linux

package nemesis

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// blockedDial is how long a dial into a partition is given before it counts
// as dropped; a dropped SYN never gets an answer, so any bound works.
const blockedDial = 300 * time.Millisecond

func TestIsolateDropsTCPBothWaysAndHeals(t *testing.T) {
	requireTools(t, "iptables")
	ctx := ctxT(t)
	ips := aliases(3) // a, b partitioned; c outside
	a, b, c := ips[0], ips[1], ips[2]
	srvB, srvA := echoServer(t, b), echoServer(t, a)
	mustDial(t, a, srvB)

	p := Isolate(a, []string{b})
	t.Cleanup(func() { _ = p.Heal(ctx) })
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	assertTimesOut(t, a, srvB)
	assertTimesOut(t, b, srvA)
	mustDial(t, c, srvB) // other addresses are untouched

	chain := p.Chain()
	if err := p.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	mustDial(t, a, srvB)
	mustDial(t, b, srvA)
	if rules := iptablesRules(t); strings.Contains(rules, chain) {
		t.Fatalf("chain %s still present after Heal:\n%s", chain, rules)
	}
}

func TestSplitAndBridge(t *testing.T) {
	requireTools(t, "iptables")
	ctx := ctxT(t)
	ips := aliases(5)
	maj, min, bridge := ips[0:2], ips[2:4], ips[4]
	srv := map[string]string{}
	for _, ip := range ips {
		srv[ip] = echoServer(t, ip)
	}
	p := Bridge(maj, min, bridge)
	t.Cleanup(func() { _ = p.Heal(ctx) })
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	assertTimesOut(t, maj[0], srv[min[1]])
	assertTimesOut(t, min[0], srv[maj[1]])
	mustDial(t, maj[0], srv[maj[1]]) // inside a half
	mustDial(t, min[1], srv[min[0]])
	mustDial(t, bridge, srv[maj[0]]) // the bridge reaches both halves
	mustDial(t, bridge, srv[min[0]])
	mustDial(t, min[0], srv[bridge])
	if err := p.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	mustDial(t, maj[0], srv[min[1]])
}

// TestOneWayDropsOnlyOneDirection uses UDP, where a direction is a packet:
// a→b is dropped, b→a arrives. The check needs no timeout: after the dropped
// packet, c sends a marker to b; loopback delivers in order, so if the
// marker arrives first the earlier packet was dropped.
func TestOneWayDropsOnlyOneDirection(t *testing.T) {
	requireTools(t, "iptables")
	ctx := ctxT(t)
	ips := aliases(3)
	a, b, c := ips[0], ips[1], ips[2]
	pa, pb, pc := udpOn(t, a), udpOn(t, b), udpOn(t, c)
	p := OneWay([]string{a}, []string{b})
	t.Cleanup(func() { _ = p.Heal(ctx) })
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	send(t, pa, pb, "from-a")
	send(t, pc, pb, "marker")
	if got := recv(t, pb); got != "marker" {
		t.Fatalf("b received %q first, want the a→b packet dropped", got)
	}
	send(t, pb, pa, "from-b")
	if got := recv(t, pa); got != "from-b" {
		t.Fatalf("a received %q, want from-b", got)
	}
	if err := p.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	send(t, pa, pb, "healed")
	if got := recv(t, pb); got != "healed" {
		t.Fatalf("b received %q after Heal, want healed", got)
	}
}

func TestPartitionRejectsNonLoopback(t *testing.T) {
	p := Isolate("10.0.0.1", []string{"127.0.0.1"})
	if err := p.Start(t.Context()); err == nil || p.Chain() != "" {
		t.Fatalf("Start with a non-loopback address: err %v chain %q", err, p.Chain())
	}
}

func mustDial(t *testing.T, src, addr string) {
	t.Helper()
	c, err := dialFrom(src, addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{'x'}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil || b[0] != 'x' {
		t.Fatalf("echo via %s from %s: %q %v", addr, src, b, err)
	}
}

func assertTimesOut(t *testing.T, src, addr string) {
	t.Helper()
	c, err := dialFrom(src, addr, blockedDial)
	if err == nil {
		c.Close()
		t.Fatalf("dial %s from %s succeeded inside a partition", addr, src)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("dial %s from %s: %v, want a timeout (dropped, not refused)", addr, src, err)
	}
}

func iptablesRules(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables", "-w", "5", "-S").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func udpOn(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, from, to *net.UDPConn, msg string) {
	t.Helper()
	if _, err := from.WriteToUDP([]byte(msg), to.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
}

func recv(t *testing.T, c *net.UDPConn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64)
	n, _, err := c.ReadFromUDP(b)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("no packet within 10s")
		}
		t.Fatal(err)
	}
	return string(b[:n])
}
