//go:build linux

package nemesis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Link is one direction of traffic to drop: every IPv4 packet whose source
// is From and destination is To (the nodes' loopback addresses).
type Link struct{ From, To string }

// Partition drops the packets of its links with iptables. Its rules live in
// a chain of their own, CARRIER-TEST-<random>, jumped to from INPUT for
// packets arriving on lo; every rule names both addresses, so no other
// traffic is touched. Only INPUT: a DROP in OUTPUT makes the sender's
// sendto fail with EPERM, which no real network does (loopback packets all
// pass INPUT, so one hook sees them all). Heal deletes the jump and the
// chain. Not safe for concurrent use.
type Partition struct {
	Name  string // for String, e.g. "isolate 127.1.2.3"
	Links []Link
	chain string
}

// Isolate cuts node off from every one of others, both ways.
func Isolate(node string, others []string) *Partition {
	return &Partition{Name: "isolate " + node, Links: cross([]string{node}, others)}
}

// Split cuts every address of a off from every address of b, both ways
// (majority/minority halves: Split(majority, minority)).
func Split(a, b []string) *Partition {
	return &Partition{Name: fmt.Sprintf("split %v | %v", a, b), Links: cross(a, b)}
}

// Bridge cuts a off from b both ways while bridge still reaches both.
func Bridge(a, b []string, bridge string) *Partition {
	p := Split(a, b)
	p.Name = fmt.Sprintf("bridge %v <%s> %v", a, bridge, b)
	return p
}

// OneWay drops packets from every address of from to every address of to;
// packets the other way pass. (For TCP this still breaks connections in both
// directions, since replies are dropped; UDP gossip sees a true one-way cut.)
func OneWay(from, to []string) *Partition {
	var links []Link
	for _, f := range from {
		for _, t := range to {
			links = append(links, Link{From: f, To: t})
		}
	}
	return &Partition{Name: fmt.Sprintf("one-way %v -> %v", from, to), Links: links}
}

func cross(a, b []string) []Link {
	var links []Link
	for _, x := range a {
		for _, y := range b {
			links = append(links, Link{From: x, To: y}, Link{From: y, To: x})
		}
	}
	return links
}

func (p *Partition) String() string { return "partition " + p.Name }

// Chain is the iptables chain of the running partition ("" when healed).
func (p *Partition) Chain() string { return p.chain }

// Start installs the chain and its jumps. On error it heals what it added.
func (p *Partition) Start(ctx context.Context) error {
	if p.chain != "" {
		return errors.New("partition already started")
	}
	if err := p.validate(); err != nil {
		return err
	}
	p.chain = newChainName()
	if err := p.install(ctx); err != nil {
		return errors.Join(err, p.Heal(ctx))
	}
	return nil
}

func (p *Partition) validate() error {
	for _, l := range p.Links {
		for _, s := range []string{l.From, l.To} {
			a, err := netip.ParseAddr(s)
			if err != nil || !a.Is4() || !a.IsLoopback() {
				return fmt.Errorf("partition: %q is not an IPv4 loopback address", s)
			}
		}
	}
	return nil
}

func (p *Partition) install(ctx context.Context) error {
	if err := iptables(ctx, "-N", p.chain); err != nil {
		return err
	}
	for _, l := range p.Links {
		if err := iptables(ctx, "-A", p.chain, "-s", l.From+"/32", "-d", l.To+"/32", "-j", "DROP"); err != nil {
			return err
		}
	}
	return iptables(ctx, "-I", "INPUT", "-i", "lo", "-j", p.chain)
}

// Heal removes the jumps and the chain; a no-op when not started.
func (p *Partition) Heal(ctx context.Context) error {
	if p.chain == "" {
		return nil
	}
	var errs []error
	for ctx.Err() == nil && iptables(ctx, "-C", "INPUT", "-i", "lo", "-j", p.chain) == nil {
		errs = append(errs, iptables(ctx, "-D", "INPUT", "-i", "lo", "-j", p.chain))
	}
	if chainExists(ctx, p.chain) {
		errs = append(errs, iptables(ctx, "-F", p.chain), iptables(ctx, "-X", p.chain))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("heal %s: %w", p, err)
	}
	p.chain = ""
	return nil
}

func chainExists(ctx context.Context, chain string) bool {
	return iptables(ctx, "-L", chain, "-n") == nil
}

// iptables runs iptables waiting for the xtables lock (other tests may hold it).
func iptables(ctx context.Context, args ...string) error {
	return run(ctx, "iptables", append([]string{"-w", "5"}, args...)...)
}

const chainPrefix = "CARRIER-TEST-"

func newChainName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return chainPrefix + strings.ToUpper(hex.EncodeToString(b))
}
