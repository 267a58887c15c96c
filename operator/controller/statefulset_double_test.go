package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clustertest "github.com/carriermq/carrier/test/cluster"
)

// statefulSets stands in for the parts of Kubernetes that do not run under
// envtest, for one StatefulSet: the StatefulSet controller (a pod and a
// claim per ordinal below spec.replicas, from the live template; the pods
// above it deleted, highest first) and the kubelet (a pod runs as the
// carrier node of the same name: a deleted pod's node gets SIGTERM, a
// created pod's node starts; nodes for new ordinals are added to the
// cluster). It decides nothing: every order, refusal, removal and transfer
// is the operator's. What it saw happen is in its journal, with the live
// cluster's state at that moment, for the tests to check.
type statefulSets struct {
	t      *testing.T
	e      *env
	cl     *clustertest.Cluster // nil: pods and claims only, no processes
	name   string
	broken func(image string) bool // pods of these images never start
	// resize, when set, says whether the volume of a claim whose request
	// exceeds its capacity has grown (the storage driver's part): its
	// capacity then becomes its request.
	resize func(claim string) bool

	// kubeletOnly leaves the pods to Kubernetes' StatefulSet controller
	// (kubetest's StartControllers): only the kubelet's part is done here.
	kubeletOnly bool

	mu      sync.Mutex
	uids    map[string]types.UID // the pods it runs, by name
	hashes  map[string]string    // their template hashes
	journal []happening
}

// happening is one pod deleted or created, with the cluster as it was
// just before (read from a running node).
type happening struct {
	pod      string
	deleted  bool   // else created
	scaled   bool   // deleted because its ordinal is above spec.replicas
	hash     string // the pod's template hash
	leader   string // the leader just before
	notReady []string
	inConfig bool // the pod's member was in the Raft configuration just before
}

func (h happening) String() string {
	what := "created"
	if h.deleted {
		what = "deleted"
	}
	if h.scaled {
		what += " (scaled away)"
	}
	return fmt.Sprintf("%s %s (hash %s; leader %s, not ready %v, member %v)", h.pod, what, h.hash, h.leader, h.notReady, h.inConfig)
}

// runStatefulSets starts the stand-in; it stops with the test.
func (e *env) runStatefulSets(cl *clustertest.Cluster, name string) *statefulSets {
	s := &statefulSets{t: e.t, e: e, cl: cl, name: name, uids: map[string]types.UID{}, hashes: map[string]string{},
		broken: func(string) bool { return false }, kubeletOnly: e.controllers}
	c, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := s.round(c); err != nil && c.Err() == nil {
				e.t.Logf("statefulset stand-in: %v", err)
			}
			select {
			case <-c.Done():
				return
			case <-tick.C:
			}
		}
	}()
	e.t.Cleanup(func() { cancel(); <-done })
	return s
}

// set changes a setting of the stand-in while it runs.
func (s *statefulSets) set(fn func(s *statefulSets)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

// happenings returns the journal so far.
func (s *statefulSets) happenings() []happening {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.journal)
}

func (s *statefulSets) round(ctx context.Context) error {
	var sts appsv1.StatefulSet
	if err := s.e.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: s.name}, &sts); err != nil {
		return client.IgnoreNotFound(err)
	}
	pods, err := s.pods(ctx, &sts)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kubeletOnly {
		return s.runPods(ctx, &sts, pods)
	}
	for name, uid := range s.uids {
		if p, ok := pods[name]; !ok || p.UID != uid {
			s.deleted(ctx, name, false, "")
		}
	}
	for i := int32(0); i < *sts.Spec.Replicas; i++ {
		name := fmt.Sprintf("%s-%d", s.name, i)
		if _, ok := pods[name]; !ok {
			if err := s.create(ctx, &sts, name); err != nil {
				return err
			}
		}
	}
	for _, p := range above(pods, s.name, *sts.Spec.Replicas) {
		if err := s.e.c.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
			return err
		}
		s.deleted(ctx, p.Name, true, podHash(p))
	}
	return s.resizeClaims(ctx)
}

// runPods is the kubelet's part alone, with Kubernetes' StatefulSet
// controller making and deleting the pods: a pod gone (or replaced, another
// UID) stops its node, a new pod starts one.
func (s *statefulSets) runPods(ctx context.Context, sts *appsv1.StatefulSet, pods map[string]*corev1.Pod) error {
	for name, uid := range s.uids {
		if p, ok := pods[name]; !ok || p.UID != uid || p.DeletionTimestamp != nil {
			n, _ := ordinalOf(name)
			s.deleted(ctx, name, n >= *sts.Spec.Replicas, s.hashes[name])
		}
	}
	for name, p := range pods {
		if _, known := s.uids[name]; known || p.DeletionTimestamp != nil {
			continue
		}
		if err := s.run(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func ordinalOf(pod string) (int32, bool) {
	var n int32
	_, err := fmt.Sscanf(pod[strings.LastIndex(pod, "-")+1:], "%d", &n)
	return n, err == nil
}

// above are the pods of ordinal n and higher, highest first.
func above(pods map[string]*corev1.Pod, sts string, n int32) []*corev1.Pod {
	var out []*corev1.Pod
	for i := int32(len(pods)) + n; i >= n; i-- {
		if p, ok := pods[fmt.Sprintf("%s-%d", sts, i)]; ok {
			out = append(out, p)
		}
	}
	return out
}

func (s *statefulSets) pods(ctx context.Context, sts *appsv1.StatefulSet) (map[string]*corev1.Pod, error) {
	var list corev1.PodList
	if err := s.e.c.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels(sts.Spec.Selector.MatchLabels)); err != nil {
		return nil, err
	}
	out := map[string]*corev1.Pod{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out, nil
}

// deleted records a pod gone and stops its node, as the kubelet would.
func (s *statefulSets) deleted(ctx context.Context, name string, scaled bool, hash string) {
	h := s.observe(ctx, name)
	h.deleted, h.scaled, h.hash = true, scaled, hash
	s.journal = append(s.journal, h)
	delete(s.uids, name)
	delete(s.hashes, name)
	if n := s.node(name); n != nil {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := n.Stop(c); err != nil {
			s.t.Logf("stop %s: %v", name, err)
		}
	}
}

// create makes the pod (and its claim) from the live template and starts
// its node unless its image is broken.
func (s *statefulSets) create(ctx context.Context, sts *appsv1.StatefulSet, name string) error {
	if err := s.ensureClaim(ctx, sts, name); err != nil {
		return err
	}
	spec := *sts.Spec.Template.Spec.DeepCopy()
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-" + name}}})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		Labels: sts.Spec.Template.Labels, Annotations: sts.Spec.Template.Annotations}, Spec: spec}
	if err := s.e.c.Create(ctx, pod); err != nil {
		return fmt.Errorf("create pod %s: %w", name, err)
	}
	return s.run(ctx, pod)
}

// run records a new pod and starts its node unless its image is broken,
// as the kubelet would.
func (s *statefulSets) run(ctx context.Context, pod *corev1.Pod) error {
	name := pod.Name
	h := s.observe(ctx, name)
	h.hash = podHash(pod)
	s.journal = append(s.journal, h)
	s.uids[name], s.hashes[name] = pod.UID, podHash(pod)
	if s.cl == nil || s.broken(pod.Spec.Containers[0].Image) {
		return nil
	}
	n := s.node(name)
	if n == nil {
		var err error
		if n, err = s.cl.Add(); err != nil {
			return fmt.Errorf("add node for %s: %w", name, err)
		}
		if n.ID != name {
			return fmt.Errorf("added node %s for pod %s: pods must be added in ordinal order", n.ID, name)
		}
		return nil
	}
	if n.Running() {
		return nil
	}
	return n.Start()
}

// ensureClaim creates pod name's claim from the template, bound, its
// capacity its request, unless it exists (claims outlive their pods).
func (s *statefulSets) ensureClaim(ctx context.Context, sts *appsv1.StatefulSet, pod string) error {
	tmpl := sts.Spec.VolumeClaimTemplates[0]
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tmpl.Name + "-" + pod,
		Labels: tmpl.Labels}, Spec: *tmpl.Spec.DeepCopy()}
	err := s.e.c.Create(ctx, pvc)
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create claim %s: %w", pvc.Name, err)
	}
	pvc.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: pvc.Spec.AccessModes,
		Capacity: corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]}}
	return s.e.c.Status().Update(ctx, pvc)
}

// resizeClaims grows the volumes the resize func says have grown.
func (s *statefulSets) resizeClaims(ctx context.Context) error {
	if s.resize == nil {
		return nil
	}
	var list corev1.PersistentVolumeClaimList
	if err := s.e.c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return err
	}
	for i := range list.Items {
		pvc := &list.Items[i]
		req, got := pvc.Spec.Resources.Requests[corev1.ResourceStorage], pvc.Status.Capacity[corev1.ResourceStorage]
		if !strings.HasPrefix(pvc.Name, "data-"+s.name+"-") || req.Cmp(got) <= 0 || !s.resize(pvc.Name) {
			continue
		}
		pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: req.DeepCopy()}
		if err := s.e.c.Status().Update(ctx, pvc); err != nil {
			return err
		}
	}
	return nil
}

// observe is the cluster as a running node other than pod sees it.
func (s *statefulSets) observe(ctx context.Context, pod string) happening {
	h := happening{pod: pod}
	if s.cl == nil {
		return h
	}
	for _, n := range s.cl.Running() {
		if n.ID == pod {
			continue
		}
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := n.Status(c)
		cancel()
		if err != nil {
			continue
		}
		h.leader = st.Leader
		for _, m := range st.Members {
			if m.ID == pod && clustertest.InConfiguration(m.Suffrage) {
				h.inConfig = true
			}
			if m.ID != pod && clustertest.InConfiguration(m.Suffrage) && !s.ready(ctx, m.ID) {
				h.notReady = append(h.notReady, m.ID)
			}
		}
		return h
	}
	return h
}

func (s *statefulSets) ready(ctx context.Context, id string) bool {
	n := s.node(id)
	if n == nil || !n.Running() {
		return false
	}
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return n.Admin().Ready(c) == nil
}

func (s *statefulSets) node(name string) *clustertest.Node {
	if s.cl == nil {
		return nil
	}
	return s.cl.Node(name)
}

func podHash(p *corev1.Pod) string { return p.Annotations["carrier.dev/pod-template-hash"] }

// gib is n GiB.
func gib(n int64) resource.Quantity { return *resource.NewQuantity(n<<30, resource.BinarySI) }
