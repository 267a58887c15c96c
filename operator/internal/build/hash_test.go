package build

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

func templateHash(qc *v1alpha1.QueueCluster) string {
	return StatefulSet(qc, StatefulSetParams{BootstrapExpect: 3}).Annotations[TemplateHashAnnotation]
}

func TestHashSameSpecSameHash(t *testing.T) {
	if a, b := templateHash(newCluster()), templateHash(newCluster()); a != b {
		t.Errorf("same spec: %s and %s", a, b)
	}
}

// The hash of a fixed spec is pinned: when it changes, every existing cluster's
// pods would be rolled by an operator upgrade. If a template change is meant,
// update want and say in the release notes that the upgrade rolls clusters.
func TestHashPinned(t *testing.T) {
	const want = "88d396efb36999e1" // the servers bind $(POD_IP) instead of 0.0.0.0 (issue 17)
	if got := templateHash(newCluster()); got != want {
		t.Errorf("the pod template of a fixed spec renders differently: hash %s, pinned %s; an operator upgrade would roll every cluster", got, want)
	}
}

func TestHashChangesWithSpec(t *testing.T) {
	base := templateHash(newCluster())
	for name, change := range map[string]func(*v1alpha1.QueueCluster){
		"image":  func(qc *v1alpha1.QueueCluster) { qc.Spec.Image = "registry.example/carrier:0.2.0" },
		"config": func(qc *v1alpha1.QueueCluster) { qc.Spec.Config.LogLevel = "debug" },
		"resources": func(qc *v1alpha1.QueueCluster) {
			qc.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		},
		"pod labels": func(qc *v1alpha1.QueueCluster) { qc.Spec.Pod.Labels = map[string]string{"team": "x"} },
	} {
		qc := newCluster()
		change(qc)
		if templateHash(qc) == base {
			t.Errorf("%s changed: the hash did not", name)
		}
	}
}

// Changes that are not the pod's leave the hash alone.
func TestHashIgnoresOtherFields(t *testing.T) {
	base := templateHash(newCluster())
	qc := newCluster()
	qc.Spec.Replicas = 5
	qc.Spec.Storage.Size = ptr(resource.MustParse("100Gi"))
	qc.Spec.Service.Type = corev1.ServiceTypeLoadBalancer
	qc.Status.Leader = "orders-1"
	qc.ResourceVersion, qc.Generation = "12345", 7
	if got := templateHash(qc); got != base {
		t.Errorf("replicas, storage size, service, status and metadata changed the hash: %s, was %s", got, base)
	}
}

// Go randomises map iteration; maps filled in different orders hash the same.
func TestHashMapOrder(t *testing.T) {
	fill := func(qc *v1alpha1.QueueCluster, keys []int) {
		qc.Spec.Pod.Labels, qc.Spec.Pod.Annotations, qc.Spec.Pod.NodeSelector = map[string]string{}, map[string]string{}, map[string]string{}
		for _, k := range keys {
			key := fmt.Sprintf("k%02d", k)
			qc.Spec.Pod.Labels[key], qc.Spec.Pod.Annotations[key], qc.Spec.Pod.NodeSelector[key] = "v", "v", "v"
		}
	}
	up, down := make([]int, 40), make([]int, 40)
	for i := range up {
		up[i], down[i] = i, 39-i
	}
	a, b := newCluster(), newCluster()
	fill(a, up)
	fill(b, down)
	for i := 0; i < 20; i++ {
		if ha, hb := templateHash(a), templateHash(b); ha != hb {
			t.Fatalf("same maps filled in another order: %s and %s", ha, hb)
		}
	}
}
