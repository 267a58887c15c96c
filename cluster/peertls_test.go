package cluster

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/carriermq/carrier/test/testpki"
)

// peerFiles makes a certificate of ca for a node on 127.0.0.1 and returns
// a Config carrying it with caFile as the cluster bundle.
func peerFiles(t *testing.T, ca *testpki.CA, caFile, name string) Config {
	t.Helper()
	f, err := ca.Issue(t.TempDir(), name, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return Config{RaftBind: "127.0.0.1:0", PeerTLSCA: caFile, PeerTLSCert: f.Cert, PeerTLSKey: f.Key}
}

func newTestCA(t *testing.T, name string) (*testpki.CA, string) {
	t.Helper()
	ca, err := testpki.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	path, err := ca.WriteCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca, path
}

func listenTest(t *testing.T, cfg Config) *peerNet {
	t.Helper()
	p, err := listenPeers(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// acceptOne returns the first raft connection p accepts, or nil when none
// arrives before p is closed.
func acceptOne(p *peerNet) <-chan net.Conn {
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := p.Accept()
		ch <- c
	}()
	return ch
}

// TestPeerTLSConnectsMembers: a node with a certificate of the cluster's CA
// reaches the other's raft stream through the one transport, byte for byte.
func TestPeerTLSConnectsMembers(t *testing.T) {
	ca, caFile := newTestCA(t, "cluster")
	a := listenTest(t, peerFiles(t, ca, caFile, "a"))
	b := listenTest(t, peerFiles(t, ca, caFile, "b"))
	got := acceptOne(a)
	c, err := b.dial(a.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{0, 'h', 'i'}); err != nil {
		t.Fatal(err)
	}
	sc := <-got
	if sc == nil {
		t.Fatal("no raft connection accepted")
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "\x00hi" {
		t.Fatalf("raft read %q, %v; want the first byte given back, then the data", buf, err)
	}
}

// TestPeerTLSRefusesStrangers: a node with a certificate of another CA, or
// speaking plain TCP, never gets a connection to raft or forwarding, and a
// node dialing a stranger's port refuses it too.
func TestPeerTLSRefusesStrangers(t *testing.T) {
	ca, caFile := newTestCA(t, "cluster")
	other, otherFile := newTestCA(t, "other")
	member := listenTest(t, peerFiles(t, ca, caFile, "member"))
	forwarded := make(chan net.Conn, 1)
	member.setForwardHandler(func(c net.Conn) { forwarded <- c })
	got := acceptOne(member)

	stranger := listenTest(t, peerFiles(t, other, otherFile, "stranger"))
	// One that knows the cluster's CA (it is not secret) but holds a
	// certificate of another: it accepts the member, the member refuses it.
	knowsCA := peerFiles(t, other, otherFile, "knows-ca")
	knowsCA.PeerTLSCA = caFile
	for _, from := range []*peerNet{stranger, listenTest(t, knowsCA)} {
		for _, first := range []byte{0, forwardStreamByte} {
			c, err := from.dial(member.Addr().String(), 5*time.Second)
			if err != nil {
				continue // refused its end: the member's certificate is not of its CA
			}
			// TLS 1.3: the client finishes before the server checks its
			// certificate; the refusal arrives on the first read.
			_, _ = c.Write([]byte{first, 1})
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 1))
			c.Close()
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("a stranger's connection was not refused: %v", err)
			}
		}
	}
	plain, err := net.Dial("tcp", member.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = plain.Write(make([]byte, 64)) // raft's first bytes: an RPC type, then msgpack
	_ = plain.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := plain.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a plain TCP connection was not refused: %v", err)
	}
	plain.Close()
	if _, err := member.dial(stranger.Addr().String(), 5*time.Second); err == nil {
		t.Fatal("a member accepted a stranger's server certificate")
	}
	_ = member.Close()
	if c := <-got; c != nil {
		t.Fatal("a stranger's connection reached raft")
	}
	select {
	case <-forwarded:
		t.Fatal("a stranger's connection reached the forward server")
	default:
	}
}

func TestPeerTLSConfig(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.PeerTLSCA = "ca.crt"
	if err := cfg.Validate(); err == nil {
		t.Fatal("one peer TLS file of three: no error")
	}
	cfg.PeerTLSCert, cfg.PeerTLSKey = "n.crt", "n.key"
	cfg.GossipBind = "127.0.0.1:0"
	if err := cfg.Validate(); err == nil {
		t.Fatal("peer TLS with clear-text gossip: no error")
	}
	cfg.GossipKey = make([]byte, 32)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("peer TLS with a gossip key: %v", err)
	}
}
