package build

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// PodDisruptionBudget lets voluntary disruptions (node drains) take one node
// at a time, so a majority stays. Its unhealthy-pod policy is set, not left
// to the cluster's default: IfHealthyBudget lets a drain evict a pod that is
// not ready only while the others are all ready. A node is unready when it
// knows no leader, so during an election every node may be unready and each
// may hold a vote the quorum needs; AlwaysAllow would let a drain take them.
func PodDisruptionBudget(qc *v1alpha1.QueueCluster) *policyv1.PodDisruptionBudget {
	one := intstr.FromInt32(1)
	policy := policyv1.IfHealthyBudget
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   typeMeta("policy/v1", "PodDisruptionBudget"),
		ObjectMeta: objectMeta(qc, PodDisruptionBudgetName(qc)),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable:             &one,
			Selector:                   &metav1.LabelSelector{MatchLabels: SelectorLabels(qc)},
			UnhealthyPodEvictionPolicy: &policy,
		},
	}
}
