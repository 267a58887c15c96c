package build

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// HeadlessService gives every pod a stable DNS name,
// <pod>.<name>-headless.<namespace>.svc, that Raft advertises and gossip joins
// by. It publishes pods that are not ready: a node is not ready until the
// cluster has formed, and it cannot form unless the nodes find each other.
//
// Its label carrier.dev/service=headless tells it from the client Service
// (both carry the cluster's labels), for a ServiceMonitor that scrapes
// every node through it.
func HeadlessService(qc *v1alpha1.QueueCluster) *corev1.Service {
	meta := objectMeta(qc, HeadlessServiceName(qc))
	meta.Labels[ServiceLabel] = "headless"
	return &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 SelectorLabels(qc),
			Ports: []corev1.ServicePort{
				servicePort("http", HTTPPort, corev1.ProtocolTCP),
				servicePort("raft", RaftPort, corev1.ProtocolTCP),
				servicePort("gossip", GossipPort, corev1.ProtocolTCP),
				servicePort("gossip-udp", GossipPort, corev1.ProtocolUDP),
			},
		},
	}
}

func servicePort(name string, port int32, proto corev1.Protocol) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, TargetPort: intstr.FromInt32(port), Protocol: proto}
}
