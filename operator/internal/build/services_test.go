package build

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestHeadlessService(t *testing.T) {
	s := HeadlessService(newCluster()).Spec
	if s.ClusterIP != corev1.ClusterIPNone || !s.PublishNotReadyAddresses {
		t.Errorf("clusterIP %q, publishNotReadyAddresses %v; want None and true (nodes find each other before they are ready)",
			s.ClusterIP, s.PublishNotReadyAddresses)
	}
	ports := map[string]int32{}
	for _, p := range s.Ports {
		ports[p.Name+"/"+string(p.Protocol)] = p.Port
	}
	for name, want := range map[string]int32{"http/TCP": 7420, "raft/TCP": 7421, "gossip/TCP": 7422, "gossip-udp/UDP": 7422} {
		if ports[name] != want {
			t.Errorf("port %s = %d, want %d (all: %v)", name, ports[name], want, ports)
		}
	}
	if s.Selector["app.kubernetes.io/instance"] != "orders" {
		t.Errorf("selector %v", s.Selector)
	}
}

func TestClientService(t *testing.T) {
	qc := newCluster()
	svc := ClientService(qc)
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.PublishNotReadyAddresses {
		t.Errorf("type %q, publishNotReadyAddresses %v; want ClusterIP, only ready nodes", svc.Spec.Type, svc.Spec.PublishNotReadyAddresses)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 7420 {
		t.Errorf("ports %+v, want only 7420 (Raft and gossip are not for clients)", svc.Spec.Ports)
	}
	qc.Spec.Service.Type = corev1.ServiceTypeLoadBalancer
	qc.Spec.Service.Annotations = map[string]string{"lb/internal": "true"}
	svc = ClientService(qc)
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Annotations["lb/internal"] != "true" {
		t.Errorf("overrides: type %q, annotations %v", svc.Spec.Type, svc.Annotations)
	}
}
