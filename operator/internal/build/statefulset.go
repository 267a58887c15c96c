package build

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// StatefulSetParams are what the StatefulSet depends on beyond the spec;
// the controllers decide them.
type StatefulSetParams struct {
	// Replicas of the StatefulSet; 0 means spec.replicas. A scale moves it one
	// member at a time.
	Replicas int32
	// BootstrapExpect is --bootstrap-expect, the node count the cluster formed
	// with (status.bootstrapExpect); 0 means spec.replicas, for a new cluster.
	// Kept fixed afterwards, so that a scale does not change the pod template.
	BootstrapExpect int32
}

// StatefulSet runs the nodes. Pods start in parallel (a cluster forms only
// once bootstrapExpect nodes see each other, so an ordered start would wait
// forever for pod 0 to be ready) and are replaced only when the operator
// deletes them (OnDelete), so that it decides the order of a rollout:
// followers first, the leader last after a hand-over. The pod template's
// hash is an annotation on the StatefulSet and on the template.
func StatefulSet(qc *v1alpha1.QueueCluster, p StatefulSetParams) *appsv1.StatefulSet {
	n := p.Replicas
	if n <= 0 {
		n = replicas(qc)
	}
	tmpl := PodTemplate(qc, p.BootstrapExpect)
	hash := PodTemplateHash(&tmpl)
	tmpl.Annotations[TemplateHashAnnotation] = hash
	meta := objectMeta(qc, StatefulSetName(qc))
	meta.Annotations = map[string]string{TemplateHashAnnotation: hash}
	return &appsv1.StatefulSet{
		TypeMeta:   typeMeta("apps/v1", "StatefulSet"),
		ObjectMeta: meta,
		Spec: appsv1.StatefulSetSpec{
			Replicas:                             &n,
			Selector:                             &metav1.LabelSelector{MatchLabels: SelectorLabels(qc)},
			ServiceName:                          HeadlessServiceName(qc),
			PodManagementPolicy:                  appsv1.ParallelPodManagement,
			UpdateStrategy:                       appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			Template:                             tmpl,
			VolumeClaimTemplates:                 []corev1.PersistentVolumeClaim{volumeClaim(qc)},
			PersistentVolumeClaimRetentionPolicy: retention(qc.Spec.Storage.Retention),
		},
	}
}

// volumeClaim is each node's data volume, sized and classed by the spec.
// A StatefulSet's claim templates cannot change: a larger size is applied
// to the claims themselves by the controllers.
func volumeClaim(qc *v1alpha1.QueueCluster) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: DataVolumeName, Labels: SelectorLabels(qc)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: qc.Spec.Storage.StorageClassName,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: storageSize(qc)},
			},
		},
	}
}

// retention maps the spec's policy, Retain where unset.
func retention(r v1alpha1.VolumeRetention) *appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy {
	policy := func(v v1alpha1.VolumeRetentionPolicy) appsv1.PersistentVolumeClaimRetentionPolicyType {
		if v == v1alpha1.VolumeDelete {
			return appsv1.DeletePersistentVolumeClaimRetentionPolicyType
		}
		return appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	return &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: policy(r.WhenDeleted),
		WhenScaled:  policy(r.WhenScaled),
	}
}
