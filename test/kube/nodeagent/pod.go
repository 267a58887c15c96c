package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podRun is one pod on the node: its folder, address and containers.
type podRun struct {
	p    *provider
	ip   netip.Addr
	dir  string
	key  string
	done chan struct{} // closed when every container has stopped for good

	stopOnce sync.Once
	stopping chan struct{} // closed by stop
	dirty    chan struct{} // a status change to send (buffered 1)

	mu         sync.Mutex
	pod        *corev1.Pod // the latest spec given, without status
	started    metav1.Time
	ctrs       []*ctrRun
	grace      time.Duration // of the stop
	sandbox    bool          // address, folder and volumes ready
	volumes    map[string]string
	conditions map[corev1.PodConditionType]corev1.PodCondition
	lastMsg    string // why the sandbox is not ready
	finished   bool   // dirty is closed
}

func newPodRun(p *provider, pod *corev1.Pod, ip netip.Addr, dir string) *podRun {
	r := &podRun{
		p: p, ip: ip, dir: dir, key: podKey(pod.Namespace, pod.Name),
		done: make(chan struct{}), stopping: make(chan struct{}), dirty: make(chan struct{}, 1),
		pod: pod, started: metav1.Now(), conditions: map[corev1.PodConditionType]corev1.PodCondition{},
	}
	for _, c := range pod.Spec.Containers {
		r.ctrs = append(r.ctrs, newCtrRun(r, c))
	}
	return r
}

// run sets the pod up and runs its containers until they stop for good.
func (r *podRun) run() {
	defer close(r.done)
	notified := make(chan struct{})
	go func() { defer close(notified); r.notifyLoop() }()
	defer func() { <-notified }()
	defer r.closeDirty()
	r.changed()
	if !r.setUp() {
		return
	}
	var wg sync.WaitGroup
	for _, c := range r.ctrs {
		wg.Go(c.run)
	}
	wg.Wait()
}

// setUp makes the pod's folder, /etc files and volumes, trying again
// (with the containers waiting in ContainerCreating) until it works or the
// pod is stopped.
func (r *podRun) setUp() bool {
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		err := r.trySetUp()
		if err == nil {
			return true
		}
		slog.Warn("pod set-up", "pod", r.key, "err", err)
		r.mu.Lock()
		r.lastMsg = err.Error()
		r.mu.Unlock()
		r.changed()
		if !r.sleep(delay) {
			return false
		}
	}
}

func (r *podRun) trySetUp() error {
	pod := r.podSpec()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, d := range []string{"etc", "logs", "containers"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := r.writeEtc(pod); err != nil {
		return err
	}
	vols, err := r.p.vols.prepare(ctx, pod, r.dir, r.ip.String(), r.hostIP())
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.volumes, r.sandbox, r.lastMsg = vols, true, ""
	r.mu.Unlock()
	r.changed()
	return nil
}

// writeEtc writes the pod's resolv.conf (the cluster DNS, ClusterFirst's
// search list), hosts and hostname.
func (r *podRun) writeEtc(pod *corev1.Pod) error {
	domain := r.p.cfg.domain
	resolv := fmt.Sprintf("search %s.svc.%s svc.%s %s\nnameserver %s\noptions ndots:5\n",
		pod.Namespace, domain, domain, domain, r.p.cfg.clusterDNS)
	if pod.Spec.DNSPolicy == corev1.DNSDefault {
		b, err := os.ReadFile("/etc/resolv.conf")
		if err != nil {
			return err
		}
		resolv = string(b)
	}
	host := hostname(pod)
	names := []string{host}
	if pod.Spec.Subdomain != "" {
		fqdn := fmt.Sprintf("%s.%s.%s.svc.%s", host, pod.Spec.Subdomain, pod.Namespace, domain)
		names = []string{fqdn, host}
	}
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n", r.ip, strings.Join(names, " "))
	files := map[string]string{"resolv.conf": resolv, "hosts": hosts, "hostname": host + "\n"}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(r.dir, "etc", name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func hostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return pod.Name
}

func (r *podRun) hostIP() string { return nodeAddr(r.p.cfg.podCIDR).String() }

func (r *podRun) podSpec() *corev1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pod.DeepCopy()
}

func (r *podRun) update(pod *corev1.Pod) {
	r.mu.Lock()
	r.pod.ObjectMeta = *pod.ObjectMeta.DeepCopy()
	r.pod.Status.Conditions = pod.Status.Conditions
	r.mu.Unlock()
	r.changed()
}

// stop stops every container: SIGTERM, then SIGKILL after grace (at once
// when grace is 0). It does not wait; done is closed when they are gone.
func (r *podRun) stop(grace time.Duration) {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.grace = grace
		r.mu.Unlock()
		close(r.stopping)
	})
}

func (r *podRun) stopGrace() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.grace
}

// sleep waits d, or returns false if the pod is stopped first.
func (r *podRun) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.stopping:
		return false
	}
}

// changed asks for the status to be sent (once the pod has stopped, the
// final status goes from DeletePod instead).
func (r *podRun) changed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	select {
	case r.dirty <- struct{}{}:
	default:
	}
}

func (r *podRun) closeDirty() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished = true
	close(r.dirty)
}

// notifyLoop sends the latest status after each change, one at a time, so
// that an older one never overtakes a newer one.
func (r *podRun) notifyLoop() {
	for range r.dirty {
		r.p.notifier()(r.snapshot())
	}
}
