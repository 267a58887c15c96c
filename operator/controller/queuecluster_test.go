package controller_test

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/internal/build"
	clustertest "github.com/carriermq/carrier/test/cluster"
)

// A QueueCluster gets its children, owned by it, and a status read from
// the live three-node cluster; a new operator (a restart or an upgrade)
// writes no child; a user's own fields on a child survive.
func TestQueueCluster(t *testing.T) {
	t.Parallel()
	e := newEnvWithControllers(t)
	cl := e.startCluster("orders", 3)
	stop := e.startOperator(nil)
	qc := newCluster("orders", 3)
	if err := e.c.Create(ctx(t), qc); err != nil {
		t.Fatal(err)
	}
	children := e.waitChildren(qc)
	sts := children[0].(*appsv1.StatefulSet)
	if err := e.get(qc); err != nil {
		t.Fatal(err)
	}
	want := build.StatefulSet(qc, build.StatefulSetParams{BootstrapExpect: 3})
	if got, w := sts.Annotations[build.TemplateHashAnnotation], want.Annotations[build.TemplateHashAnnotation]; got != w {
		t.Fatalf("StatefulSet template hash %q, want the builder's %q", got, w)
	}
	e.runStatefulSets(cl, "orders")
	e.waitClusterReady(qc, cl)
	eventually(t, "cluster status", func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		return checkClusterStatus(qc)
	})

	e.steady(6*refresh, append([]client.Object{qc}, children...)...)

	e.userEditsClientService(qc)
	before := versions(t, e, children)
	stop()
	// A stale status, so that the new operator's first reconcile shows.
	orig := qc.DeepCopy()
	qc.Status.Leader = "stale"
	if err := e.c.Status().Patch(ctx(t), qc, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	e.startOperator(nil)
	e.waitClusterReady(qc, cl)
	if after := versions(t, e, children); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a restarted operator wrote children: resourceVersions %v, before %v", after, before)
	}

	e.changeServiceAnnotations(qc, children)
	e.deleteChild(children[3])
	e.loseQuorum(qc, cl)
}

// loseQuorum stops two of the three nodes: the one left answers, without a
// leader, and the status says so; with the two back, Ready again.
func (e *env) loseQuorum(qc *v1alpha1.QueueCluster, cl *clustertest.Cluster) {
	stopped := cl.Nodes()[1:]
	for _, n := range stopped {
		if err := n.Stop(ctx(e.t)); err != nil {
			e.t.Fatal(err)
		}
	}
	eventually(e.t, "NoLeader", func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		if err := condition(qc.Status.Conditions, v1alpha1.ConditionReady, "False", "NoLeader"); err != nil {
			return err
		}
		if len(qc.Status.Members) != 3 || qc.Status.ReadyReplicas != 0 {
			return fmt.Errorf("members %+v, %d ready; want 3 members, none ready", qc.Status.Members, qc.Status.ReadyReplicas)
		}
		return nil
	})
	for _, n := range stopped {
		if err := n.Start(); err != nil {
			e.t.Fatal(err)
		}
	}
	e.waitClusterReady(qc, cl)
}

// deleteChild deletes a child by hand: it is created again.
func (e *env) deleteChild(o client.Object) {
	if err := e.get(o); err != nil {
		e.t.Fatal(err)
	}
	uid := o.GetUID()
	if err := e.c.Delete(ctx(e.t), o); err != nil {
		e.t.Fatal(err)
	}
	eventually(e.t, o.GetName()+" created again", func() error {
		if err := e.get(o); err != nil {
			return err
		}
		if o.GetUID() == uid {
			return fmt.Errorf("still the deleted %s", uid)
		}
		return nil
	})
}

// waitChildren waits for the six children, each controlled by qc, and
// returns them (the StatefulSet first).
func (e *env) waitChildren(qc *v1alpha1.QueueCluster) []client.Object {
	objs := []client.Object{
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: build.StatefulSetName(qc)}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: build.HeadlessServiceName(qc)}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: build.ClientServiceName(qc)}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: build.ConfigMapName(qc)}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: build.ServiceAccountName(qc)}},
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: build.PodDisruptionBudgetName(qc)}},
	}
	for _, o := range objs {
		eventually(e.t, "child "+o.GetName(), func() error {
			if err := e.get(o); err != nil {
				return err
			}
			if err := e.get(qc); err != nil {
				return err
			}
			if ref := metav1.GetControllerOf(o); ref == nil || ref.UID != qc.UID || ref.Kind != "QueueCluster" {
				return fmt.Errorf("%T %s: controller %v, want QueueCluster %s", o, o.GetName(), ref, qc.UID)
			}
			return nil
		})
	}
	return objs
}

// waitClusterReady waits for a Ready status naming cl's leader.
func (e *env) waitClusterReady(qc *v1alpha1.QueueCluster, cl *clustertest.Cluster) {
	leader, err := cl.Leader(ctx(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	eventually(e.t, "cluster status", func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		if qc.Status.Leader != leader.ID {
			return fmt.Errorf("status.leader %q, want %q", qc.Status.Leader, leader.ID)
		}
		return condition(qc.Status.Conditions, v1alpha1.ConditionReady, "True", "ClusterReady")
	})
}

func checkClusterStatus(qc *v1alpha1.QueueCluster) error {
	st := qc.Status
	if st.ReadyReplicas != 3 || st.Replicas != 3 || st.BootstrapExpect != 3 || st.CurrentImage != image || st.Version == "" ||
		st.ObservedGeneration != qc.Generation || st.Selector == "" {
		return fmt.Errorf("status %+v: want 3 of 3 ready, bootstrapExpect 3, image %s, a version, a selector, generation %d", st, image, qc.Generation)
	}
	roles := map[v1alpha1.MemberRole]int{}
	for i, m := range st.Members {
		roles[m.Role]++
		if m.Name != fmt.Sprintf("orders-%d", i) || !m.Ready || m.Image != image {
			return fmt.Errorf("member %d: %+v, want orders-%d, ready, image %s", i, m, i, image)
		}
	}
	if roles[v1alpha1.RoleLeader] != 1 || roles[v1alpha1.RoleFollower] != 2 {
		return fmt.Errorf("member roles %v, want one leader and two followers", roles)
	}
	for _, c := range []struct{ typ, status, reason string }{
		{v1alpha1.ConditionProgressing, "False", "Stable"}, {v1alpha1.ConditionDegraded, "False", "AsExpected"},
	} {
		if err := condition(st.Conditions, c.typ, c.status, c.reason); err != nil {
			return err
		}
	}
	return nil
}

// userEditsClientService sets what the builders do not: an annotation and
// the session affinity, as a person with kubectl would.
func (e *env) userEditsClientService(qc *v1alpha1.QueueCluster) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: build.ClientServiceName(qc)}}
	if err := e.get(svc); err != nil {
		e.t.Fatal(err)
	}
	metav1.SetMetaDataAnnotation(&svc.ObjectMeta, "team", "payments")
	svc.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	if err := e.c.Update(ctx(e.t), svc, client.FieldOwner("kubectl-edit")); err != nil {
		e.t.Fatal(err)
	}
}

// changeServiceAnnotations changes spec.service: only the client Service
// is written, and the user's fields on it stay.
func (e *env) changeServiceAnnotations(qc *v1alpha1.QueueCluster, children []client.Object) {
	before := versions(e.t, e, children)
	e.updateSpec(qc, func(qc *v1alpha1.QueueCluster) { qc.Spec.Service.Annotations = map[string]string{"lb": "internal"} })
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: build.ClientServiceName(qc)}}
	eventually(e.t, "client Service annotation", func() error {
		if err := e.get(svc); err != nil {
			return err
		}
		if svc.Annotations["lb"] != "internal" {
			return fmt.Errorf("annotations %v", svc.Annotations)
		}
		return nil
	})
	if svc.Annotations["team"] != "payments" || svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		e.t.Errorf("client Service lost the user's fields: annotations %v, sessionAffinity %s", svc.Annotations, svc.Spec.SessionAffinity)
	}
	after := versions(e.t, e, children)
	for i := range children {
		if changed := after[i] != before[i]; changed != (i == 2) {
			e.t.Errorf("%s: resourceVersion %s → %s; only the client Service should change", children[i].GetName(), before[i], after[i])
		}
	}
}

// updateSpec changes qc's spec, retrying on a conflict.
func (e *env) updateSpec(qc *v1alpha1.QueueCluster, change func(*v1alpha1.QueueCluster)) {
	eventually(e.t, "update "+qc.Name, func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		change(qc)
		return e.c.Update(context.Background(), qc)
	})
}

func versions(t *testing.T, e *env, objs []client.Object) []string {
	t.Helper()
	var out []string
	for _, o := range objs {
		if err := e.get(o); err != nil {
			t.Fatal(err)
		}
		out = append(out, o.GetResourceVersion())
	}
	return out
}
