package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The test DNS answers Services and pods: a headless Service's pods one by
// one (by hostname) and together, another Service at the address set for
// it; unknown names of the domain are NXDOMAIN, others refused.
func TestDNS(t *testing.T) {
	cp, ctx := withNamespace(t, "names", 2*time.Minute, false)
	dns := cp.StartDNS(t, "127.0.0.1:0")
	c, ns := cp.Client, "names"
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
	// A lookup that times out (the machine busy, the API server slow) is
	// asked again: only an answer counts.
	for _, name := range []string{"nobody.peers." + ns + ".svc.cluster.local.", "nothing." + ns + ".svc.cluster.local."} {
		poll(t, ctx, name+" not found", func() error {
			var dnsErr *net.DNSError
			_, err := r.LookupHost(ctx, name)
			if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
				return nil
			}
			if errors.As(err, &dnsErr) && dnsErr.IsTimeout {
				return err
			}
			t.Fatalf("%s: %v, want not found", name, err)
			return nil
		})
	}
	poll(t, ctx, "example.com refused", func() error {
		var dnsErr *net.DNSError
		_, err := r.LookupHost(ctx, "example.com.")
		switch {
		case err == nil:
			t.Fatal("example.com resolved; want it refused (no recursion)")
		case errors.As(err, &dnsErr) && dnsErr.IsTimeout:
			return err
		}
		return nil
	})
}

// runningPod creates a pod and sets its status as a kubelet would once it
// runs and is ready at ip.
func runningPod(t *testing.T, ctx context.Context, cp *ControlPlane, ns, name, subdomain, ip string, labels map[string]string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{Hostname: name, Subdomain: subdomain, Containers: []corev1.Container{{Name: "app", Image: "example/app:1",
			Ports: []corev1.ContainerPort{{Name: "api", ContainerPort: 7430}}}}}}
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

// The Service proxy hands connections to the ready pods in turn, and none
// to a pod that is not ready.
func TestServiceProxy(t *testing.T) {
	cp, ctx := withNamespace(t, "proxied", time.Minute, false)
	c, ns := cp.Client, "proxied"
	sel := map[string]string{"app": "echo"}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "echo"},
		Spec: corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{{Name: "http", Port: 7420, TargetPort: intstr.FromString("api")}}}}
	if err := c.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	ips := []string{"127.0.70.1", "127.0.70.2"}
	for i, ip := range ips {
		namedServer(t, ip+":7430", fmt.Sprintf("echo-%d", i))
		runningPod(t, ctx, cp, ns, fmt.Sprintf("echo-%d", i), "", ip, sel)
	}
	cp.StartServiceProxy(t, ns, "echo", netip.MustParseAddr("127.0.71.1"))
	seen := map[string]int{}
	for range 6 {
		seen[dialName(t, "127.0.71.1:7420")]++
	}
	if seen["echo-0"] != 3 || seen["echo-1"] != 3 {
		t.Errorf("connections per pod %v; want 3 and 3", seen)
	}
	var pod corev1.Pod
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "echo-1"}, &pod); err != nil {
		t.Fatal(err)
	}
	pod.Status.Conditions[0].Status = corev1.ConditionFalse
	if err := c.Status().Update(ctx, &pod); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if got := dialName(t, "127.0.71.1:7420"); got != "echo-0" {
			t.Errorf("a connection went to %s; want only the ready echo-0", got)
		}
	}
}

// namedServer answers every connection on addr with name, until t ends.
func namedServer(t *testing.T, addr, name string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(name))
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
}

// dialName connects to addr and returns what the server there says.
func dialName(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
