package kubetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ServiceProxy stands in for kube-proxy for one Service, as the test
// clients see it: it listens on a loopback address, on each TCP port of the
// Service, and hands each connection to the next ready pod the Service
// selects (round robin), at the pod's address and the port's target (a
// number, or a container port's name). The pods are read from the API server
// for each connection, so a pod that turns unready or goes gets no new
// connection; connections already made stay until either side closes.
type ServiceProxy struct {
	c         client.Client
	namespace string
	name      string
	next      atomic.Uint64
	listeners []net.Listener
	wg        sync.WaitGroup

	mu     sync.Mutex
	active map[net.Conn]bool // closed on close, so that it never waits on a client
}

// StartServiceProxy serves the Service namespace/name on ip until t ends.
func (cp *ControlPlane) StartServiceProxy(t testing.TB, namespace, name string, ip netip.Addr) *ServiceProxy {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var svc corev1.Service
	if err := cp.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &svc); err != nil {
		t.Fatalf("kubetest: proxy for %s/%s: %v", namespace, name, err)
	}
	p := &ServiceProxy{c: cp.Client, namespace: namespace, name: name, active: map[net.Conn]bool{}}
	t.Cleanup(p.close)
	for _, port := range svc.Spec.Ports {
		if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
			continue
		}
		l, err := net.Listen("tcp", netip.AddrPortFrom(ip, uint16(port.Port)).String())
		if err != nil {
			t.Fatalf("kubetest: proxy for %s/%s: %v", namespace, name, err)
		}
		p.listeners = append(p.listeners, l)
		p.wg.Go(func() { p.accept(l, port) })
	}
	return p
}

func (p *ServiceProxy) close() {
	for _, l := range p.listeners {
		_ = l.Close()
	}
	p.mu.Lock()
	for c := range p.active {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track adds c to the connections close closes; untrack removes it.
func (p *ServiceProxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active[c] = true
}

func (p *ServiceProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.active, c)
	_ = c.Close()
}

func (p *ServiceProxy) accept(l net.Listener, port corev1.ServicePort) {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return // closed
		}
		conns.Go(func() { p.forward(c, port) })
	}
}

// forward joins c to the next ready backend; with none, c is closed, as a
// Service without endpoints refuses connections.
func (p *ServiceProxy) forward(c net.Conn, port corev1.ServicePort) {
	p.track(c)
	defer p.untrack(c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	backends, err := p.backends(ctx, port)
	cancel()
	if err != nil || len(backends) == 0 {
		return
	}
	addr := backends[p.next.Add(1)%uint64(len(backends))]
	b, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	p.track(b)
	defer p.untrack(b)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(b, c)
	go pipe(c, b)
	<-done
	<-done
}

// backends are host:port of the ready pods the Service selects.
func (p *ServiceProxy) backends(ctx context.Context, port corev1.ServicePort) ([]string, error) {
	var svc corev1.Service
	if err := p.c.Get(ctx, client.ObjectKey{Namespace: p.namespace, Name: p.name}, &svc); err != nil {
		return nil, err
	}
	if len(svc.Spec.Selector) == 0 {
		return nil, nil
	}
	var pods corev1.PodList
	if err := p.c.List(ctx, &pods, client.InNamespace(p.namespace), client.MatchingLabels(svc.Spec.Selector)); err != nil {
		return nil, fmt.Errorf("pods of %s/%s: %w", p.namespace, p.name, err)
	}
	var out []string
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil || !podReady(pod) || pod.Status.PodIP == "" {
			continue
		}
		if target, ok := targetPort(pod, port); ok {
			out = append(out, net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(target)))
		}
	}
	return out, nil
}

// targetPort resolves the port's target on pod: a number, a container
// port's name, or (unset) the port itself.
func targetPort(pod *corev1.Pod, port corev1.ServicePort) (int, bool) {
	switch t := port.TargetPort; {
	case t.Type == intstr.Int && t.IntVal == 0:
		return int(port.Port), true
	case t.Type == intstr.Int:
		return int(t.IntVal), true
	default:
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == t.StrVal {
					return int(cp.ContainerPort), true
				}
			}
		}
	}
	return 0, false
}
