//go:build linux

package nemesis

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestNetemDelaysOnlyTheTargetAddress checks a property, not a timing
// threshold: with a 40 ms delay on packets to b, no TCP round trip to b can
// be shorter than 40 ms. After Heal the prio qdisc is gone from lo.
func TestNetemDelaysOnlyTheTargetAddress(t *testing.T) {
	requireTools(t, "tc")
	ctx := ctxT(t)
	ips := aliases(2)
	a, b := ips[0], ips[1]
	srv := echoServer(t, b)
	n := &Netem{Dsts: []string{b}, Delay: 40 * time.Millisecond}
	t.Cleanup(func() { _ = n.Heal(ctx) })
	if err := n.Start(ctx); errors.Is(err, ErrUnsupported) {
		t.Skipf("SKIP %s: %v", t.Name(), err)
	} else if err != nil {
		t.Fatal(err)
	}
	if on, err := netemInstalled(ctx); err != nil || !on {
		t.Fatalf("netem qdisc not on lo after Start: %v %v", on, err)
	}
	c, err := dialFrom(a, srv, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 5 {
		if rtt := roundTrip(t, c); rtt < n.Delay {
			t.Fatalf("round trip %d to %s took %v, less than the configured delay %v", i, b, rtt, n.Delay)
		}
	}
	if err := n.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if on, err := netemInstalled(ctx); err != nil || on {
		t.Fatalf("netem qdisc still on lo after Heal: %v %v", on, err)
	}
	roundTrip(t, c) // the connection survives the fault
}

func roundTrip(t *testing.T, c net.Conn) time.Duration {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b := []byte{'p'}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(b); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

func TestNetemValidates(t *testing.T) {
	for _, n := range []*Netem{
		{Dsts: []string{"127.0.0.9"}},
		{Dsts: []string{"192.168.1.1"}, Delay: time.Millisecond},
		{Delay: time.Millisecond},
	} {
		if err := n.validate(); err == nil {
			t.Errorf("%v: validate accepted it", n)
		}
	}
}
