package build

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	kubetest "github.com/carriermq/carrier/test/kube"
)

// The rendered children are objects a real API server accepts (its own
// validation of StatefulSets, Services, PDBs…), for a cluster with every
// override set, and the hash annotation survives being stored.
func TestChildrenAcceptedByAPIServer(t *testing.T) {
	cp := kubetest.Start(t,
		kubetest.WithCRDDirectories(filepath.Join("..", "..", "config", "crd")),
		kubetest.WithScheme(v1alpha1.AddToScheme))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := cp.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	qc := everyConfigField()
	qc.UID = ""
	qc.Spec.Pod.Labels = map[string]string{"team": "payments"}
	qc.Spec.Auth = &v1alpha1.SecretReference{SecretName: "carrier-auth"}
	qc.Spec.TLS = &v1alpha1.SecretReference{SecretName: "carrier-tls"}
	if err := c.Create(ctx, qc); err != nil {
		t.Fatalf("create QueueCluster: %v", err)
	}
	sts := StatefulSet(qc, StatefulSetParams{})
	for _, obj := range []client.Object{sts, HeadlessService(qc), ClientService(qc),
		PodDisruptionBudget(qc), ConfigMap(qc), ServiceAccount(qc)} {
		if err := c.Create(ctx, obj); err != nil {
			t.Errorf("create %s %s: %v", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
	}
	var stored appsv1.StatefulSet
	if err := c.Get(ctx, client.ObjectKeyFromObject(sts), &stored); err != nil {
		t.Fatalf("get StatefulSet: %v", err)
	}
	if got, want := stored.Annotations[TemplateHashAnnotation], sts.Annotations[TemplateHashAnnotation]; got != want {
		t.Errorf("stored hash annotation %q, rendered %q", got, want)
	}
	if stored.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType || stored.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("stored strategy %q, policy %q", stored.Spec.UpdateStrategy.Type, stored.Spec.PodManagementPolicy)
	}
}
