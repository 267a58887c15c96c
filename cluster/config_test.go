package cluster

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func validConfig() Config {
	c := DefaultConfig()
	c.NodeID = "n1"
	c.DataDir = "data"
	c.RaftBind = "127.0.0.1:7001"
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string // substring; "" means valid
	}{
		{name: "valid", mod: func(*Config) {}},
		{name: "port zero", mod: func(c *Config) { c.RaftBind = "127.0.0.1:0" }},
		{name: "advertised name", mod: func(c *Config) { c.RaftBind = "0.0.0.0:7001"; c.RaftAdvertise = "carrier-0.carrier:7001" }},
		{name: "no node id", mod: func(c *Config) { c.NodeID = "" }, wantErr: "node id is empty"},
		{name: "no data dir", mod: func(c *Config) { c.DataDir = "" }, wantErr: "data dir is empty"},
		{name: "bad bind", mod: func(c *Config) { c.RaftBind = "nope" }, wantErr: "raft bind address"},
		{name: "unspecified bind", mod: func(c *Config) { c.RaftBind = "0.0.0.0:7001" }, wantErr: "not dialable"},
		{name: "unspecified advertise", mod: func(c *Config) { c.RaftAdvertise = "[::]:7001" }, wantErr: "not dialable"},
		{name: "election below heartbeat", mod: func(c *Config) { c.ElectionTimeout = 100 * time.Millisecond }, wantErr: "election timeout"},
		{name: "lease above heartbeat", mod: func(c *Config) { c.LeaderLeaseTimeout = time.Second }, wantErr: "exceeds heartbeat"},
		{name: "no snapshot threshold", mod: func(c *Config) { c.SnapshotThreshold = 0 }, wantErr: "snapshot threshold"},
		{name: "no batch", mod: func(c *Config) { c.MaxBatchCommands = 0 }, wantErr: "max batch commands"},
		{name: "no batch bytes", mod: func(c *Config) { c.MaxBatchBytes = -1 }, wantErr: "max batch bytes"},
		{name: "no inflight", mod: func(c *Config) { c.MaxInflightEntries = 0 }, wantErr: "max inflight"},
		{name: "append entries", mod: func(c *Config) { c.MaxAppendEntries = 2000 }, wantErr: "max append entries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Config{}.Validate()
	if err == nil {
		t.Fatal("zero Config is valid")
	}
	for _, want := range []string{"node id", "data dir", "raft bind", "heartbeat", "max batch commands"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v: nothing about %s", err, want)
		}
	}
}

func TestRaftConfigIsValidForRaft(t *testing.T) {
	rc := validConfig().raftConfig(make(chan bool, 1), slog.Default())
	if err := raft.ValidateConfig(rc); err != nil {
		t.Fatalf("raft rejects the default config: %v", err)
	}
	if !rc.BatchApplyCh || rc.MaxAppendEntries != 32 || string(rc.LocalID) != "n1" {
		t.Errorf("raft config = %+v", rc)
	}
}
