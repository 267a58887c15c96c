package build

import (
	"testing"

	policyv1 "k8s.io/api/policy/v1"
)

func TestPodDisruptionBudget(t *testing.T) {
	s := PodDisruptionBudget(newCluster()).Spec
	if s.MaxUnavailable == nil || s.MaxUnavailable.IntValue() != 1 || s.MinAvailable != nil {
		t.Errorf("maxUnavailable %v, minAvailable %v; want 1 and unset", s.MaxUnavailable, s.MinAvailable)
	}
	if s.UnhealthyPodEvictionPolicy == nil || *s.UnhealthyPodEvictionPolicy != policyv1.IfHealthyBudget {
		t.Errorf("unhealthyPodEvictionPolicy %v, want IfHealthyBudget", s.UnhealthyPodEvictionPolicy)
	}
	if s.Selector.MatchLabels["app.kubernetes.io/instance"] != "orders" {
		t.Errorf("selector %v", s.Selector)
	}
}
