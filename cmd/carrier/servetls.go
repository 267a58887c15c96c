package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/carriermq/carrier/cluster"
	"github.com/carriermq/carrier/tlsfile"
)

// tlsFlags are serve's TLS settings: the client listener's certificate,
// the CA its peers' API certificates chain to (for admin calls passed to
// the leader), and mutual TLS between nodes (docs/security.md).
type tlsFlags struct {
	cert, key, ca             string
	peerCA, peerCert, peerKey string
}

func tlsFlagSet(fl *pflag.FlagSet, f *tlsFlags) {
	fl.StringVar(&f.cert, "tls-cert", "", "PEM certificate of the HTTP and WebSocket listener: serve HTTPS and WSS (with --tls-key; reloaded when the file changes)")
	fl.StringVar(&f.key, "tls-key", "", "PEM private key of --tls-cert")
	fl.StringVar(&f.ca, "tls-ca", "", "PEM CA bundle the other nodes' API certificates chain to, for admin calls passed to the leader (default: the system's roots)")
	fl.StringVar(&f.peerCA, "peer-tls-ca", "", "PEM bundle of the cluster's own CA: node-to-node traffic is mutual TLS and only nodes with a certificate from it take part (with --peer-tls-cert, --peer-tls-key)")
	fl.StringVar(&f.peerCert, "peer-tls-cert", "", "PEM certificate of this node, signed by --peer-tls-ca, for server and client auth (reloaded when the file changes)")
	fl.StringVar(&f.peerKey, "peer-tls-key", "", "PEM private key of --peer-tls-cert")
}

// on reports whether the client listener serves TLS.
func (f tlsFlags) on() bool { return f.cert != "" || f.key != "" }

// checkListener reports a usage error for listener flags that go together
// but came alone.
func (f tlsFlags) checkListener() error {
	var errs []error
	if (f.cert == "") != (f.key == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together: give both, or neither for plain HTTP"))
	}
	if f.ca != "" && !f.on() {
		errs = append(errs, errors.New("--tls-ca is for a node whose listener is TLS: give --tls-cert and --tls-key too"))
	}
	if len(errs) > 0 {
		return usageError{err: errors.Join(errs...), path: "carrier serve"}
	}
	return nil
}

// checkPeer reports a usage error for peer TLS flags that go together but
// came alone, or peer TLS with clear-text gossip.
func (f tlsFlags) checkPeer(gossip bool, gossipKey []byte) error {
	var missing []string
	for _, p := range []struct{ name, v string }{{"--peer-tls-ca", f.peerCA}, {"--peer-tls-cert", f.peerCert}, {"--peer-tls-key", f.peerKey}} {
		if p.v == "" {
			missing = append(missing, p.name)
		}
	}
	var err error
	switch {
	case len(missing) == 1 || len(missing) == 2:
		err = fmt.Errorf("peer TLS needs --peer-tls-ca, --peer-tls-cert and --peer-tls-key together: missing %s", strings.Join(missing, ", "))
	case len(missing) == 0 && gossip && len(gossipKey) == 0:
		err = errors.New("peer TLS is on but gossip would be clear text: give the gossip key (--gossip-key-file, or base64 in $CARRIER_GOSSIP_KEY)")
	}
	if err != nil {
		return usageError{err: err, path: "carrier serve"}
	}
	return nil
}

// applyPeer sets cfg's peer TLS files.
func (f tlsFlags) applyPeer(cfg *cluster.Config) {
	cfg.PeerTLSCA, cfg.PeerTLSCert, cfg.PeerTLSKey = f.peerCA, f.peerCert, f.peerKey
}

// listener wraps ln in TLS when the listener has a certificate: TLS 1.2 or
// later with Go's default cipher suites (AEAD only, forward secret),
// HTTP/1.1 (WebSockets upgrade from it), the certificate reloaded when its
// files change.
func (f tlsFlags) listener(ln net.Listener, log *slog.Logger) (net.Listener, error) {
	if !f.on() {
		return ln, nil
	}
	keys, err := tlsfile.LoadKeyPair(f.cert, f.key, log.With("component", "tls"))
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: keys.GetCertificate,
		NextProtos:     []string{"http/1.1"},
	}), nil
}

// leaderClient is the HTTP client of admin calls passed to the leader: nil
// (the default client) without TLS; with TLS it trusts the system's roots
// and --tls-ca.
func (f tlsFlags) leaderClient() (*http.Client, error) {
	if !f.on() {
		return nil, nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if f.ca != "" {
		b, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--tls-ca: %s holds no PEM certificate", f.ca)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// scheme is the URL scheme of the client listener.
func (f tlsFlags) scheme() string {
	if f.on() {
		return "https"
	}
	return "http"
}
