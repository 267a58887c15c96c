package clustertest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/test/testpki"
)

// startTLSCluster starts 3 nodes with TLS on their client listeners and
// mutual TLS between them, certificates made by the test.
func startTLSCluster(t *testing.T) *Cluster {
	t.Helper()
	pki, err := NewTLS(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	return startClusterWith(t, Options{Size: 3, TLS: pki})
}

// TestTLSClusterRotatesCertificates: a cluster with TLS everywhere serves
// clients over wss and https (producers and a group through every node,
// admin calls forwarded from a follower to the leader), and every node's
// certificate is rotated, one node at a time, under that load: each node
// presents the new certificate on its Raft port and its client listener
// without a restart, and the checker finds nothing lost.
func TestTLSClusterRotatesCertificates(t *testing.T) {
	c := startTLSCluster(t)
	l := startLoad(t, c, "tls-rotate")
	l.waitConfirmed(t, 50, 30*time.Second)
	checkForwardedAdmin(t, c)
	for _, n := range c.Nodes() {
		serial, err := c.RotateCert(n)
		if err != nil {
			t.Fatal(err)
		}
		waitSerial(t, n.ID+" raft port", serial, func(ctx context.Context) (*big.Int, error) { return c.PeerCertSerial(ctx, n) })
		waitSerial(t, n.ID+" client listener", serial, func(ctx context.Context) (*big.Int, error) { return apiCertSerial(ctx, c, n) })
		l.waitConfirmed(t, 20, 30*time.Second)
	}
	checkForwardedAdmin(t, c)
	l.verify(t, c)
}

// checkForwardedAdmin asks a follower a leader-only question over https:
// the follower passes it to the leader's API, over TLS too.
func checkForwardedAdmin(t *testing.T, c *Cluster) {
	t.Helper()
	ctx := timeout(t, 30*time.Second)
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes() {
		if n == leader {
			continue
		}
		chk, err := n.Admin().SafeToStop(ctx, n.ID)
		if err != nil {
			t.Fatalf("safe-to-stop through follower %s (forwarded to the leader over TLS): %v", n.ID, err)
		}
		if chk.Member != n.ID {
			t.Fatalf("safe-to-stop answered for %q, want %q", chk.Member, n.ID)
		}
		return
	}
}

// waitSerial polls get until it returns want.
func waitSerial(t *testing.T, what string, want *big.Int, get func(context.Context) (*big.Int, error)) {
	t.Helper()
	ctx := timeout(t, 30*time.Second)
	err := Poll(ctx, 100*time.Millisecond, func() error {
		got, err := get(ctx)
		if err != nil {
			return err
		}
		if got.Cmp(want) != 0 {
			return fmt.Errorf("serial %s, want %s", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s does not present the rotated certificate: %v", what, err)
	}
}

// apiCertSerial is the serial of the certificate n's client listener presents.
func apiCertSerial(ctx context.Context, c *Cluster, n *Node) (*big.Int, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: c.ClientTLS().Clone()}
	d.Config.ServerName = n.Addrs.IP
	nc, err := d.DialContext(ctx, "tcp", n.Addrs.API)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	return nc.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// TestTLSStrangersStayOut: with peer TLS on, a node that has the gossip key
// (so gossip cannot keep it out) but no certificate of the cluster's CA —
// none at all, or one of another CA that trusts the cluster's — is seen in
// gossip and added as a nonvoter by the leader, and then gets nothing: it is
// never promoted (cannot vote), never learns a leader or an entry (cannot
// read the Raft log), cannot forward a publish, and is never ready; a plain
// connection to a member's Raft port gets no byte back. The cluster keeps
// serving all along, and the checker finds nothing lost.
func TestTLSStrangersStayOut(t *testing.T) {
	c := startTLSCluster(t)
	l := startLoad(t, c, "tls-strangers")
	l.waitConfirmed(t, 50, 30*time.Second)
	pki := c.opts.TLS
	other, err := testpki.NewCA("other-ca")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bad, err := other.Issue(dir, "stranger", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	strangers := map[string][]string{
		"no certificate": {"--gossip-key-file", pki.GossipKeyFile},
		"another CA": {"--gossip-key-file", pki.GossipKeyFile,
			"--peer-tls-ca", pki.CAFile, "--peer-tls-cert", bad.Cert, "--peer-tls-key", bad.Key},
	}
	for what, args := range strangers {
		t.Run(strings.ReplaceAll(what, " ", "-"), func(t *testing.T) {
			s, err := c.Stranger(args...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Kill()
			checkStrangerOut(t, c, s)
			l.waitConfirmed(t, 20, 30*time.Second)
			s.Kill()
			removeGone(t, c, s.ID)
		})
	}
	checkRaftPortSilent(t, c)
	l.verify(t, c)
}

// checkStrangerOut waits until the leader has added s as a nonvoter and
// tried to replicate to it, and checks that s got nothing.
func checkStrangerOut(t *testing.T, c *Cluster, s *Node) {
	t.Helper()
	ctx := timeout(t, 60*time.Second)
	err := Poll(ctx, 100*time.Millisecond, func() error {
		leader, err := c.Leader(ctx)
		if err != nil {
			return err
		}
		st, err := leader.Status(ctx)
		if err != nil {
			return err
		}
		for _, m := range st.Members {
			if m.ID == s.ID && m.Suffrage == "Nonvoter" {
				return refusedInLog(c, s)
			}
		}
		return fmt.Errorf("the leader has not added %s yet", s.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != "" || st.AppliedIndex != 0 {
		t.Fatalf("the stranger knows leader %q, applied %d: it reached the Raft log", st.Leader, st.AppliedIndex)
	}
	if err := s.Admin().Ready(ctx); err == nil {
		t.Fatal("the stranger is ready")
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if ack, err := s.Admin().Publish(pctx, "tls-strangers", client.Message{ID: "from-stranger", Data: []byte(`1`)}); err == nil {
		t.Fatalf("a publish through the stranger was confirmed: %+v", ack)
	}
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lst, err := leader.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range lst.Members {
		if m.ID == s.ID && m.Suffrage != "Nonvoter" {
			t.Fatalf("the stranger is %s", m.Suffrage)
		}
	}
}

// removeGone waits until gossip reports the stopped node id gone (so the
// leader will not add it again) and removes its entry from the configuration.
func removeGone(t *testing.T, c *Cluster, id string) {
	t.Helper()
	ctx := timeout(t, 30*time.Second)
	err := Poll(ctx, 100*time.Millisecond, func() error {
		st, err := c.Nodes()[0].Status(ctx)
		if err != nil {
			return err
		}
		for _, m := range st.Members {
			if m.ID == id && m.Gossip == "alive" {
				return fmt.Errorf("gossip still sees %s alive", id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, c.Nodes()[0], id); err != nil {
		t.Fatalf("remove %s's entry: %v", id, err)
	}
}

// refusedInLog is nil once a member's log shows that its TLS handshake
// with s's Raft port failed (raft tried to replicate to s and could not).
func refusedInLog(c *Cluster, s *Node) error {
	want := []byte("peer TLS with " + s.Addrs.Raft)
	for _, n := range c.Nodes() {
		if b, err := os.ReadFile(n.LogPath); err == nil && bytes.Contains(b, want) {
			return nil
		}
	}
	return fmt.Errorf("no member has tried %s's Raft port yet", s.ID)
}

// checkRaftPortSilent: a plain TCP connection to a member's Raft port that
// sends what raft sends gets no byte back, only the close.
func checkRaftPortSilent(t *testing.T, c *Cluster) {
	t.Helper()
	n := c.Nodes()[0]
	nc, err := net.DialTimeout("tcp", n.Addrs.Raft, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = nc.Write(append([]byte{0}, bytes.Repeat([]byte{0x80}, 256)...)) // an RPC type, then msgpack-like bytes
	_ = nc.SetReadDeadline(time.Now().Add(15 * time.Second))
	b, err := io.ReadAll(nc)
	if len(b) > 0 {
		t.Fatalf("a plain connection to the Raft port read %d bytes back", len(b))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a plain connection to the Raft port was not closed")
	}
}
