// Package kubetest starts a real Kubernetes control plane for tests: kube-apiserver and
// etcd, run by controller-runtime's envtest from the folder KUBEBUILDER_ASSETS names
// (scripts/kube-assets.sh makes it; scripts/test.sh exports it). No kubelet, scheduler
// or controller manager runs: objects are stored and validated, Pods never start.
// See DESIGN.md beside this file.
package kubetest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/carriermq/carrier/test/testlog"
)

const (
	// AssetsEnv names the folder holding the kube-apiserver and etcd binaries.
	AssetsEnv = "KUBEBUILDER_ASSETS"
	// AssetsErrorEnv carries, when scripts/test.sh could not make the assets, the
	// reason it gave; tests that skip for want of assets repeat it.
	AssetsErrorEnv = "CARRIER_KUBE_ASSETS_ERROR"

	startTimeout = 2 * time.Minute
	stopTimeout  = time.Minute
)

// ControlPlane is a running kube-apiserver with its etcd.
type ControlPlane struct {
	// Config reaches the API server as an administrator (group system:masters).
	Config *rest.Config
	// Client is a controller-runtime client for Config, using Scheme.
	Client client.Client
	// Scheme holds client-go's built-in types, plus those added with WithScheme.
	Scheme *runtime.Scheme
	// Env is the underlying envtest environment, for what this package does not wrap.
	Env *envtest.Environment
}

// Option changes how Start sets up the control plane.
type Option func(*options)

type options struct {
	crdDirs []string
	adders  []func(*runtime.Scheme) error
}

// WithCRDDirectories installs the CustomResourceDefinitions found in dirs (YAML or
// JSON files) before Start returns, and waits until they are served. A directory that
// does not exist fails the test rather than installing nothing.
func WithCRDDirectories(dirs ...string) Option {
	return func(o *options) { o.crdDirs = append(o.crdDirs, dirs...) }
}

// WithScheme adds types to the client's scheme (for example a generated AddToScheme).
func WithScheme(add func(*runtime.Scheme) error) Option {
	return func(o *options) { o.adders = append(o.adders, add) }
}

// Start starts kube-apiserver and etcd from KUBEBUILDER_ASSETS, bound to loopback on
// free ports, and stops them when t ends. It skips t, saying why, when the assets are
// not there; it fails t when they are there but the control plane does not start.
func Start(t testing.TB, opts ...Option) *ControlPlane {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	dir, err := Assets()
	if err != nil {
		t.Skipf("SKIP %s: no Kubernetes control plane: %v", t.Name(), err)
	}

	sch := runtime.NewScheme()
	adders := append([]func(*runtime.Scheme) error{scheme.AddToScheme}, o.adders...)
	for _, add := range adders {
		if err := add(sch); err != nil {
			t.Fatalf("kubetest: building the scheme: %v", err)
		}
	}

	// The control plane's own output is shown only when the test fails.
	out := &testlog.Buffer{}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		Scheme:                   sch,
		CRDDirectoryPaths:        o.crdDirs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: startTimeout,
		ControlPlaneStopTimeout:  stopTimeout,
	}
	env.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(dir, "etcd"), Out: out, Err: out}
	api := env.ControlPlane.GetAPIServer()
	api.Path = filepath.Join(dir, "kube-apiserver")
	api.Out, api.Err = out, out
	// envtest binds both to free ports on what "localhost" resolves to (and
	// advertises 127.0.0.1); checked below once they listen.

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kube-apiserver and etcd output:\n%s", tail(out.String(), 64<<10))
		}
	})
	started := time.Now()
	cfg, err := env.Start()
	if err != nil {
		// Start may have left some of it running.
		if stopErr := env.Stop(); stopErr != nil {
			t.Logf("kubetest: stopping after a failed start: %v", stopErr)
		}
		t.Fatalf("kubetest: starting the control plane from %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("kubetest: stopping the control plane: %v", err)
		}
	})
	t.Logf("kubetest: control plane at %s, started in %v", cfg.Host, time.Since(started).Round(time.Millisecond))

	if err := checkLoopback(cfg.Host); err != nil {
		t.Fatalf("kubetest: API server: %v", err)
	}
	if etcdURL := env.ControlPlane.Etcd.URL; etcdURL != nil {
		if err := checkLoopback(etcdURL.String()); err != nil {
			t.Fatalf("kubetest: etcd: %v", err)
		}
	}

	c, err := client.New(cfg, client.Options{Scheme: sch})
	if err != nil {
		t.Fatalf("kubetest: client for %s: %v", cfg.Host, err)
	}
	return &ControlPlane{Config: cfg, Client: c, Scheme: sch, Env: env}
}

// Assets returns the folder KUBEBUILDER_ASSETS names, or why it cannot serve: unset,
// or without an executable kube-apiserver or etcd. The error repeats what
// scripts/test.sh said when it could not make the assets.
func Assets() (string, error) {
	dir := os.Getenv(AssetsEnv)
	var err error
	if dir == "" {
		err = fmt.Errorf("%s is not set (scripts/kube-assets.sh makes the folder; scripts/test.sh exports it)", AssetsEnv)
	} else {
		var problems []string
		for _, name := range []string{"kube-apiserver", "etcd"} {
			if e := executable(filepath.Join(dir, name)); e != nil {
				problems = append(problems, e.Error())
			}
		}
		if len(problems) > 0 {
			err = fmt.Errorf("%s=%s is incomplete (run scripts/kube-assets.sh): %s", AssetsEnv, dir, strings.Join(problems, "; "))
		}
	}
	if err != nil {
		if why := os.Getenv(AssetsErrorEnv); why != "" {
			err = fmt.Errorf("%w; scripts/kube-assets.sh said: %s", err, why)
		}
		return "", err
	}
	return dir, nil
}

func executable(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("no %s: %w", filepath.Base(path), err)
	}
	if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// checkLoopback fails unless rawURL's host is a loopback IP address.
func checkLoopback(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("parsing address %q: %w", rawURL, err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listens on %q, not a loopback address", u.Host)
	}
	return nil
}

// tail returns the last n bytes of s, from a line start.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "…\n" + s
}
