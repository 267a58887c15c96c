package build

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Every child is owned by its cluster (as controller, blocking its
// deletion until the child is gone) and carries the cluster's labels.
func TestEveryChildOwnedAndLabelled(t *testing.T) {
	qc := newCluster()
	children := []client.Object{
		StatefulSet(qc, StatefulSetParams{}), HeadlessService(qc), ClientService(qc),
		PodDisruptionBudget(qc), ConfigMap(qc), ServiceAccount(qc),
	}
	names := map[string]bool{}
	for _, obj := range children {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		refs := obj.GetOwnerReferences()
		if len(refs) != 1 {
			t.Fatalf("%s: %d owner references, want 1", kind, len(refs))
		}
		r := refs[0]
		if r.Kind != "QueueCluster" || r.APIVersion != "carrier.dev/v1alpha1" || r.Name != "orders" || r.UID != qc.UID ||
			r.Controller == nil || !*r.Controller || r.BlockOwnerDeletion == nil || !*r.BlockOwnerDeletion {
			t.Errorf("%s: owner reference %+v, want the cluster as controller", kind, r)
		}
		if obj.GetNamespace() != "prod" {
			t.Errorf("%s: namespace %q, want prod", kind, obj.GetNamespace())
		}
		for k, v := range Labels(qc) {
			if obj.GetLabels()[k] != v {
				t.Errorf("%s: label %s = %q, want %q", kind, k, obj.GetLabels()[k], v)
			}
		}
		names[kind+"/"+obj.GetName()] = true
	}
	for _, want := range []string{"StatefulSet/orders", "Service/orders-headless", "Service/orders",
		"PodDisruptionBudget/orders", "ConfigMap/orders-config", "ServiceAccount/orders"} {
		if !names[want] {
			t.Errorf("no %s among %v", want, names)
		}
	}
}
