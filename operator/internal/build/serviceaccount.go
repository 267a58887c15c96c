package build

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// ServiceAccount is the pods' identity. Carrier never calls the Kubernetes
// API, so no token is mounted and no role is bound.
func ServiceAccount(qc *v1alpha1.QueueCluster) *corev1.ServiceAccount {
	no := false
	return &corev1.ServiceAccount{
		TypeMeta:                     typeMeta("v1", "ServiceAccount"),
		ObjectMeta:                   objectMeta(qc, ServiceAccountName(qc)),
		AutomountServiceAccountToken: &no,
	}
}
