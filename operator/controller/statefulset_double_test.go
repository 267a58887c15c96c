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
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	clustertest "github.com/carriermq/carrier/test/cluster"
	kubetest "github.com/carriermq/carrier/test/kube"
)

// statefulSets stands in for the kubelet (none runs under envtest) for the
// pods of one StatefulSet, which Kubernetes' own StatefulSet controller makes
// and deletes (newEnvWithControllers): a pod runs as the carrier node of the
// same name; a new pod's node starts (nodes for new ordinals are added to the
// cluster), a deleted pod's node gets SIGTERM and the pod goes only once
// the node has stopped (terminationFinalizer). It decides nothing: every
// order, refusal, removal and transfer is the operator's. What it saw happen
// is in its journal, with the live cluster's state at that moment, for the
// tests to check.
type statefulSets struct {
	t      *testing.T
	e      *env
	cl     *clustertest.Cluster // nil: pods only, no processes
	name   string
	broken func(image string) bool // pods of these images never start

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
		broken: func(string) bool { return false }}
	if !e.controllers {
		e.t.Fatal("the stand-in plays the kubelet: the test needs newEnvWithControllers")
	}
	kubetest.RunRounds(e.t, "statefulset stand-in", 50*time.Millisecond, s.round)
	return s
}

// waitHeld waits until the stand-in runs n pods, each held by its
// finalizer. A test calls it before anything may make the operator delete
// a pod: a pod deleted before the stand-in saw it (the StatefulSet
// controller may create the last ones just before) would go at once, its
// node not stopped and its deletion not in the journal.
func (s *statefulSets) waitHeld(n int) {
	within(s.t, operationDeadline, fmt.Sprintf("the stand-in holding %d pods", n), func() error {
		s.mu.Lock()
		held := len(s.uids)
		s.mu.Unlock()
		if held != n {
			return fmt.Errorf("%d pods held", held)
		}
		return nil
	})
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
	return s.runPods(ctx, &sts, pods)
}

// runPods: a pod gone (or replaced: another UID) stops its node, a new pod
// starts one.
func (s *statefulSets) runPods(ctx context.Context, sts *appsv1.StatefulSet, pods map[string]*corev1.Pod) error {
	for name, uid := range s.uids {
		if p, ok := pods[name]; !ok || p.UID != uid || p.DeletionTimestamp != nil {
			n, _ := ordinalOf(name)
			s.deleted(ctx, name, n >= *sts.Spec.Replicas, s.hashes[name])
		}
	}
	for name, p := range pods {
		if p.DeletionTimestamp != nil {
			if err := s.terminated(ctx, p); err != nil {
				return err
			}
			continue
		}
		if _, known := s.uids[name]; known {
			continue
		}
		if err := s.run(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// terminationFinalizer holds a deleted pod until its node has stopped, as
// a kubelet does: the API server removes a pod bound to a node only once
// the kubelet says its containers are gone, so the StatefulSet controller
// cannot create the successor of the same name while the old process still
// runs. The pods here are bound to no node, which the API server would
// remove at once.
const terminationFinalizer = "test.carrier.dev/kubelet"

// terminated lets a deleted pod go once its node has stopped (runPods
// stops it first).
func (s *statefulSets) terminated(ctx context.Context, p *corev1.Pod) error {
	if !controllerutil.ContainsFinalizer(p, terminationFinalizer) {
		return nil
	}
	base := p.DeepCopy()
	controllerutil.RemoveFinalizer(p, terminationFinalizer)
	if err := s.e.c.Patch(ctx, p, client.MergeFrom(base)); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("release pod %s: %w", p.Name, err))
	}
	return nil
}

// hold adds the termination finalizer to a new pod before its node starts.
// No optimistic lock: the scheduler keeps updating the status of these
// unschedulable pods, and nothing else sets their finalizers.
func (s *statefulSets) hold(ctx context.Context, p *corev1.Pod) error {
	base := p.DeepCopy()
	controllerutil.AddFinalizer(p, terminationFinalizer)
	if err := s.e.c.Patch(ctx, p, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("hold pod %s: %w", p.Name, err)
	}
	return nil
}

func ordinalOf(pod string) (int32, bool) {
	var n int32
	_, err := fmt.Sscanf(pod[strings.LastIndex(pod, "-")+1:], "%d", &n)
	return n, err == nil
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

// run records a new pod and starts its node unless its image is broken,
// as the kubelet would.
func (s *statefulSets) run(ctx context.Context, pod *corev1.Pod) error {
	name := pod.Name
	if err := s.hold(ctx, pod); err != nil {
		return client.IgnoreNotFound(err)
	}
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
