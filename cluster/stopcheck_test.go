package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
)

func TestStopCheckRule(t *testing.T) {
	conf := func(voters ...string) raft.Configuration {
		var c raft.Configuration
		for _, id := range voters {
			c.Servers = append(c.Servers, raft.Server{ID: raft.ServerID(id), Suffrage: raft.Voter})
		}
		c.Servers = append(c.Servers, raft.Server{ID: "learner", Suffrage: raft.Nonvoter})
		return c
	}
	upExcept := func(down ...string) func(string) bool {
		return func(id string) bool { return !slices.Contains(down, id) }
	}
	for _, tt := range []struct {
		name     string
		conf     raft.Configuration
		member   string
		caughtUp func(string) bool
		safe     bool
	}{
		{"three healthy, a follower", conf("a", "b", "c"), "b", upExcept(), true},
		{"three healthy, the leader", conf("a", "b", "c"), "a", upExcept(), true},
		{"three, another lags", conf("a", "b", "c"), "b", upExcept("c"), false},
		{"three, the member itself lags", conf("a", "b", "c"), "c", upExcept("c"), true},
		{"five, one other lags", conf("a", "b", "c", "d", "e"), "b", upExcept("e"), true},
		{"five, two others lag", conf("a", "b", "c", "d", "e"), "b", upExcept("d", "e"), false},
		{"single voter", conf("a"), "a", upExcept(), false},
		{"a nonvoter", conf("a", "b", "c"), "learner", upExcept("b", "c"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := stopCheck(tt.conf, tt.member, "a", tt.caughtUp)
			if c.Safe != tt.safe {
				t.Errorf("safe = %v, want %v (%+v)", c.Safe, tt.safe, c)
			}
			if c.Leader != (tt.member == "a") || c.Quorum != c.Voters/2+1 || len(c.CaughtUp)+len(c.Lagging) != c.Voters {
				t.Errorf("check = %+v", c)
			}
		})
	}
}

// TestSafeToStopAndTransfer: on a live three-node cluster, stopping any
// member is safe while all are caught up; with one member closed, stopping
// another is refused; leadership moves to the named voter on request.
func TestSafeToStopAndTransfer(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	lead := c.leader()
	waitFor(t, "every voter caught up", func() error {
		for id := range c.nodes {
			if chk, err := lead.SafeToStop(id); err != nil || !chk.Safe || len(chk.CaughtUp) != 3 {
				return fmt.Errorf("%s: %+v, %v", id, chk, err)
			}
		}
		return nil
	})
	if _, err := lead.SafeToStop("nobody"); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("SafeToStop(nobody) = %v, want ErrUnknownMember", err)
	}

	var target, other string
	for id := range c.nodes {
		if id == lead.ID() {
			continue
		}
		if target == "" {
			target = id
		} else {
			other = id
		}
	}
	if _, err := c.nodes[target].SafeToStop(lead.ID()); !errors.Is(err, ErrNotLeader) {
		t.Errorf("SafeToStop on a follower = %v, want ErrNotLeader", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := lead.TransferLeadershipTo(ctx, "nobody"); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("transfer to nobody = %v, want ErrUnknownMember", err)
	}
	if err := lead.TransferLeadershipTo(ctx, target); err != nil {
		t.Fatalf("transfer to %s: %v", target, err)
	}
	if got := c.leader(); got.ID() != target {
		t.Fatalf("leader after the transfer is %s, want %s", got.ID(), target)
	}

	c.stop(other)
	newLead := c.nodes[target]
	waitFor(t, "the stopped member counted as lagging", func() error {
		chk, err := newLead.SafeToStop(lead.ID())
		if err != nil {
			return err
		}
		if chk.Safe || !slices.Contains(chk.Lagging, other) {
			return fmt.Errorf("%+v", chk)
		}
		return nil
	})

	// The hand-over on stop picks the voter that is alive and caught up,
	// never the stopped one (raft alone might).
	if err := newLead.TransferLeadership(ctx); err != nil {
		t.Fatalf("hand-over: %v", err)
	}
	if got := c.leader(); got.ID() != lead.ID() {
		t.Fatalf("leader after the hand-over is %s, want %s", got.ID(), lead.ID())
	}
}
