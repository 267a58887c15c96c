package kubetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The test DNS answers Services and pods: a headless Service's pods one by
// one (by hostname) and together, another Service at the address set for
// it; unknown names of the domain are NXDOMAIN, others refused.
func TestDNS(t *testing.T) {
	cp := Start(t)
	dns := cp.StartDNS(t, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := cp.Client
	ns := "names"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	sel := map[string]string{"app": "db"}
	port := []corev1.ServicePort{{Name: "http", Port: 7420}}
	for _, svc := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "peers"}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
			PublishNotReadyAddresses: true, Selector: sel, Ports: port}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}, Spec: corev1.ServiceSpec{Selector: sel, Ports: port}},
	} {
		if err := c.Create(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}
	for i, ip := range []string{"127.0.60.1", "127.0.60.2"} {
		runningPod(t, ctx, cp, ns, fmt.Sprintf("db-%d", i), "peers", ip, sel)
	}
	dns.SetServiceAddress(ns, "db", netip.MustParseAddr("127.0.61.1"))
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dns.Addr().String())
	}}
	for name, want := range map[string][]string{
		"db-0.peers." + ns + ".svc.cluster.local.": {"127.0.60.1"},
		"db-1.peers." + ns + ".svc.cluster.local.": {"127.0.60.2"},
		"peers." + ns + ".svc.cluster.local.":      {"127.0.60.1", "127.0.60.2"},
		"db." + ns + ".svc.cluster.local.":         {"127.0.61.1"},
	} {
		poll(t, ctx, "resolve "+name, func() error {
			got, err := r.LookupHost(ctx, name)
			if err != nil {
				return err
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return fmt.Errorf("%s: %v, want %v", name, got, want)
			}
			return nil
		})
	}
	for _, name := range []string{"nobody.peers." + ns + ".svc.cluster.local.", "nothing." + ns + ".svc.cluster.local."} {
		var dnsErr *net.DNSError
		if _, err := r.LookupHost(ctx, name); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
	if _, err := r.LookupHost(ctx, "example.com."); err == nil {
		t.Error("example.com resolved; want it refused (no recursion)")
	}
}

// runningPod creates a pod and sets its status as a kubelet would once it
// runs and is ready at ip.
func runningPod(t *testing.T, ctx context.Context, cp *ControlPlane, ns, name, subdomain, ip string, labels map[string]string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{Hostname: name, Subdomain: subdomain, Containers: []corev1.Container{{Name: "db", Image: "example/db:1"}}}}
	if err := cp.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, StartTime: &now,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}}
	if err := cp.Client.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
}
