package controller_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	clustertest "github.com/carriermq/carrier/test/cluster"
)

// operationDeadline bounds an operation over three or five pods: each step
// restarts or adds a node and waits for it to catch up.
const operationDeadline = 2 * time.Minute

// An image change replaces the pods one at a time: the followers first,
// the leader last after its leadership moved, each while the others are
// ready voters; the queue keeps its messages. A pod that never becomes
// ready halts the rollout (Degraded, an event) with the other two pods
// serving; a fixed image replaces the broken pod first, and an operator
// restarted midway finishes the rollout.
func TestRollout(t *testing.T) {
	t.Parallel()
	e := newEnvWithControllers(t)
	cl := e.startCluster("web", 3)
	stop := e.startOperator(nil)
	qc := newCluster("web", 3)
	if err := e.c.Create(ctx(t), qc); err != nil {
		t.Fatal(err)
	}
	sets := e.runStatefulSets(cl, "web")
	e.waitClusterReady(qc, cl)
	sets.waitHeld(3)
	publish(t, cl.Nodes()[0].Admin(), "audit", 20)
	first, err := cl.Leader(ctx(t))
	if err != nil {
		t.Fatal(err)
	}

	e.updateSpec(qc, func(qc *v1alpha1.QueueCluster) { qc.Spec.Image = image + "-2" })
	e.waitRolledOut(qc, image+"-2")
	checkRollout(t, sets.happenings(), first.ID)
	e.waitEvent(qc, "LeadershipTransferred")
	e.waitEvent(qc, "RolloutFinished")
	checkDepth(t, cl, "audit", 20)

	e.haltedRollout(qc, sets)

	// The fixed image: the broken pod goes first; the operator restarts
	// after that step and the new one finishes the rollout.
	before := len(sets.happenings())
	e.updateSpec(qc, func(qc *v1alpha1.QueueCluster) { qc.Spec.Image = image + "-3" })
	within(t, operationDeadline, "the broken pod replaced", func() error {
		if h := deletions(sets.happenings()[before:]); len(h) == 0 {
			return errors.New("no pod deleted yet")
		}
		return nil
	})
	stop()
	e.startOperator(nil)
	e.waitRolledOut(qc, image+"-3")
	if h := deletions(sets.happenings()[before:]); h[0].pod != "web-2" {
		t.Errorf("after the fix, %s was replaced first; want the broken web-2: %v", h[0].pod, h)
	}
	checkDepth(t, cl, "audit", 20)
}

// haltedRollout: an image whose pods never start. The first pod replaced
// never comes back; once the step timeout passes the rollout halts with
// Degraded and Progressing False, an event says why, and no other pod is
// touched: two ready nodes keep the cluster serving.
func (e *env) haltedRollout(qc *v1alpha1.QueueCluster, sets *statefulSets) {
	t := e.t
	sets.set(func(s *statefulSets) { s.broken = func(img string) bool { return strings.HasSuffix(img, "-broken") } })
	before := len(sets.happenings())
	e.updateSpec(qc, func(qc *v1alpha1.QueueCluster) { qc.Spec.Image = image + "-broken" })
	within(t, operationDeadline, "RolloutHalted", func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		if err := condition(qc.Status.Conditions, v1alpha1.ConditionDegraded, "True", "RolloutHalted"); err != nil {
			return err
		}
		return condition(qc.Status.Conditions, v1alpha1.ConditionProgressing, "False", "RolloutHalted")
	})
	e.waitEvent(qc, "RolloutHalted")
	if op := qc.Status.Operation; op == nil || !op.Halted || op.Pod != "web-2" || op.Phase != v1alpha1.PhaseReplacing {
		t.Fatalf("operation %+v; want the replacement of web-2, halted", op)
	}
	// Several refreshes later, still only the one pod replaced.
	e.steadyFor(6*refresh, func() error {
		if h := deletions(sets.happenings()[before:]); len(h) != 1 || h[0].pod != "web-2" {
			return fmt.Errorf("pods deleted since the broken image: %v; want web-2 only", h)
		}
		return nil
	})
	if err := e.get(qc); err != nil {
		t.Fatal(err)
	}
	if qc.Status.ReadyReplicas != 2 || qc.Status.Leader == "" {
		t.Fatalf("status %d ready, leader %q; want the two untouched nodes serving", qc.Status.ReadyReplicas, qc.Status.Leader)
	}
}

// waitRolledOut waits for every pod on the StatefulSet's template with
// image img, the cluster Ready and no operation left.
func (e *env) waitRolledOut(qc *v1alpha1.QueueCluster, img string) {
	within(e.t, operationDeadline, "rollout to "+img, func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		st := qc.Status
		if st.Operation != nil {
			return fmt.Errorf("operation %+v", st.Operation)
		}
		if st.CurrentImage != img || st.ReadyReplicas != 3 {
			return fmt.Errorf("image %q, %d ready; want %s on 3", st.CurrentImage, st.ReadyReplicas, img)
		}
		if err := condition(st.Conditions, v1alpha1.ConditionProgressing, "False", "Stable"); err != nil {
			return err
		}
		return condition(st.Conditions, v1alpha1.ConditionReady, "True", "ClusterReady")
	})
}

// checkRollout: three pods replaced, each once; none while it led or while
// another member was not ready; the leader of the start last.
func checkRollout(t *testing.T, hs []happening, firstLeader string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("pods created and deleted: %v", hs)
		}
	}()
	del := deletions(hs)
	var names []string
	for _, h := range del {
		names = append(names, h.pod)
		if h.leader == h.pod || h.leader == "" {
			t.Errorf("%s deleted while the leader was %q", h.pod, h.leader)
		}
		if len(h.notReady) > 0 {
			t.Errorf("%s deleted while %v were not ready", h.pod, h.notReady)
		}
	}
	sorted := slices.Sorted(slices.Values(names))
	if len(del) != 3 || !slices.Equal(sorted, []string{"web-0", "web-1", "web-2"}) {
		t.Fatalf("pods deleted %v; want each of the three once: %v", names, del)
	}
	if names[2] != firstLeader {
		t.Errorf("pods replaced in the order %v; want the leader %s last", names, firstLeader)
	}
}

func deletions(hs []happening) []happening {
	var out []happening
	for _, h := range hs {
		if h.deleted {
			out = append(out, h)
		}
	}
	return out
}

// Scale 3 → 5 → 3: members join and are promoted; on the way down each
// leaves the Raft configuration before its pod goes, the highest ordinal
// first. With one member down, a scale to 1 is refused (Degraded, an
// event): no member is removed, no pod goes.
func TestScale(t *testing.T) {
	t.Parallel()
	e := newEnvWithControllers(t)
	cl := e.startCluster("events", 3)
	e.startOperator(nil)
	qc := newCluster("events", 3)
	if err := e.c.Create(ctx(t), qc); err != nil {
		t.Fatal(err)
	}
	sets := e.runStatefulSets(cl, "events")
	e.waitClusterReady(qc, cl)
	sets.waitHeld(3)
	publish(t, cl.Nodes()[0].Admin(), "billing", 10)

	e.updateSpec(qc, func(qc *v1alpha1.QueueCluster) { qc.Spec.Replicas = 5 })
	e.waitScaled(qc, cl, 5)
	e.waitEvent(qc, "AddingMember")

	e.updateSpec(qc, func(qc *v1alpha1.QueueCluster) { qc.Spec.Replicas = 3 })
	e.waitScaled(qc, cl, 3)
	// The stand-in journals a pod gone once it has stopped its node.
	eventually(t, "two pods gone", func() error {
		if n := len(deletions(sets.happenings())); n < 2 {
			return fmt.Errorf("%d pods gone", n)
		}
		return nil
	})
	var gone []string
	for _, h := range deletions(sets.happenings()) {
		gone = append(gone, h.pod)
		if !h.scaled || h.inConfig {
			t.Errorf("%s: deleted while its member was in the configuration, or not by the scale: %v", h.pod, h)
		}
	}
	if !slices.Equal(gone, []string{"events-4", "events-3"}) {
		t.Errorf("pods gone %v; want events-4 then events-3", gone)
	}
	e.waitEvent(qc, "RemovedMember")
	checkDepth(t, cl, "billing", 10)

	e.refusedScale(qc, cl, sets)
}

// refusedScale stops events-1 and asks for one replica: removing events-2
// would leave one caught-up voter of two, no quorum, so nothing is done.
// Back to three replicas, the refusal ends.
func (e *env) refusedScale(qc *v1alpha1.QueueCluster, cl *clustertest.Cluster, sets *statefulSets) {
	t := e.t
	down := cl.Node("events-1")
	if err := down.Stop(ctx(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "events-1 not ready", func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		if qc.Status.ReadyReplicas != 2 {
			return fmt.Errorf("%d ready", qc.Status.ReadyReplicas)
		}
		return nil
	})
	before := len(sets.happenings())
	e.updateSpec(qc, func(qc *v1alpha1.QueueCluster) { qc.Spec.Replicas = 1 })
	eventually(t, "ScaleDownRefused", func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		if err := condition(qc.Status.Conditions, v1alpha1.ConditionDegraded, "True", "ScaleDownRefused"); err != nil {
			return err
		}
		return condition(qc.Status.Conditions, v1alpha1.ConditionProgressing, "False", "ScaleDownRefused")
	})
	e.waitEvent(qc, "ScaleDownRefused")
	e.steadyFor(6*refresh, func() error {
		if h := sets.happenings()[before:]; len(h) > 0 {
			return fmt.Errorf("pods changed during the refused scale: %v", h)
		}
		return nil
	})
	checkConfiguration(t, cl, []string{"events-0", "events-1", "events-2"})
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "events"}}
	if err := e.get(sts); err != nil || *sts.Spec.Replicas != 3 {
		t.Fatalf("StatefulSet replicas %v (%v); want 3 kept", sts.Spec.Replicas, err)
	}

	e.updateSpec(qc, func(qc *v1alpha1.QueueCluster) { qc.Spec.Replicas = 3 })
	eventually(t, "refusal over", func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		if qc.Status.Operation != nil {
			return fmt.Errorf("operation %+v", qc.Status.Operation)
		}
		return condition(qc.Status.Conditions, v1alpha1.ConditionDegraded, "False", "")
	})
	if err := down.Start(); err != nil {
		t.Fatal(err)
	}
	e.waitScaled(qc, cl, 3)
}

// waitScaled waits for n members, all ready voters, n pods, the
// StatefulSet at n and no operation left.
func (e *env) waitScaled(qc *v1alpha1.QueueCluster, cl *clustertest.Cluster, n int) {
	within(e.t, operationDeadline, fmt.Sprintf("scaled to %d", n), func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		st := qc.Status
		if st.Operation != nil {
			return fmt.Errorf("operation %+v", st.Operation)
		}
		if len(st.Members) != n || int(st.ReadyReplicas) != n || int(st.Replicas) != n {
			return fmt.Errorf("members %+v, %d ready, %d pods; want %d", st.Members, st.ReadyReplicas, st.Replicas, n)
		}
		for _, m := range st.Members {
			if m.Role != v1alpha1.RoleLeader && m.Role != v1alpha1.RoleFollower {
				return fmt.Errorf("member %s is %s", m.Name, m.Role)
			}
		}
		return condition(st.Conditions, v1alpha1.ConditionReady, "True", "ClusterReady")
	})
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("%s-%d", qc.Name, i))
	}
	checkConfiguration(e.t, cl, want)
}

// checkConfiguration: the Raft configuration, read from a running node,
// has exactly the voters want.
func checkConfiguration(t *testing.T, cl *clustertest.Cluster, want []string) {
	t.Helper()
	eventually(t, fmt.Sprintf("configuration %v", want), func() error {
		var errs []error
		for _, n := range cl.Running() {
			st, err := n.Status(ctx(t))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			var voters []string
			for _, m := range st.Members {
				if m.Suffrage == "Voter" {
					voters = append(voters, m.ID)
				} else if clustertest.InConfiguration(m.Suffrage) {
					return fmt.Errorf("%s is a %s", m.ID, m.Suffrage)
				}
			}
			slices.Sort(voters)
			if !slices.Equal(voters, want) {
				return fmt.Errorf("voters %v, want %v", voters, want)
			}
			return nil
		}
		return fmt.Errorf("no running node answered: %v", errors.Join(errs...))
	})
}

// A larger storage size grows the claims one at a time, each once its
// volume has grown (the test provisioner, kubetest's, plays the storage
// driver and holds the growth), and an operator restarted midway finishes;
// the StatefulSet's claim template keeps its size. A storage class that
// does not allow expansion refuses it, and the condition says so. The
// claims are the real StatefulSet controller's, bound by the real volume
// binder. No data plane is needed: the expansion touches claims only.
func TestStorageExpansion(t *testing.T) {
	t.Parallel()
	e := newEnvWithControllers(t)
	prov := e.cp.StartProvisioner(t, map[string]bool{"expandable": true, "fixed": false})
	prov.HoldGrowth(func(string) bool { return false })
	stop := e.startOperator(nil)
	qc := newCluster("vol", 3)
	qc.Spec.Storage = v1alpha1.StorageSpec{Size: ptr.To(gib(1)), StorageClassName: ptr.To("expandable")}
	if err := e.c.Create(ctx(t), qc); err != nil {
		t.Fatal(err)
	}
	e.waitClaims("vol", 3, gib(1), gib(1))

	e.updateSpec(qc, func(qc *v1alpha1.QueueCluster) { qc.Spec.Storage.Size = ptr.To(gib(2)) })
	eventually(t, "first claim growing", func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		op := qc.Status.Operation
		if op == nil || op.Type != v1alpha1.OperationStorageExpansion || op.Phase != v1alpha1.PhaseExpanding || op.Pod != "data-vol-0" {
			return fmt.Errorf("operation %+v; want data-vol-0 expanding", op)
		}
		return nil
	})
	e.steadyFor(4*refresh, func() error { return e.checkClaims("vol", []string{"2Gi/1Gi", "1Gi/1Gi", "1Gi/1Gi"}) })

	stop()
	prov.HoldGrowth(nil)
	e.startOperator(nil)
	e.waitClaims("vol", 3, gib(2), gib(2))
	eventually(t, "expansion finished", func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		if qc.Status.Operation != nil {
			return fmt.Errorf("operation %+v", qc.Status.Operation)
		}
		return nil
	})
	e.waitEvent(qc, "ExpandingVolume")
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vol"}}
	if err := e.get(sts); err != nil {
		t.Fatal(err)
	}
	if got := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(gib(1)) != 0 {
		t.Errorf("claim template size %s; want the 1Gi it was created with", got.String())
	}

	fixed := newCluster("fixedvol", 3)
	fixed.Spec.Storage = v1alpha1.StorageSpec{Size: ptr.To(gib(1)), StorageClassName: ptr.To("fixed")}
	if err := e.c.Create(ctx(t), fixed); err != nil {
		t.Fatal(err)
	}
	e.waitClaims("fixedvol", 3, gib(1), gib(1)) // the claims first: else they would be made at the new size
	e.updateSpec(fixed, func(qc *v1alpha1.QueueCluster) { qc.Spec.Storage.Size = ptr.To(gib(2)) })
	eventually(t, "StorageExpansionRefused", func() error {
		if err := e.get(fixed); err != nil {
			return err
		}
		return condition(fixed.Status.Conditions, v1alpha1.ConditionDegraded, "True", "StorageExpansionRefused")
	})
	if msg := conditionMessage(fixed.Status.Conditions, v1alpha1.ConditionDegraded); !strings.Contains(msg, "data-fixedvol-0") {
		t.Errorf("Degraded message %q does not name the claim", msg)
	}
	e.waitEvent(fixed, "StorageExpansionRefused")
}

// waitClaims waits for n claims of cluster, each with request req and
// capacity got.
func (e *env) waitClaims(cluster string, n int, req, got resource.Quantity) {
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("%s/%s", &req, &got)
	}
	within(e.t, operationDeadline, "claims "+strings.Join(want, " "), func() error { return e.checkClaims(cluster, want) })
}

// checkClaims compares the claims data-<cluster>-<i> as "request/capacity".
func (e *env) checkClaims(cluster string, want []string) error {
	var got []string
	for i := range want {
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("data-%s-%d", cluster, i)}}
		if err := e.get(pvc); err != nil {
			return err
		}
		req, c := pvc.Spec.Resources.Requests[corev1.ResourceStorage], pvc.Status.Capacity[corev1.ResourceStorage]
		got = append(got, req.String()+"/"+c.String())
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("claims %v, want %v", got, want)
	}
	return nil
}

func conditionMessage(conds []metav1.Condition, typ string) string {
	for _, c := range conds {
		if c.Type == typ {
			return c.Message
		}
	}
	return ""
}

// steadyFor checks that fn holds for the whole window (an absence can only
// be watched for a bounded time).
func (e *env) steadyFor(window time.Duration, fn func() error) {
	e.t.Helper()
	tick := time.NewTicker(refresh / 3)
	defer tick.Stop()
	for end := time.Now().Add(window); time.Now().Before(end); <-tick.C {
		if err := fn(); err != nil {
			e.t.Fatal(err)
		}
	}
}

// checkDepth: queue holds n messages, read through a running node.
func checkDepth(t *testing.T, cl *clustertest.Cluster, queue string, n int64) {
	t.Helper()
	eventually(t, "depth of "+queue, func() error {
		for _, node := range cl.Running() {
			q, err := node.Admin().Queue(context.Background(), queue)
			if err != nil {
				continue
			}
			if q.Messages != n {
				return fmt.Errorf("queue %s holds %d messages, want %d", queue, q.Messages, n)
			}
			return nil
		}
		return errors.New("no running node answered")
	})
}
