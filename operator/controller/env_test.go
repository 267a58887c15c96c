package controller_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/controller"
	"github.com/carriermq/carrier/operator/dataplane"
	"github.com/carriermq/carrier/operator/operatortest"
	clustertest "github.com/carriermq/carrier/test/cluster"
	kubetest "github.com/carriermq/carrier/test/kube"
	"github.com/carriermq/carrier/test/testlog"
)

// carrierBin is built once by TestMain, when a control plane can run.
var carrierBin string

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	if _, err := kubetest.Assets(); err != nil {
		os.Exit(m.Run()) // every test skips, saying why
	}
	os.Exit(clustertest.RunWithBuild(m, "operator tests", func(ctx context.Context, dir string) (err error) {
		carrierBin, err = clustertest.Build(ctx, dir)
		return err
	}))
}

const (
	ns       = "carrier-test"
	image    = "registry.example/carrier:0.1.0"
	refresh  = 300 * time.Millisecond
	deadline = 30 * time.Second
	// stepTimeout bounds a step of an operation: a node restarted and
	// caught up takes a few seconds here.
	stepTimeout = 20 * time.Second
)

// env is a control plane with the CRDs, a namespace, and the data-plane
// endpoints the operators under test use (the clusters the test started).
type env struct {
	t  *testing.T
	cp *kubetest.ControlPlane
	// controllers: Kubernetes' own controllers run (newEnvWithControllers),
	// so the StatefulSet controller makes the pods.
	controllers bool
	c           client.Client
	mu          sync.Mutex
	eps         map[types.NamespacedName][]string
}

// newEnvWithControllers is newEnv with Kubernetes' kube-controller-manager
// and kube-scheduler running: the StatefulSet controller makes and deletes
// the pods, the garbage collector removes what an object owned.
func newEnvWithControllers(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.cp.StartControllers(t)
	e.controllers = true
	return e
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cp := kubetest.Start(t,
		kubetest.WithCRDDirectories(filepath.Join("..", "config", "crd")),
		kubetest.WithScheme(v1alpha1.AddToScheme))
	e := &env{t: t, cp: cp, c: cp.Client, eps: map[types.NamespacedName][]string{}}
	if err := e.c.Create(ctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// URLs is the env's dataplane.Endpoints.
func (e *env) URLs(nn types.NamespacedName) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.eps[nn]
}

// startCluster runs size carrier nodes named as the StatefulSet names its
// pods (name-0, name-1, …) and points the operator's endpoints for the
// QueueCluster name at them.
func (e *env) startCluster(name string, size int) *clustertest.Cluster {
	t := e.t
	t.Helper()
	cl, err := clustertest.New(clustertest.Options{Bin: carrierBin, Dir: t.TempDir(), Size: size, LogLevel: "info",
		NodeID: func(i int) string { return fmt.Sprintf("%s-%d", name, i-1) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cl.Close()
		if t.Failed() {
			var b strings.Builder
			cl.DumpLogs(&b, 4000)
			t.Log(b.String())
		}
	})
	c := ctx(t)
	if err := cl.WaitReady(c); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Leader(c); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.eps[types.NamespacedName{Namespace: ns, Name: name}] = cl.URLs()
	e.mu.Unlock()
	return cl
}

// startOperator runs the controllers in a manager of this process, as the
// binary does, watching the test's namespace. The returned func stops it
// and waits until it has.
func (e *env) startOperator(hc *http.Client, change ...func(*controller.Options)) (stop func()) {
	t := e.t
	t.Helper()
	opts := controller.Options{Endpoints: dataplane.Overrides{Fallback: e}, HTTPClient: hc,
		Refresh: refresh, MaxBackoff: 2 * time.Second, StepTimeout: stepTimeout}
	for _, c := range change {
		c(&opts)
	}
	return operatortest.Run(t, e.cp, logr.FromSlogHandler(testlog.New(t, "operator log").Handler()), ns, opts)
}

// ctx ends after the test's deadline for one step, or with the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*deadline)
	t.Cleanup(cancel)
	return c
}

// eventually polls fn until it returns nil, failing t after deadline with
// fn's last error.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	within(t, deadline, what, fn)
}

// within polls fn until it returns nil, failing t after d with fn's last
// error.
func within(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := clustertest.Poll(c, 100*time.Millisecond, fn); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get reads obj (named like it) from the API server.
func (e *env) get(obj client.Object) error {
	return e.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
}

// condition returns the condition typ of conds, or an error naming what
// it is instead of status and reason.
func condition(conds []metav1.Condition, typ, status, reason string) error {
	for _, c := range conds {
		if c.Type != typ {
			continue
		}
		if string(c.Status) == status && (reason == "" || c.Reason == reason) {
			return nil
		}
		return fmt.Errorf("condition %s is %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
	}
	return errors.New("no condition " + typ)
}

// steady checks that none of objs is written during window (several
// refresh intervals): a status that did not change is not written again,
// and a reconcile does not trigger another one.
func (e *env) steady(window time.Duration, objs ...client.Object) {
	e.t.Helper()
	before := make([]string, len(objs))
	for i, o := range objs {
		if err := e.get(o); err != nil {
			e.t.Fatal(err)
		}
		before[i] = o.GetResourceVersion()
	}
	tick := time.NewTicker(refresh / 2)
	defer tick.Stop()
	for end := time.Now().Add(window); time.Now().Before(end); <-tick.C {
		for i, o := range objs {
			if err := e.get(o); err != nil {
				e.t.Fatal(err)
			}
			if rv := o.GetResourceVersion(); rv != before[i] {
				e.t.Fatalf("%T %s written while nothing changed: resourceVersion %s → %s", o, o.GetName(), before[i], rv)
			}
		}
	}
}

func newCluster(name string, replicas int32) *v1alpha1.QueueCluster {
	return &v1alpha1.QueueCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.QueueClusterSpec{Replicas: replicas, Image: image}}
}
