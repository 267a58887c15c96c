package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	clustertest "github.com/carriermq/carrier/test/cluster"
	kubetest "github.com/carriermq/carrier/test/kube"
	"github.com/carriermq/carrier/test/testlog"
)

func TestFlags(t *testing.T) {
	f, err := parseFlags([]string{"--namespace", "a,b", "--data-plane-endpoint", "a/orders=http://127.0.0.1:7420,http://127.0.0.2:7420"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.endpoints[types.NamespacedName{Namespace: "a", Name: "orders"}]; len(got) != 2 || fmt.Sprint(f.namespaces) != "[a b]" {
		t.Errorf("endpoints %v, namespaces %v", f.endpoints, f.namespaces)
	}
	for _, args := range [][]string{
		{"--data-plane-endpoint", "orders=http://x"},
		{"--data-plane-endpoint", "a/orders=x:7420"},
		{"--refresh-interval", "0s"},
		{"--step-timeout", "1ms"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%v) accepted", args)
		}
	}
	if _, err := newLogger("loud", "json", io.Discard); err == nil {
		t.Error("--log-level loud accepted")
	}
	var help bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &help, io.Discard); err != nil || !strings.Contains(help.String(), "--data-plane-endpoint") {
		t.Errorf("--help: %v\n%s", err, help.String())
	}
	var v bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, &v, io.Discard); err != nil || !strings.HasPrefix(v.String(), "carrier-operator "+version+" (revision ") {
		t.Errorf("--version: %v: %q", err, v.String())
	}
}

// The binary's run against a real API server: probes and metrics answer,
// it takes the leader election Lease, and it stops cleanly with its
// context.
func TestRun(t *testing.T) {
	cp := kubetest.Start(t, kubetest.WithCRDDirectories(filepath.Join("..", "..", "operator", "config", "crd")),
		kubetest.WithScheme(v1alpha1.AddToScheme))
	probes, metrics := freeAddr(t), freeAddr(t)
	args := []string{"--kubeconfig", writeKubeconfig(t, cp.Config), "--namespace", "default",
		"--leader-elect", "--leader-election-namespace", "default", "--log-format", "text",
		"--health-probe-bind-address", probes, "--metrics-bind-address", metrics}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &testlog.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, io.Discard, logs) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("operator log:\n%s", logs.String())
		}
	})
	wait := func(what string, fn func() error) {
		t.Helper()
		c, stop := context.WithTimeout(ctx, 30*time.Second)
		defer stop()
		err := clustertest.Poll(c, 100*time.Millisecond, func() error {
			select {
			case err := <-done:
				return clustertest.ErrStop{Err: fmt.Errorf("run returned early: %v", err)}
			default:
				return fn()
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	wait("healthz", func() error { return httpOK("http://" + probes + "/healthz") })
	wait("readyz", func() error { return httpOK("http://" + probes + "/readyz") })
	wait("metrics", func() error { return httpOK("http://" + metrics + "/metrics") })
	wait("lease", func() error {
		var l coordinationv1.Lease
		err := cp.Client.Get(ctx, types.NamespacedName{Namespace: "default", Name: "carrier-operator.carrier.dev"}, &l)
		if err == nil && (l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "") {
			err = fmt.Errorf("lease without holder")
		}
		return err
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

func httpOK(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeKubeconfig writes cfg (the control plane's admin) as a kubeconfig.
func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}
