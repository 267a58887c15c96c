//go:build linux

package nemesis

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Netem delays and drops packets sent to some loopback addresses with tc
// netem on lo. lo is shared by everything on the machine, so the netem qdisc
// hangs under band 4 of a prio qdisc and only packets whose destination is
// one of Dsts are steered into it (u32 filters); bands 1–3 keep the default
// priomap and add nothing. Only one Netem can run per machine at a time:
// Start fails when lo already has a root qdisc of its own. Not safe for
// concurrent use.
type Netem struct {
	Dsts   []string      // IPv4 loopback destinations to slow down
	Delay  time.Duration // added one-way delay
	Jitter time.Duration // optional, with Delay
	Loss   float64       // percent of packets dropped, 0–100
	on     bool
}

const (
	netemDev    = "lo"
	netemRoot   = "7ca1:" // handle of the prio qdisc, recognised by Heal
	netemBand   = "7ca1:4"
	netemHandle = "7ca2:"
)

func (n *Netem) String() string {
	return fmt.Sprintf("netem delay %v jitter %v loss %g%% to %v", n.Delay, n.Jitter, n.Loss, n.Dsts)
}

// Start installs the qdiscs and filters. On error it heals what it added.
func (n *Netem) Start(ctx context.Context) error {
	if n.on {
		return errors.New("netem already started")
	}
	if err := n.validate(); err != nil {
		return err
	}
	// "add" (not "replace") fails if someone else's root qdisc is there.
	err := tc(ctx, "qdisc", "add", "dev", netemDev, "root", "handle", netemRoot, "prio",
		"bands", "4", "priomap", "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1")
	if err != nil {
		return fmt.Errorf("netem: %w", classifyTC(err))
	}
	n.on = true
	if err := n.install(ctx); err != nil {
		return errors.Join(err, n.Heal(ctx))
	}
	return nil
}

func (n *Netem) validate() error {
	if len(n.Dsts) == 0 || (n.Delay <= 0 && n.Loss <= 0) {
		return errors.New("netem: needs destinations and a delay or a loss")
	}
	for _, s := range n.Dsts {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() || !a.IsLoopback() {
			return fmt.Errorf("netem: %q is not an IPv4 loopback address", s)
		}
	}
	return nil
}

func (n *Netem) install(ctx context.Context) error {
	args := []string{"qdisc", "add", "dev", netemDev, "parent", netemBand, "handle", netemHandle, "netem"}
	if n.Delay > 0 {
		args = append(args, "delay", usec(n.Delay))
		if n.Jitter > 0 {
			args = append(args, usec(n.Jitter))
		}
	}
	if n.Loss > 0 {
		args = append(args, "loss", strconv.FormatFloat(n.Loss, 'f', -1, 64)+"%")
	}
	if err := tc(ctx, args...); err != nil {
		return classifyTC(err)
	}
	for _, d := range n.Dsts {
		err := tc(ctx, "filter", "add", "dev", netemDev, "parent", netemRoot, "protocol", "ip",
			"prio", "1", "u32", "match", "ip", "dst", d+"/32", "flowid", netemBand)
		if err != nil {
			return err
		}
	}
	return nil
}

func usec(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) + "us" }

// Heal deletes the prio qdisc (and with it the netem qdisc and filters) if
// it is still ours; a no-op when not started.
func (n *Netem) Heal(ctx context.Context) error {
	if !n.on {
		return nil
	}
	ours, err := netemInstalled(ctx)
	if err != nil {
		return err
	}
	if ours {
		if err := tc(ctx, "qdisc", "del", "dev", netemDev, "root", "handle", netemRoot); err != nil {
			return fmt.Errorf("heal %s: %w", n, err)
		}
	}
	n.on = false
	return nil
}

// netemInstalled reports whether lo's root qdisc is the prio qdisc of a Netem.
func netemInstalled(ctx context.Context) (bool, error) {
	out, err := output(ctx, "tc", "qdisc", "show", "dev", netemDev)
	if err != nil {
		return false, err
	}
	return strings.Contains(out, "qdisc prio "+netemRoot+" root"), nil
}

func tc(ctx context.Context, args ...string) error { return run(ctx, "tc", args...) }

// classifyTC marks a kernel without the qdisc (sch_prio, sch_netem not built
// or not loadable) as ErrUnsupported; other errors (lo already has a root
// qdisc of someone else's) stay failures.
func classifyTC(err error) error {
	if strings.Contains(err.Error(), "qdisc kind is unknown") {
		return fmt.Errorf("%w: kernel lacks the prio or netem qdisc: %w", ErrUnsupported, err)
	}
	return err
}
