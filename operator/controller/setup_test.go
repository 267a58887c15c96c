package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/internal/build"
)

// The cache sees every child and pod the builders make: were the selector
// to miss them, every reconcile would apply them again.
func TestCacheSelectsTheChildren(t *testing.T) {
	qc := &v1alpha1.QueueCluster{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "ns"},
		Spec: v1alpha1.QueueClusterSpec{Image: "carrier:1", Pod: v1alpha1.PodOverrides{Labels: map[string]string{"app.kubernetes.io/managed-by": "me"}}}}
	sets := map[string]map[string]string{
		"statefulset":       build.StatefulSet(qc, build.StatefulSetParams{}).Labels,
		"pod template":      build.StatefulSet(qc, build.StatefulSetParams{}).Spec.Template.Labels,
		"headless":          build.HeadlessService(qc).Labels,
		"client service":    build.ClientService(qc).Labels,
		"configmap":         build.ConfigMap(qc).Labels,
		"serviceaccount":    build.ServiceAccount(qc).Labels,
		"disruption budget": build.PodDisruptionBudget(qc).Labels,
	}
	for name, l := range sets {
		if !managedBy.Matches(labels.Set(l)) {
			t.Errorf("%s labels %v are not selected by the cache's %s", name, l, managedBy)
		}
	}
}
