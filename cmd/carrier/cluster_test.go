package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/test/testlog"
)

// servedNode is one "carrier serve" run in this process.
type servedNode struct {
	id, api string
	out     *testlog.Buffer
	errOut  *testlog.Buffer
	stop    context.CancelFunc
	served  chan error
}

// startServe runs "carrier serve" with args on its own goroutine; the test's
// cleanup stops it (as SIGTERM does) and waits for it.
func startServe(t *testing.T, id, api string, args ...string) *servedNode {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	n := &servedNode{id: id, api: api, out: &testlog.Buffer{}, errOut: &testlog.Buffer{}, stop: stop, served: make(chan error, 1)}
	a := &app{stdin: strings.NewReader(""), stdout: n.out, stderr: n.errOut, getenv: func(string) (string, bool) { return "", false }}
	all := append([]string{"serve", "--node-id", id, "--data", filepath.Join(t.TempDir(), id), "--listen", api}, args...)
	go func() { n.served <- a.run(ctx, all) }()
	t.Cleanup(func() {
		stop()
		if err := <-n.served; err != nil {
			t.Errorf("serve %s stopped with %v", id, err)
		}
		if t.Failed() {
			t.Logf("----- %s -----\n%s", id, n.errOut.String())
		}
	})
	return n
}

// clusterStatus runs "carrier cluster status --json" against server.
func clusterStatus(t *testing.T, server string) (protocol.ClusterStatus, error) {
	o, e, err := runCLI(context.Background(), nil, "", "cluster", "status", "--json", "--server", server, "--timeout", "5s")
	var st protocol.ClusterStatus
	if err != nil {
		return st, fmt.Errorf("cluster status: %w: %s", err, e)
	}
	if err := json.Unmarshal([]byte(o), &st); err != nil {
		return st, fmt.Errorf("decode %q: %w", o, err)
	}
	return st, nil
}

// suffrages maps member id to suffrage as server sees them.
func suffrages(st protocol.ClusterStatus) map[string]string {
	out := map[string]string{}
	for _, m := range st.Members {
		out[m.ID] = m.Suffrage
	}
	return out
}

// waitSuffrages polls server's status until the members have the wanted suffrages.
func waitSuffrages(t *testing.T, server string, want map[string]string) protocol.ClusterStatus {
	t.Helper()
	var st protocol.ClusterStatus
	var last error
	err := pollUntil(30*time.Second, func() bool {
		st, last = clusterStatus(t, server)
		got := suffrages(st)
		if last != nil || got[st.Leader] != "Voter" || len(got) != len(want) {
			return false
		}
		for id, s := range want {
			if got[id] != s {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("members %v never became %v (last error %v)", suffrages(st), want, last)
	}
	return st
}

// TestServeClusterInProcess starts three servers at once with
// --bootstrap-expect 3 and --join, checks "carrier cluster status", makes
// one leave, removes another through a follower (forwarded to the leader),
// and checks that the last voter cannot be removed.
func TestServeClusterInProcess(t *testing.T) {
	ids := []string{"n1", "n2", "n3"}
	addrs := map[string][3]string{} // api, raft, gossip
	for i, id := range ids {
		addrs[id] = nodeAddrs(t, i)
	}
	nodes := map[string]*servedNode{}
	for _, id := range ids {
		var join []string
		for _, other := range ids {
			if other != id {
				join = append(join, addrs[other][2])
			}
		}
		nodes[id] = startServe(t, id, addrs[id][0], "--raft-bind", addrs[id][1], "--gossip-bind", addrs[id][2],
			"--join", strings.Join(join, ","), "--bootstrap-expect", "3", "--log-level", "debug")
	}
	st := waitSuffrages(t, nodes["n2"].api, map[string]string{"n1": "Voter", "n2": "Voter", "n3": "Voter"})
	for _, m := range st.Members {
		if m.Gossip != "alive" || m.APIAddress != "http://"+nodes[m.ID].api {
			t.Errorf("member %+v: want gossip alive and API address http://%s", m, nodes[m.ID].api)
		}
	}
	checkStatusTable(t, nodes["n1"].api)

	if o, e, err := runCLI(context.Background(), nil, "", "cluster", "leave", "--server", nodes["n3"].api); err != nil || !strings.Contains(o, "n3: left") {
		t.Fatalf("cluster leave: %v\n%s%s", err, o, e)
	}
	st = waitSuffrages(t, nodes["n1"].api, map[string]string{"n1": "Voter", "n2": "Voter", "n3": "None"})
	follower := "n1"
	if st.Leader == "n1" {
		follower = "n2"
	}
	other := map[string]string{"n1": "n2", "n2": "n1"}[follower]
	if o, e, err := runCLI(context.Background(), nil, "", "cluster", "remove", other, "--server", nodes[follower].api); err != nil {
		t.Fatalf("cluster remove %s via follower %s: %v\n%s%s", other, follower, err, o, e)
	}
	waitSuffrages(t, nodes[follower].api, map[string]string{follower: "Voter", other: "None", "n3": "None"})
	if err := pollUntil(30*time.Second, func() bool {
		st, err := clusterStatus(t, nodes[follower].api)
		return err == nil && st.Leader == follower
	}); err != nil {
		t.Fatalf("%s, the last voter, never led: %v", follower, err)
	}
	_, e, err := runCLI(context.Background(), nil, "", "cluster", "remove", follower, "--server", nodes[follower].api)
	if err == nil || !strings.Contains(err.Error()+e, "bad_request") || !strings.Contains(err.Error()+e, "last voter") {
		t.Errorf("removing the last voter: err %v, stderr %q; want a bad_request refusal", err, e)
	}
}

// loopbackBlock is a random 127.A.B. prefix for this test run: each node
// gets its own loopback IP with the default ports, as in production, and
// no other test's free-port picks can collide with them.
var loopbackBlock = fmt.Sprintf("127.%d.%d.", 1+rand.IntN(250), 1+rand.IntN(250))

// nodeAddrs returns the API, Raft and gossip addresses of node i: the
// default ports on 127.A.B.(i+2), or free ports on 127.0.0.1 when that IP
// cannot be bound.
func nodeAddrs(t *testing.T, i int) [3]string {
	ip := loopbackBlock + strconv.Itoa(i+2)
	if ln, err := net.Listen("tcp", net.JoinHostPort(ip, "7420")); err == nil {
		ln.Close()
		return [3]string{ip + ":7420", ip + ":7421", ip + ":7422"}
	}
	return [3]string{freeAddr(t), freeAddr(t), freeAddr(t)}
}

// checkStatusTable checks the human form of "carrier cluster status".
func checkStatusTable(t *testing.T, server string) {
	t.Helper()
	o, e, err := runCLI(context.Background(), nil, "", "cluster", "status", "--server", server)
	if err != nil {
		t.Fatalf("cluster status: %v\n%s", err, e)
	}
	for _, want := range []string{"ID", "SUFFRAGE", "APPLIED/COMMIT", "n1", "n2", "n3", "Voter", "alive"} {
		if !strings.Contains(o, want) {
			t.Errorf("cluster status output lacks %q:\n%s", want, o)
		}
	}
}

// startThree starts n1, n2 and n3 (addresses from nodeAddrs(first+i)), each
// joining the ones before it, and waits until all three are voters.
func startThree(t *testing.T, first int) (map[string]*servedNode, protocol.ClusterStatus) {
	t.Helper()
	nodes := map[string]*servedNode{}
	var gossip []string
	for i, id := range []string{"n1", "n2", "n3"} {
		a := nodeAddrs(t, first+i)
		nodes[id] = startServe(t, id, a[0], "--raft-bind", a[1], "--gossip-bind", a[2],
			"--join", strings.Join(gossip, ","), "--bootstrap-expect", "3", "--log-level", "debug")
		gossip = append(gossip, a[2])
	}
	st := waitSuffrages(t, nodes["n1"].api, map[string]string{"n1": "Voter", "n2": "Voter", "n3": "Voter"})
	return nodes, st
}

// stopNow stops the node (as SIGTERM does) and waits until serve returned.
func (n *servedNode) stopNow(t *testing.T) {
	t.Helper()
	n.stop()
	if err := <-n.served; err != nil {
		t.Fatalf("serve %s stopped with %v", n.id, err)
	}
	n.served <- nil // for the cleanup
}

// TestServeStopTransfersLeadership stops the leader's serve (as SIGTERM
// does) once the others are caught up (the hand-over picks only such a
// voter): leadership moves to another node by transfer, and the stopped
// node stays a voter.
func TestServeStopTransfersLeadership(t *testing.T) {
	nodes, st := startThree(t, 3)
	old := st.Leader
	other := map[string]string{"n1": "n2", "n2": "n3", "n3": "n1"}[old]
	var unsafe error
	if err := pollUntil(30*time.Second, func() bool {
		_, _, unsafe = runCLI(context.Background(), nil, "", "cluster", "safe-to-stop", old, "--server", nodes[other].api)
		return unsafe == nil
	}); err != nil {
		t.Fatalf("the other voters never caught up: %v", unsafe)
	}
	nodes[old].stopNow(t)
	if !strings.Contains(nodes[old].errOut.String(), "leadership transferred") {
		t.Errorf("%s did not log a leadership transfer", old)
	}
	var last protocol.ClusterStatus
	err := pollUntil(30*time.Second, func() bool {
		st, err := clusterStatus(t, nodes[other].api)
		last = st
		return err == nil && st.Leader != "" && st.Leader != old && suffrages(st)[old] == "Voter"
	})
	if err != nil {
		t.Fatalf("after stopping leader %s: status %+v, want another leader and %s still a voter", old, last, old)
	}
}

func TestGossipKeySources(t *testing.T) {
	key := bytes.Repeat([]byte{5}, 16)
	b64 := base64.StdEncoding.EncodeToString(key)
	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte(b64+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, env string
		want            []byte
		wantErr         string
	}{
		{"none", "", "", nil, ""},
		{"file", file, "", key, ""},
		{"env", "", b64, key, ""},
		{"file wins over env", file, "AAAA", key, ""},
		{"not base64", "", "not base64!", nil, "not base64"},
		{"missing file", filepath.Join(t.TempDir(), "nope"), "", nil, "read gossip key"},
	}
	for _, tt := range tests {
		a := &app{getenv: func(k string) (string, bool) { return tt.env, k == "CARRIER_GOSSIP_KEY" && tt.env != "" }}
		got, err := gossipKey(a, tt.file)
		if !bytes.Equal(got, tt.want) || (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: gossipKey = %x, %v; want %x, %q", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestServeClusterTransferAndSafeToStop: on three in-process servers, a
// follower forwards safe-to-stop and transfer to the leader. Every member
// is safe to stop while all are caught up, an unknown one is not_found;
// leadership moves to the named node, an unknown target is not_found; with
// one node stopped, stopping another is not safe (exit 4).
func TestServeClusterTransferAndSafeToStop(t *testing.T) {
	nodes, st := startThree(t, 6)
	ids := []string{"n1", "n2", "n3"}
	old := st.Leader
	follower := map[string]string{"n1": "n2", "n2": "n3", "n3": "n1"}[old]
	target := map[string]string{"n1": "n2", "n2": "n3", "n3": "n1"}[follower]
	via := func(server string, args ...string) (string, error) {
		o, e, err := runCLI(context.Background(), nil, "", append(args, "--server", nodes[server].api)...)
		if err != nil && e != "" {
			err = fmt.Errorf("%w (stderr %s)", err, e)
		}
		return o, err
	}
	for _, id := range ids {
		var last error
		if err := pollUntil(30*time.Second, func() bool { _, last = via(follower, "cluster", "safe-to-stop", id); return last == nil }); err != nil {
			t.Fatalf("safe-to-stop %s through follower %s never said safe: %v", id, follower, last)
		}
	}
	if _, err := via(follower, "cluster", "safe-to-stop", "nobody"); client.CodeOf(err) != protocol.CodeNotFound {
		t.Errorf("safe-to-stop nobody through a follower: %v, want %s", err, protocol.CodeNotFound)
	}
	if _, err := via(follower, "cluster", "transfer", "--to", "nobody"); client.CodeOf(err) != protocol.CodeNotFound {
		t.Errorf("transfer to nobody through a follower: %v, want %s", err, protocol.CodeNotFound)
	}

	o, err := via(follower, "cluster", "transfer", "--to", target, "--json")
	var tr protocol.LeaderTransfer
	if err != nil || json.Unmarshal([]byte(o), &tr) != nil || tr.Leader != target || tr.Previous != old {
		t.Fatalf("transfer to %s through follower %s: %v, %q; want leader %s, previous %s", target, follower, err, o, target, old)
	}
	o, err = via(follower, "cluster", "safe-to-stop", target, "--json")
	var chk protocol.StopCheck
	if err != nil || json.Unmarshal([]byte(o), &chk) != nil || !chk.Safe || !chk.Leader || !strings.Contains(chk.Reason, "transfer leadership first") {
		t.Errorf("safe-to-stop of the new leader %s: %v, %q; want safe, leading, told to transfer first", target, err, o)
	}

	nodes[old].stopNow(t)
	err = pollUntil(30*time.Second, func() bool {
		o, err = via(target, "cluster", "safe-to-stop", follower, "--json")
		return exitCode(err) == exitNotSafe
	})
	if err != nil || json.Unmarshal([]byte(o), &chk) != nil || chk.Safe || !slices.Contains(chk.Lagging, old) {
		t.Fatalf("safe-to-stop %s with %s stopped: %q, %v; want not safe, %s lagging", follower, old, o, err, old)
	}
}
