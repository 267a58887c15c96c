package kubetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"golang.org/x/net/dns/dnsmessage"
)

// Domain is the cluster domain the test DNS server answers for.
const Domain = "cluster.local."

// DNS stands in for a cluster's DNS (CoreDNS with its kubernetes plugin),
// for the A records pods use to find each other and their Services:
//
//	<service>.<namespace>.svc.cluster.local         a Service: its address
//	<hostname>.<service>.<namespace>.svc.cluster.local
//	                                                a pod behind a headless Service
//
// A headless Service's name answers the addresses of its pods (ready ones,
// or all when it publishes not-ready addresses, as a StatefulSet's
// governing Service does); another Service's answers ServiceAddress (a
// loopback address its proxy listens on), or nothing when none is set.
// Names are read from the API server on every query (no cache to go
// stale): the Service, and the pods its selector picks, as CoreDNS reads
// them through EndpointSlices. Not through EndpointSlices themselves: the
// test pods' addresses are loopback ones (127.x.y.z), which the API server
// refuses in an EndpointSlice, so Kubernetes' EndpointSlice controller
// cannot write them. Only A queries over UDP are answered; other names of
// the domain are NXDOMAIN, names outside it REFUSED (no recursion).
// Records have a TTL of 1 s.
type DNS struct {
	c    client.Client
	conn net.PacketConn
	// ServiceAddress maps a Service (namespace/name) that is not headless to
	// the address that serves it; set it before queries for that name.
	mu             sync.Mutex
	serviceAddress map[string]netip.Addr
}

// StartDNS serves on addr ("127.0.53.1:53": resolv.conf names a server
// without a port, so containers need port 53) until t ends.
func (cp *ControlPlane) StartDNS(t testing.TB, addr string) *DNS {
	t.Helper()
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("kubetest: DNS on %s: %v", addr, err)
	}
	d := &DNS{c: cp.Client, conn: conn, serviceAddress: map[string]netip.Addr{}}
	done := make(chan struct{})
	go func() { defer close(done); d.serve() }()
	t.Cleanup(func() { _ = conn.Close(); <-done })
	return d
}

// Addr is where the server listens.
func (d *DNS) Addr() net.Addr { return d.conn.LocalAddr() }

// SetServiceAddress makes <name>.<namespace>.svc answer addr.
func (d *DNS) SetServiceAddress(namespace, name string, addr netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.serviceAddress[namespace+"/"+name] = addr
}

func (d *DNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		resp, err := d.answer(buf[:n])
		if err != nil {
			continue // not a DNS message: nothing to answer
		}
		_, _ = d.conn.WriteTo(resp, from)
	}
}

// answer builds the response to one query message.
func (d *DNS) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	h.Response, h.Authoritative, h.RecursionAvailable = true, true, false
	ips, rcode := d.lookup(q)
	h.RCode = rcode
	b := dnsmessage.NewBuilder(nil, h)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	for _, ip := range ips {
		rh := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 1}
		if err := b.AResource(rh, dnsmessage.AResource{A: ip.As4()}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// lookup resolves one question: the addresses, and the response code.
func (d *DNS) lookup(q dnsmessage.Question) ([]netip.Addr, dnsmessage.RCode) {
	name := strings.ToLower(q.Name.String())
	rest, ok := strings.CutSuffix(name, ".svc."+Domain)
	if !ok {
		if strings.HasSuffix(name, "."+Domain) {
			return nil, dnsmessage.RCodeNameError
		}
		return nil, dnsmessage.RCodeRefused
	}
	labels := strings.Split(rest, ".")
	if q.Type != dnsmessage.TypeA || (len(labels) != 2 && len(labels) != 3) {
		return nil, dnsmessage.RCodeSuccess // no record of that type: an empty answer
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var ips []netip.Addr
	var err error
	if len(labels) == 2 {
		ips, err = d.service(ctx, labels[1], labels[0])
	} else {
		ips, err = d.pod(ctx, labels[2], labels[1], labels[0])
	}
	switch {
	case errors.Is(err, errNoName):
		return nil, dnsmessage.RCodeNameError
	case err != nil:
		return nil, dnsmessage.RCodeServerFailure
	}
	return ips, dnsmessage.RCodeSuccess
}

var errNoName = errors.New("no such name")

// service answers <name>.<ns>.svc.
func (d *DNS) service(ctx context.Context, ns, name string) ([]netip.Addr, error) {
	var svc corev1.Service
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		return nil, errNoName
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		d.mu.Lock()
		addr, ok := d.serviceAddress[ns+"/"+name]
		d.mu.Unlock()
		if !ok {
			return nil, nil
		}
		return []netip.Addr{addr}, nil
	}
	return d.endpoints(ctx, &svc, "")
}

// pod answers <hostname>.<service>.<ns>.svc.
func (d *DNS) pod(ctx context.Context, ns, service, hostname string) ([]netip.Addr, error) {
	var svc corev1.Service
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: service}, &svc); err != nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		return nil, errNoName
	}
	ips, err := d.endpoints(ctx, &svc, hostname)
	if err == nil && len(ips) == 0 {
		return nil, errNoName
	}
	return ips, err
}

// endpoints are the addresses of the pods svc selects (of hostname only,
// when it is set, as a pod with that hostname and svc as its subdomain),
// those the Service publishes.
func (d *DNS) endpoints(ctx context.Context, svc *corev1.Service, hostname string) ([]netip.Addr, error) {
	if len(svc.Spec.Selector) == 0 {
		return nil, nil
	}
	var pods corev1.PodList
	if err := d.c.List(ctx, &pods, client.InNamespace(svc.Namespace), client.MatchingLabels(svc.Spec.Selector)); err != nil {
		return nil, fmt.Errorf("pods of %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	var out []netip.Addr
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || (!podReady(&p) && !svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		if hostname != "" && (p.Spec.Hostname != hostname || p.Spec.Subdomain != svc.Name) {
			continue
		}
		if ip, err := netip.ParseAddr(p.Status.PodIP); err == nil && ip.Is4() {
			out = append(out, ip)
		}
	}
	return out, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
