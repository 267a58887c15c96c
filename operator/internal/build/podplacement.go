package build

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// affinity is the user's, else (when no topology spread is given either) a
// soft anti-affinity that places the nodes on different hosts where it can:
// two nodes on one host are lost together. Soft, so that a small test
// cluster with fewer hosts than nodes still schedules.
func affinity(qc *v1alpha1.QueueCluster) *corev1.Affinity {
	o := qc.Spec.Pod
	if o.Affinity != nil || len(o.TopologySpreadConstraints) > 0 {
		return o.Affinity
	}
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchLabels: SelectorLabels(qc)},
				TopologyKey:   corev1.LabelHostname,
			},
		}},
	}}
}
