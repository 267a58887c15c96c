package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/carriermq/carrier/client"
)

const defaultServer = "http://127.0.0.1:7420"

// clientFlags are the flags every command that talks to a server takes.
type clientFlags struct {
	server  string
	json    bool
	timeout time.Duration
	tls     client.TLSFiles
}

func (f *clientFlags) register(cmd *cobra.Command, persistent bool) {
	fs := cmd.Flags()
	if persistent {
		fs = cmd.PersistentFlags()
	}
	fs.StringVar(&f.server, "server", defaultServer, "server URL or host:port (env CARRIER_SERVER)")
	fs.BoolVar(&f.json, "json", false, "print JSON (one object per line) instead of a table")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up on a request after this long")
	tlsClientFlags(fs, &f.tls)
}

// tlsClientFlags are the TLS flags of every command that talks to a server.
func tlsClientFlags(fs *pflag.FlagSet, f *client.TLSFiles) {
	fs.StringVar(&f.CA, "tls-ca", "", "PEM CA bundle the server's certificate chains to, for https:// and wss:// (default: the system's roots; env CARRIER_TLS_CA)")
	fs.StringVar(&f.Cert, "tls-cert", "", "PEM client certificate, for a server that asks for one (with --tls-key; env CARRIER_TLS_CERT)")
	fs.StringVar(&f.Key, "tls-key", "", "PEM private key of --tls-cert (env CARRIER_TLS_KEY)")
}

// tlsConfig loads the TLS flags; nil when none is set.
func tlsConfig(f client.TLSFiles) (*tls.Config, error) {
	if f == (client.TLSFiles{}) {
		return nil, nil
	}
	cfg, err := client.LoadTLS(f)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca/--tls-cert/--tls-key: %w", err)
	}
	return cfg, nil
}

// dial connects the WebSocket client to the server.
func (f *clientFlags) dial(ctx context.Context) (*client.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	tc, err := tlsConfig(f.tls)
	if err != nil {
		return nil, err
	}
	c, err := client.Dial(dctx, []string{f.server}, client.Options{TLS: tc})
	if err != nil {
		return nil, unreachable(f.server, err)
	}
	return c, nil
}

// admin returns the HTTP admin client for the server.
func (f *clientFlags) admin() (*client.Admin, error) {
	tc, err := tlsConfig(f.tls)
	if err != nil {
		return nil, err
	}
	var hc *http.Client
	if tc != nil {
		hc = client.HTTPClient(tc)
	}
	a, err := client.NewAdmin(f.server, hc)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	return a, nil
}

// explain turns an admin error into a message for people: the server's
// code and message without the HTTP request, or what to check when the
// server cannot be reached.
func (f *clientFlags) explain(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) {
		return unreachable(f.server, err)
	}
	return err
}

func unreachable(server string, err error) error {
	if client.CodeOf(err) != "" || errors.Is(err, client.ErrTLSUntrusted) || errors.Is(err, client.ErrTLSMismatch) {
		return err
	}
	return fmt.Errorf("cannot reach a Carrier server at %s (is 'carrier serve' running? set --server or CARRIER_SERVER): %w", server, err)
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// shortTime shows an RFC 3339 time in a table: local wall clock with
// milliseconds, or the input unchanged when it does not parse.
func shortTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.IsZero() {
		return s
	}
	return t.Local().Format("2006-01-02 15:04:05.000")
}

// humanBytes shows a byte count with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// orDash shows "-" for an empty cell.
func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
