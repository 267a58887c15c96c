package chart

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/controller"
	"github.com/carriermq/carrier/operator/operatortest"
	clustertest "github.com/carriermq/carrier/test/cluster"
	kubetest "github.com/carriermq/carrier/test/kube"
)

// The CRDs of the kinds the chart renders beyond Kubernetes' own and
// Carrier's: ServiceMonitor and PrometheusRule (the Prometheus operator's)
// and HTTPRoute (Gateway API). They come from those projects' Go modules,
// pinned here, through the Go module proxy and cache.
var peerCRDs = []struct{ module, file string }{
	{"github.com/prometheus-operator/prometheus-operator@v0.92.1", "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"},
	{"github.com/prometheus-operator/prometheus-operator@v0.92.1", "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"},
	{"sigs.k8s.io/gateway-api@v1.6.3", "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml"},
}

// Every object the chart renders, with the defaults and with every feature
// on, passes a server-side dry-run apply against the real API server; the
// operator, running against it, takes the rendered QueueCluster and makes
// its children: probes, spread, security context, volumes, the PDB.
func TestAgainstAPIServer(t *testing.T) {
	cp := kubetest.Start(t,
		kubetest.WithCRDDirectories(filepath.Join("..", "..", "operator", "config", "crd"), peerCRDDir(t)),
		kubetest.WithScheme(v1alpha1.AddToScheme))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, ns := range []string{namespace, "apps"} {
		if err := cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	defaults, all := render(t, "", nil), render(t, allFeatures, nil)
	for name, r := range map[string]rendered{"defaults": defaults, "all features": all} {
		for _, o := range append(r.objects, r.hooks...) {
			if err := cp.Client.Patch(ctx, o.DeepCopy(), client.Apply, client.DryRunAll, client.ForceOwnership, client.FieldOwner("helm")); err != nil {
				t.Errorf("%s: server-side dry-run apply of %s %s: %v", name, o.GetKind(), o.GetName(), err)
			}
		}
	}
	startOperator(t, cp)
	checkChildren(t, ctx, cp.Client, defaults.find(t, "QueueCluster", "carrier"), 3, "preferred")
	checkChildren(t, ctx, cp.Client, all.find(t, "QueueCluster", "events"), 5, "required")
}

// checkChildren creates the rendered QueueCluster and waits for the
// operator's StatefulSet and PDB.
func checkChildren(t *testing.T, ctx context.Context, c client.Client, qc *unstructured.Unstructured, replicas int32, spread string) {
	t.Helper()
	if err := c.Create(ctx, qc.DeepCopy()); err != nil {
		t.Fatalf("create %s: %v", qc.GetName(), err)
	}
	var sts appsv1.StatefulSet
	var pdb policyv1.PodDisruptionBudget
	key := types.NamespacedName{Namespace: namespace, Name: qc.GetName()}
	err := clustertest.Poll(ctx, 100*time.Millisecond, func() error {
		if err := c.Get(ctx, key, &sts); err != nil {
			return err
		}
		return c.Get(ctx, key, &pdb)
	})
	if err != nil {
		t.Fatalf("children of %s: %v", qc.GetName(), err)
	}
	pod := sts.Spec.Template.Spec
	ctr := pod.Containers[0]
	switch {
	case *sts.Spec.Replicas != replicas:
		t.Errorf("%s: %d replicas, want %d", sts.Name, *sts.Spec.Replicas, replicas)
	case ctr.LivenessProbe == nil || ctr.ReadinessProbe == nil || ctr.StartupProbe == nil:
		t.Errorf("%s: probes liveness %v readiness %v startup %v; want all three", sts.Name, ctr.LivenessProbe, ctr.ReadinessProbe, ctr.StartupProbe)
	case ctr.ReadinessProbe.HTTPGet == nil || ctr.ReadinessProbe.HTTPGet.Path != "/readyz":
		t.Errorf("%s: readiness %+v, want /readyz", sts.Name, ctr.ReadinessProbe)
	case pod.SecurityContext == nil || !ptr.Deref(pod.SecurityContext.RunAsNonRoot, false):
		t.Errorf("%s: pod security context %+v, want non-root", sts.Name, pod.SecurityContext)
	case ctr.SecurityContext == nil || !ptr.Deref(ctr.SecurityContext.ReadOnlyRootFilesystem, false) || ptr.Deref(ctr.SecurityContext.AllowPrivilegeEscalation, true):
		t.Errorf("%s: container security context %+v, want a read-only root, no escalation", sts.Name, ctr.SecurityContext)
	case len(sts.Spec.VolumeClaimTemplates) != 1:
		t.Errorf("%s: claim templates %v, want the data volume", sts.Name, sts.Spec.VolumeClaimTemplates)
	case pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1:
		t.Errorf("%s: PDB maxUnavailable %v, want 1", pdb.Name, pdb.Spec.MaxUnavailable)
	}
	aa := pod.Affinity
	switch spread {
	case "preferred":
		if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 || len(pod.TopologySpreadConstraints) != 1 {
			t.Errorf("%s: affinity %+v, spread %+v; want soft anti-affinity and a zone spread", sts.Name, aa, pod.TopologySpreadConstraints)
		}
	case "required":
		if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 {
			t.Errorf("%s: affinity %+v; want hard anti-affinity", sts.Name, aa)
		}
	}
}

// startOperator runs the controllers against cp, watching the release's
// namespace, until the test ends. No data plane runs: the clusters'
// admin API is a closed loopback port, so the operator applies children
// and reports the clusters unreachable.
func startOperator(t *testing.T, cp *kubetest.ControlPlane) {
	t.Helper()
	operatortest.Run(t, cp, logr.Discard(), namespace, controller.Options{Endpoints: closedEndpoints{}, Refresh: time.Second})
}

// closedEndpoints answers every cluster's admin API at a loopback port
// nothing listens on.
type closedEndpoints struct{}

func (closedEndpoints) URLs(types.NamespacedName) []string { return []string{"http://127.0.0.1:1"} }

// peerCRDDir copies the peer CRDs into a folder, fetching their modules
// into the module cache when they are not there yet.
func peerCRDDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	dirs := map[string]string{}
	for _, p := range peerCRDs {
		if _, ok := dirs[p.module]; !ok {
			d, err := moduleDir(p.module)
			if err != nil {
				t.Fatalf("the CRDs of %s: %v", p.module, err)
			}
			dirs[p.module] = d
		}
		b, err := os.ReadFile(filepath.Join(dirs[p.module], p.file))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p.file)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// moduleDir is where `go mod download` puts module@version.
func moduleDir(mod string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Dir = os.TempDir() // outside any module: nothing of this one changes
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %v %s", mod, err, info.Error)
	}
	return info.Dir, nil
}
