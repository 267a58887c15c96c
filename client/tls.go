package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// TLSFiles names the PEM files of a client's TLS settings. Every field may
// be empty.
type TLSFiles struct {
	CA   string // CA bundle the server's certificate chains to (default: the system's roots)
	Cert string // client certificate, for servers that ask for one (with Key)
	Key  string // private key of Cert
}

// LoadTLS reads files into a TLS configuration for Options.TLS and for an
// Admin's http.Client (HTTPClient). TLS 1.2 or later.
func LoadTLS(files TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if files.CA != "" {
		b, err := os.ReadFile(files.CA)
		if err != nil {
			return nil, fmt.Errorf("read the CA bundle: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("the CA bundle %s holds no PEM certificate", files.CA)
		}
	}
	if (files.Cert == "") != (files.Key == "") {
		return nil, errors.New("a client certificate needs both files: the certificate and its key")
	}
	if files.Cert != "" {
		c, err := tls.LoadX509KeyPair(files.Cert, files.Key)
		if err != nil {
			return nil, fmt.Errorf("load the client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// dialTLS opens a TCP connection to addr and completes a TLS handshake on
// it, checking the server's certificate for addr's host.
func dialTLS(ctx context.Context, network, addr string, base *tls.Config) (*tls.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		cfg = base.Clone()
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"http/1.1"}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, explainTLS(err)
	}
	return tc, nil
}

// ErrTLSUntrusted: the server's certificate does not chain to a CA the
// client trusts, or does not name the host dialed.
var ErrTLSUntrusted = errors.New("the server's certificate is not trusted")

// ErrTLSMismatch: the URL's scheme and the server disagree on TLS (an
// http:// or ws:// URL for a TLS listener, or the other way round).
var ErrTLSMismatch = errors.New("TLS mismatch")

// explainTLS says what a failed certificate check means to a user.
func explainTLS(err error) error {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &record):
		return fmt.Errorf("%w: the server does not speak TLS at this address (use an http:// or ws:// URL, or turn TLS on in carrier serve with --tls-cert and --tls-key): %w", ErrTLSMismatch, err)
	case errors.As(err, &unknown):
		return fmt.Errorf("%w: it is signed by a CA this client does not trust (give the CA bundle: --tls-ca or CARRIER_TLS_CA; TLSFiles.CA in Go): %w", ErrTLSUntrusted, err)
	case errors.As(err, &host):
		return fmt.Errorf("%w: it is not for the host dialed (use the name or address the certificate lists): %w", ErrTLSUntrusted, err)
	case errors.As(err, &invalid), errors.As(err, &verify):
		return fmt.Errorf("%w: %w", ErrTLSUntrusted, err)
	}
	return err
}

// HTTPClient returns an http.Client for NewAdmin that uses cfg for https
// (nil cfg: the system's roots) and gives up on a call after 30 s.
func HTTPClient(cfg *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg != nil {
		tr.TLSClientConfig = cfg.Clone()
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// plainToTLS is what Go's HTTPS server answers a plain HTTP request with.
const plainToTLS = "HTTP request to an HTTPS server"

// explainPlain rewrites a 400 answer to plain HTTP sent to a TLS listener.
func explainPlain(status int, body []byte) (string, bool) {
	if status == http.StatusBadRequest && strings.Contains(string(body), plainToTLS) {
		return "the server speaks TLS: use an https:// or wss:// server URL (and --tls-ca or CARRIER_TLS_CA when its CA is not a system one)", true
	}
	return "", false
}
