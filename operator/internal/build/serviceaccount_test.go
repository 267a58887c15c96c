package build

import "testing"

func TestServiceAccount(t *testing.T) {
	sa := ServiceAccount(newCluster())
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken %v, want false (Carrier never calls the Kubernetes API)", sa.AutomountServiceAccountToken)
	}
	if sa.Name != PodTemplate(newCluster(), 0).Spec.ServiceAccountName {
		t.Errorf("the pods do not use ServiceAccount %s", sa.Name)
	}
}
