package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/test/testpki"
)

func TestServeTLSUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--tls-cert", "a.crt"}, "--tls-cert and --tls-key go together"},
		{[]string{"serve", "--tls-ca", "ca.crt"}, "give --tls-cert and --tls-key too"},
		{[]string{"serve", "--peer-tls-ca", "ca.crt", "--peer-tls-cert", "n.crt"}, "missing --peer-tls-key"},
		{[]string{"serve", "--peer-tls-ca", "ca.crt", "--peer-tls-cert", "n.crt", "--peer-tls-key", "n.key",
			"--bootstrap-expect", "3"}, "gossip would be clear text"},
	}
	for _, tt := range tests {
		args := append(tt.args, "--data", t.TempDir(), "--listen", freeAddr(t), "--raft-bind", freeAddr(t), "--gossip-bind", freeAddr(t))
		_, _, err := runCLI(context.Background(), nil, "", args...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("carrier %s: error %v, want a usage error containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
}

// TestServeTLSInProcess: serve with a certificate of a CA made here; the
// CLI publishes and subscribes over https and wss with --tls-ca (or
// CARRIER_TLS_CA), and says what is missing without it or with http://.
func TestServeTLSInProcess(t *testing.T) {
	dir := t.TempDir()
	ca, err := testpki.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	caFile, err := ca.WriteCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(dir, "node", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	listen, raft := freeAddr(t), freeAddr(t)
	srv := startServe(t, "n1", listen, "--raft-bind", raft, "--tls-cert", cert.Cert, "--tls-key", cert.Key)
	ctx, out, errOut := context.Background(), srv.out, srv.errOut
	if err := pollUntil(30*time.Second, func() bool { return strings.Contains(out.String(), "Carrier is ready at https://"+listen) }); err != nil {
		t.Fatalf("serve did not announce https: %v\nstdout: %s\nstderr: %s", err, out.String(), errOut.String())
	}
	server := "https://" + listen
	env := map[string]string{"CARRIER_SERVER": server}
	if _, _, err := runCLI(ctx, env, "", "queue", "ls"); err == nil || !strings.Contains(err.Error(), "--tls-ca") {
		t.Errorf("queue ls without the CA: %v, want an error naming --tls-ca", err)
	}
	if _, _, err := runCLI(ctx, env, "", "pub", "q", "1"); err == nil || !strings.Contains(err.Error(), "--tls-ca") {
		t.Errorf("pub without the CA: %v, want an error naming --tls-ca", err)
	}
	plain := map[string]string{"CARRIER_SERVER": "http://" + listen}
	if _, _, err := runCLI(ctx, plain, "", "queue", "ls"); err == nil || !strings.Contains(err.Error(), "https://") {
		t.Errorf("queue ls over http:// to a TLS listener: %v, want an error naming https://", err)
	}
	if _, _, err := runCLI(ctx, plain, "", "pub", "q", "1"); err == nil || !strings.Contains(err.Error(), "https://") {
		t.Errorf("pub over ws:// to a TLS listener: %v, want an error naming https://", err)
	}
	if o, e, err := runCLI(ctx, env, "", "pub", "q", "1", "--tls-ca", caFile, "--json"); err != nil || !strings.Contains(o, `"seq":1`) {
		t.Fatalf("pub --tls-ca: %v\n%s%s", err, o, e)
	}
	env["CARRIER_TLS_CA"] = caFile
	if o, e, err := runCLI(ctx, env, "", "pub", "q", "2", "--json"); err != nil || !strings.Contains(o, `"seq":2`) {
		t.Fatalf("pub with CARRIER_TLS_CA: %v\n%s%s", err, o, e)
	}
	o, e, err := runCLI(ctx, env, "", "sub", "q", "--from", "first", "--count", "2", "--json")
	if err != nil || strings.Count(o, `"seq"`) != 2 {
		t.Fatalf("sub over wss: %v\n%s%s", err, o, e)
	}
	if o, e, err := runCLI(ctx, env, "", "queue", "info", "q", "--json"); err != nil || !strings.Contains(o, `"messages":2`) {
		t.Fatalf("queue info over https: %v\n%s%s", err, o, e)
	}
}
