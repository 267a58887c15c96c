package build

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// ClientService is what applications connect to (HTTP and WebSocket on
// 7420): only ready nodes receive connections. Any node serves any client.
func ClientService(qc *v1alpha1.QueueCluster) *corev1.Service {
	meta := objectMeta(qc, ClientServiceName(qc))
	meta.Labels[ServiceLabel] = "client"
	if len(qc.Spec.Service.Annotations) > 0 {
		meta.Annotations = merge(nil, qc.Spec.Service.Annotations)
	}
	typ := qc.Spec.Service.Type
	if typ == "" {
		typ = corev1.ServiceTypeClusterIP
	}
	return &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			Type:     typ,
			Selector: SelectorLabels(qc),
			Ports:    []corev1.ServicePort{servicePort("http", HTTPPort, corev1.ProtocolTCP)},
		},
	}
}
