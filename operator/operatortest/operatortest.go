// Package operatortest runs the operator's controllers in a test's own
// process against a test control plane (test/kube), as cmd/carrier-operator
// runs them in a cluster: one manager, its cache limited to the test's
// namespace, no metrics or probe listeners.
package operatortest

import (
	"context"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/carriermq/carrier/operator/controller"
	kubetest "github.com/carriermq/carrier/test/kube"
)

// Run starts the controllers with opts against cp, watching namespace and
// logging to log, and returns a stop that ends the manager and waits for it
// (also called when t ends; calling it again does nothing). A manager that
// fails fails t.
func Run(t testing.TB, cp *kubetest.ControlPlane, log logr.Logger, namespace string, opts controller.Options) (stop func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(cp.Config, ctrl.Options{
		Scheme:                 cp.Scheme,
		Logger:                 log,
		Cache:                  controller.CacheOptions(namespace),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several managers of one test process (an operator restarted)
		// register controllers of the same names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := controller.Setup(mgr, opts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
