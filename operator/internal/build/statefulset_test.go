package build

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

func TestStatefulSetShape(t *testing.T) {
	sts := StatefulSet(newCluster(), StatefulSetParams{})
	s := sts.Spec
	if s.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy = %q, want Parallel", s.PodManagementPolicy)
	}
	if s.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType || s.UpdateStrategy.RollingUpdate != nil {
		t.Errorf("updateStrategy = %+v, want OnDelete", s.UpdateStrategy)
	}
	if s.ServiceName != "orders-headless" {
		t.Errorf("serviceName = %q, want orders-headless", s.ServiceName)
	}
	if *s.Replicas != 3 {
		t.Errorf("replicas = %d, want the default 3", *s.Replicas)
	}
	for k, v := range s.Selector.MatchLabels {
		if s.Template.Labels[k] != v {
			t.Errorf("template label %s = %q, want the selector's %q", k, s.Template.Labels[k], v)
		}
	}
	h := sts.Annotations[TemplateHashAnnotation]
	if h == "" || s.Template.Annotations[TemplateHashAnnotation] != h {
		t.Errorf("hash annotation: StatefulSet %q, template %q; want the same, not empty", h, s.Template.Annotations[TemplateHashAnnotation])
	}
	if got := PodTemplateHash(&s.Template); got != h {
		t.Errorf("annotated hash %q, PodTemplateHash of the template %q", h, got)
	}
}

func TestStatefulSetVolumes(t *testing.T) {
	qc := newCluster()
	vct := StatefulSet(qc, StatefulSetParams{}).Spec.VolumeClaimTemplates
	if len(vct) != 1 || vct[0].Name != "data" {
		t.Fatalf("volumeClaimTemplates = %+v, want one named data", vct)
	}
	if got := vct[0].Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "10Gi" || vct[0].Spec.StorageClassName != nil {
		t.Errorf("default claim: %s of class %v, want 10Gi of the default class", got.String(), vct[0].Spec.StorageClassName)
	}

	qc.Spec.Storage = v1alpha1.StorageSpec{Size: ptr(resource.MustParse("50Gi")), StorageClassName: ptr("fast")}
	claim := StatefulSet(qc, StatefulSetParams{}).Spec.VolumeClaimTemplates[0]
	if got := claim.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "50Gi" || *claim.Spec.StorageClassName != "fast" {
		t.Errorf("claim: %s of class %v, want 50Gi of fast", got.String(), *claim.Spec.StorageClassName)
	}
	if m := claim.Spec.AccessModes; len(m) != 1 || m[0] != corev1.ReadWriteOnce {
		t.Errorf("access modes = %v, want ReadWriteOnce", m)
	}
}

func TestStatefulSetRetention(t *testing.T) {
	retain, del := appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	for _, tt := range []struct {
		spec                    v1alpha1.VolumeRetention
		whenDeleted, whenScaled appsv1.PersistentVolumeClaimRetentionPolicyType
	}{
		{v1alpha1.VolumeRetention{}, retain, retain},
		{v1alpha1.VolumeRetention{WhenDeleted: v1alpha1.VolumeDelete}, del, retain},
		{v1alpha1.VolumeRetention{WhenScaled: v1alpha1.VolumeDelete}, retain, del},
		{v1alpha1.VolumeRetention{WhenDeleted: v1alpha1.VolumeRetain, WhenScaled: v1alpha1.VolumeRetain}, retain, retain},
	} {
		qc := newCluster()
		qc.Spec.Storage.Retention = tt.spec
		got := StatefulSet(qc, StatefulSetParams{}).Spec.PersistentVolumeClaimRetentionPolicy
		if got.WhenDeleted != tt.whenDeleted || got.WhenScaled != tt.whenScaled {
			t.Errorf("retention %+v: got %+v, want whenDeleted %s whenScaled %s", tt.spec, *got, tt.whenDeleted, tt.whenScaled)
		}
	}
}

// A scale changes the StatefulSet's replicas but not its pod template: the
// cluster formed with bootstrapExpect nodes keeps that argument, so scaling
// does not roll every pod.
func TestScaleKeepsTemplate(t *testing.T) {
	qc := newCluster()
	before := StatefulSet(qc, StatefulSetParams{BootstrapExpect: 3})
	qc.Spec.Replicas = 5
	during := StatefulSet(qc, StatefulSetParams{Replicas: 4, BootstrapExpect: 3})
	after := StatefulSet(qc, StatefulSetParams{BootstrapExpect: 3})
	if *during.Spec.Replicas != 4 || *after.Spec.Replicas != 5 {
		t.Errorf("replicas: during %d, after %d; want 4, 5", *during.Spec.Replicas, *after.Spec.Replicas)
	}
	h := before.Annotations[TemplateHashAnnotation]
	if during.Annotations[TemplateHashAnnotation] != h || after.Annotations[TemplateHashAnnotation] != h {
		t.Errorf("template hash changed with the scale: %s, %s, %s", h,
			during.Annotations[TemplateHashAnnotation], after.Annotations[TemplateHashAnnotation])
	}
}
