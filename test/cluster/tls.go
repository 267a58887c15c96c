package clustertest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/test/testpki"
)

// TLS is a cluster's certificates, made at test time (testpki): the
// cluster's own CA, a certificate per node for its IP (both for the client
// listener and between nodes), and a gossip key, which peer TLS requires.
// With Options.TLS set every node serves HTTPS and WSS and speaks mutual
// TLS to its peers, and the harness's clients trust the CA.
type TLS struct {
	CA            *testpki.CA
	Dir           string // certificates and keys: <node id>.crt, <node id>.key
	CAFile        string
	GossipKeyFile string
	Client        *tls.Config // trusts CA; for client.Options.TLS and client.HTTPClient

	transport http.RoundTripper // shared by the harness's HTTP clients
}

// NewTLS makes a CA and a gossip key under dir.
func NewTLS(dir string) (*TLS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := testpki.NewCA("cluster-ca")
	if err != nil {
		return nil, err
	}
	t := &TLS{CA: ca, Dir: dir, GossipKeyFile: filepath.Join(dir, "gossip.key")}
	if t.CAFile, err = ca.WriteCA(dir); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(t.GossipKeyFile, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
		return nil, err
	}
	t.Client = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.Pool()}
	t.transport = client.HTTPClient(t.Client).Transport
	return t, nil
}

// Issue writes a new certificate of the cluster CA for node id at ip to
// id's files, replacing the old ones atomically (a rotation), and returns
// its serial number.
func (t *TLS) Issue(id, ip string) (*big.Int, error) {
	f, err := t.CA.Issue(t.Dir, id, ip)
	return f.Serial, err
}

// args are the serve flags of node id: client TLS, peer TLS, gossip key.
func (t *TLS) args(id string) []string {
	crt, key := filepath.Join(t.Dir, id+".crt"), filepath.Join(t.Dir, id+".key")
	return []string{"--tls-cert", crt, "--tls-key", key, "--tls-ca", t.CAFile,
		"--peer-tls-ca", t.CAFile, "--peer-tls-cert", crt, "--peer-tls-key", key,
		"--gossip-key-file", t.GossipKeyFile}
}

// httpClient is an HTTP client of the cluster's API with the given timeout.
func (t *TLS) httpClient(timeout time.Duration) *http.Client {
	if t == nil {
		return &http.Client{Timeout: timeout}
	}
	return &http.Client{Transport: t.transport, Timeout: timeout}
}

// ClientTLS is the TLS configuration of clients of this cluster (nil
// without Options.TLS).
func (c *Cluster) ClientTLS() *tls.Config {
	if c.opts.TLS == nil {
		return nil
	}
	return c.opts.TLS.Client
}

// RotateCert gives n a new certificate of the cluster CA in place of its
// files, as cert-manager renews a Secret; the running node picks it up
// without a restart. It returns the new certificate's serial.
func (c *Cluster) RotateCert(n *Node) (*big.Int, error) {
	if c.opts.TLS == nil {
		return nil, fmt.Errorf("cluster has no TLS")
	}
	return c.opts.TLS.Issue(n.ID, n.Addrs.IP)
}

// PeerCertSerial connects to n's Raft port with a certificate of the
// cluster CA (as a peer would) and returns the serial of the certificate n
// presents there.
func (c *Cluster) PeerCertSerial(ctx context.Context, n *Node) (*big.Int, error) {
	if c.opts.TLS == nil {
		return nil, fmt.Errorf("cluster has no TLS")
	}
	probe, err := c.opts.TLS.CA.Issue(c.opts.TLS.Dir, "probe", "127.0.0.1")
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(probe.Cert, probe.Key)
	if err != nil {
		return nil, err
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{
		MinVersion: tls.VersionTLS13, RootCAs: c.opts.TLS.CA.Pool(), Certificates: []tls.Certificate{cert},
		ServerName: n.Addrs.IP}}
	nc, err := d.DialContext(ctx, "tcp", n.Addrs.Raft)
	if err != nil {
		return nil, fmt.Errorf("TLS to %s's Raft port: %w", n.ID, err)
	}
	defer nc.Close()
	return nc.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// Stranger starts a node that is not one of the cluster's: an empty node
// joining every member's gossip address, with plain HTTP on its client
// listener and extra serve flags (its own TLS files, a gossip key). It is
// not among Nodes; the caller kills it.
func (c *Cluster) Stranger(extra ...string) (*Node, error) {
	var join []string
	for _, n := range c.Nodes() {
		join = append(join, n.Addrs.Gossip)
	}
	n, err := c.newNodeWith(nil)
	if err != nil {
		return nil, err
	}
	n.ID = "stranger-" + n.ID
	n.args = append([]string{"serve", "--node-id", n.ID, "--data", n.DataDir,
		"--listen", n.Addrs.API, "--raft-bind", n.Addrs.Raft, "--gossip-bind", n.Addrs.Gossip,
		"--log-level", c.opts.LogLevel, "--join", strings.Join(join, ",")}, extra...)
	return n, n.Start()
}
