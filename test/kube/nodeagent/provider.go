package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
)

// provider runs the pods virtual-kubelet hands to the node. It implements
// node.PodLifecycleHandler and node.PodNotifier: every change of a pod's
// state (a container started, exited, passed or failed a probe) is sent
// through the callback NotifyPods registered, and virtual-kubelet writes
// it to the pod's status. Methods may be called concurrently.
type provider struct {
	cfg    config
	env    envResolver
	vols   volumes
	images *images
	self   string // the agent's binary, which is also the container helper

	mu     sync.Mutex
	pods   map[string]*podRun // by namespace/name
	ips    map[netip.Addr]string
	notify func(*corev1.Pod)
}

func newProvider(cfg config, client kubernetes.Interface, cms corev1listers.ConfigMapLister, secrets corev1listers.SecretLister, imgs *images, self string) *provider {
	env := envResolver{configMaps: cms, secrets: secrets}
	return &provider{
		cfg:    cfg,
		env:    env,
		vols:   volumes{client: client, env: env},
		images: imgs,
		self:   self,
		pods:   map[string]*podRun{},
		ips:    map[netip.Addr]string{},
		notify: func(*corev1.Pod) {},
	}
}

func podKey(ns, name string) string { return ns + "/" + name }

// CreatePod gives the pod an address and starts its containers; it returns
// at once, the containers' progress comes through the notifications.
func (p *provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	key := podKey(pod.Namespace, pod.Name)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.pods[key]; ok {
		return nil
	}
	ip, err := p.allocate(key, pod.Status.PodIP)
	if err != nil {
		return err
	}
	r := newPodRun(p, pod.DeepCopy(), ip, filepath.Join(p.cfg.stateDir, "pods", string(pod.UID)))
	p.pods[key] = r
	go r.run()
	slog.Info("pod created", "pod", key, "ip", ip)
	return nil
}

// allocate returns the pod's address: the one it had (a node that comes
// back keeps its pods' addresses) when it is free, else the lowest free one
// of the range after the node's own.
func (p *provider) allocate(key, had string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(had); err == nil && p.cfg.podCIDR.Contains(a) && a != nodeAddr(p.cfg.podCIDR) {
		if _, used := p.ips[a]; !used {
			p.ips[a] = key
			return a, nil
		}
	}
	for a := nodeAddr(p.cfg.podCIDR).Next(); p.cfg.podCIDR.Contains(a.Next()); a = a.Next() {
		if _, used := p.ips[a]; !used {
			p.ips[a] = key
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address left in %s", p.cfg.podCIDR)
}

// UpdatePod takes the pod's new metadata; what a kubelet would act on in a
// running pod's spec (an image changed in place) is not modelled.
func (p *provider) UpdatePod(ctx context.Context, pod *corev1.Pod) error {
	r := p.get(pod.Namespace, pod.Name)
	if r == nil {
		return errdefs.NotFoundf("pod %s/%s is not on this node", pod.Namespace, pod.Name)
	}
	r.update(pod)
	return nil
}

// DeletePod stops the pod's containers (SIGTERM, then SIGKILL after the
// grace period) and returns once their processes are gone, with the final
// status sent; only then may the pod object go.
func (p *provider) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	r := p.get(pod.Namespace, pod.Name)
	if r == nil {
		return errdefs.NotFoundf("pod %s/%s is not on this node", pod.Namespace, pod.Name)
	}
	r.stop(gracePeriod(pod))
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	key := podKey(pod.Namespace, pod.Name)
	p.mu.Lock()
	if p.pods[key] == r {
		delete(p.pods, key)
		delete(p.ips, r.ip)
	}
	notify := p.notify
	p.mu.Unlock()
	notify(r.snapshot())
	if err := os.RemoveAll(r.dir); err != nil {
		slog.Warn("removing a pod's folder", "pod", key, "err", err)
	}
	slog.Info("pod deleted", "pod", key)
	return nil
}

func gracePeriod(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

func (p *provider) get(ns, name string) *podRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pods[podKey(ns, name)]
}

// GetPod returns the pod with its current status.
func (p *provider) GetPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	r := p.get(ns, name)
	if r == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", ns, name)
	}
	return r.snapshot(), nil
}

// GetPodStatus returns the pod's current status.
func (p *provider) GetPodStatus(ctx context.Context, ns, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every pod the node runs.
func (p *provider) GetPods(ctx context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	runs := make([]*podRun, 0, len(p.pods))
	for _, r := range p.pods {
		runs = append(runs, r)
	}
	p.mu.Unlock()
	out := make([]*corev1.Pod, len(runs))
	for i, r := range runs {
		out[i] = r.snapshot()
	}
	return out, nil
}

// NotifyPods registers the callback that takes every status change.
func (p *provider) NotifyPods(ctx context.Context, cb func(*corev1.Pod)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notify = cb
}

func (p *provider) notifier() func(*corev1.Pod) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.notify
}

// shutdown kills every container at once and waits until they are gone.
func (p *provider) shutdown() {
	p.mu.Lock()
	runs := make([]*podRun, 0, len(p.pods))
	for _, r := range p.pods {
		runs = append(runs, r)
	}
	p.mu.Unlock()
	for _, r := range runs {
		r.stop(0)
	}
	for _, r := range runs {
		<-r.done
	}
	slog.Info("node agent stopped its pods", "pods", len(runs))
}
