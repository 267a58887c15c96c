package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/carriermq/carrier/tlsfile"
)

// peerTLS is mutual TLS on every node-to-node connection (transport.go):
// TLS 1.3, both ends present a certificate, and each end accepts the other
// only when its certificate chains to the cluster's own CA (PeerTLSCA).
// There is no host name or IP check: pods change IPs, and the addresses a
// node dials (Raft addresses) and the ones it is dialed from differ; being
// a member is having a certificate from the cluster's CA, which must
// therefore sign nothing but this cluster's nodes. The CA bundle, the
// certificate and its key are read again when their files change
// (tlsfile), for new connections; open ones keep the certificate they
// were made with.
type peerTLS struct {
	server *tls.Config
	client *tls.Config
	log    *slog.Logger
	// lastRefusal rate-limits the log line for refused connections (unix ns).
	lastRefusal atomic.Int64
}

// errNoPeerCertificate: the other end presented no certificate.
var errNoPeerCertificate = errors.New("no certificate presented")

func newPeerTLS(cfg Config, log *slog.Logger) (*peerTLS, error) {
	keys, err := tlsfile.LoadKeyPair(cfg.PeerTLSCert, cfg.PeerTLSKey, log)
	if err != nil {
		return nil, fmt.Errorf("peer TLS: %w", err)
	}
	cas, err := tlsfile.LoadPool(cfg.PeerTLSCA, log)
	if err != nil {
		return nil, fmt.Errorf("peer TLS: %w", err)
	}
	t := &peerTLS{log: log}
	t.server = &tls.Config{
		MinVersion:       tls.VersionTLS13,
		GetCertificate:   keys.GetCertificate,
		ClientAuth:       tls.RequireAnyClientCert, // verified against the current bundle below
		VerifyConnection: verifyPeer(cas, x509.ExtKeyUsageClientAuth),
	}
	t.client = &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetClientCertificate: keys.GetClientCertificate,
		InsecureSkipVerify:   true, // the chain is verified in VerifyConnection, against the reloadable bundle
		VerifyConnection:     verifyPeer(cas, x509.ExtKeyUsageServerAuth),
	}
	return t, nil
}

// verifyPeer accepts a connection whose peer certificate chains to the
// cluster CA bundle and may be used as usage.
func verifyPeer(cas *tlsfile.Pool, usage x509.ExtKeyUsage) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errNoPeerCertificate
		}
		opts := x509.VerifyOptions{Roots: cas.CertPool(), Intermediates: x509.NewCertPool(),
			KeyUsages: []x509.ExtKeyUsage{usage}}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return fmt.Errorf("peer certificate is not from the cluster's CA: %w", err)
		}
		return nil
	}
}

// accept completes the server side of the handshake on c within timeout.
// A refused peer is logged (at most every 5 s) and c is closed.
func (t *peerTLS) accept(c net.Conn, timeout time.Duration) (net.Conn, error) {
	tc := tls.Server(c, t.server)
	if err := handshake(tc, timeout); err != nil {
		_ = c.Close()
		t.refused(c.RemoteAddr(), err)
		return nil, err
	}
	return tc, nil
}

// connect completes the client side of the handshake on c within timeout.
func (t *peerTLS) connect(c net.Conn, timeout time.Duration) (net.Conn, error) {
	tc := tls.Client(c, t.client)
	if err := handshake(tc, timeout); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("peer TLS with %s: %w", c.RemoteAddr(), err)
	}
	return tc, nil
}

func handshake(tc *tls.Conn, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return tc.HandshakeContext(ctx)
}

func (t *peerTLS) refused(from net.Addr, err error) {
	now := time.Now().UnixNano()
	last := t.lastRefusal.Load()
	if now-last < int64(5*time.Second) || !t.lastRefusal.CompareAndSwap(last, now) {
		return
	}
	t.log.Warn("refused a connection on the Raft port: TLS handshake failed (a node without the cluster's certificate?)",
		"from", from.String(), "err", err)
}
