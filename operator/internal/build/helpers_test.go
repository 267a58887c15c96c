package build

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// newCluster is a QueueCluster as a user writes it: most fields unset.
func newCluster() *v1alpha1.QueueCluster {
	return &v1alpha1.QueueCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "orders", UID: types.UID("5f0c-uid")},
		Spec:       v1alpha1.QueueClusterSpec{Image: "registry.example/carrier:0.1.0"},
	}
}

func onlyContainer(t *testing.T, tmpl corev1.PodTemplateSpec) corev1.Container {
	t.Helper()
	if len(tmpl.Spec.Containers) != 1 {
		t.Fatalf("containers = %d, want 1", len(tmpl.Spec.Containers))
	}
	return tmpl.Spec.Containers[0]
}

func ptr[T any](v T) *T { return &v }
