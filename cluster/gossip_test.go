package cluster

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestJoinByNameRetriesUntilJoined starts a node whose join address is a
// DNS name with nobody behind it yet; it keeps resolving and retrying, and
// joins once a single-node cluster starts there, which adds it.
func TestJoinByNameRetriesUntilJoined(t *testing.T) {
	c := newTestCluster(t)
	port := strconv.Itoa(freePort(t))
	c.start(c.memberConfig("n2", t.TempDir(), 0, "localhost:"+port))
	waitFor(t, "a failed join attempt", func() error {
		if !strings.Contains(c.logs["n2"].String(), "join failed; retrying") {
			return errors.New("not yet")
		}
		return nil
	})
	first := c.memberConfig("n1", t.TempDir(), 0)
	first.GossipBind, first.Bootstrap = "127.0.0.1:"+port, true
	c.start(first)
	c.waitVoters("n1", "n2")
}

func TestGossipKey(t *testing.T) {
	c := newTestCluster(t)
	key := bytes.Repeat([]byte{7}, 32)
	first := c.memberConfig("n1", t.TempDir(), 0)
	first.Bootstrap, first.GossipKey = true, key
	c.start(first)
	same := c.memberConfig("n2", t.TempDir(), 0, c.nodes["n1"].GossipAddress())
	same.GossipKey = key
	c.start(same)
	c.waitVoters("n1", "n2")

	other := c.memberConfig("n3", t.TempDir(), 0, c.nodes["n1"].GossipAddress())
	other.GossipKey = bytes.Repeat([]byte{8}, 32)
	c.start(other)
	waitFor(t, "n3 refused by the cluster's key", func() error {
		if !strings.Contains(c.logs["n3"].String(), "join failed; retrying") {
			return errors.New("not yet")
		}
		return nil
	})
	if got := c.raftMembers(c.leader()); len(got) != 2 {
		t.Errorf("configuration = %v, want n1 and n2 only", got)
	}
}

func TestValidateMembership(t *testing.T) {
	base := DefaultConfig()
	base.NodeID, base.DataDir, base.RaftBind = "n1", "d", "127.0.0.1:0"
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"join without gossip", func(c *Config) { c.Join = []string{"a:1"} }, "needs a gossip bind address"},
		{"bad key", func(c *Config) { c.GossipBind, c.GossipKey = "127.0.0.1:0", []byte("short") }, "gossip key is 5 bytes"},
		{"bootstrap and expect", func(c *Config) { c.GossipBind, c.Bootstrap, c.BootstrapExpect = "127.0.0.1:0", true, 3 }, "exclude each other"},
		{"unspecified advertise", func(c *Config) { c.GossipBind, c.GossipAdvertise = "0.0.0.0:7422", "0.0.0.0:7422" }, "not dialable"},
		{"fine", func(c *Config) { c.GossipBind, c.BootstrapExpect = "0.0.0.0:7422", 3 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.edit(&cfg)
			err := cfg.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}
