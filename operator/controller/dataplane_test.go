package controller_test

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/protocol"
)

// With the data plane stopped, the conditions say so and nothing is
// deleted or re-created (in Kubernetes or in Carrier); when it returns,
// everything is Ready again with the same queue.
func TestDataPlaneDown(t *testing.T) {
	t.Parallel()
	e := newEnvWithControllers(t)
	cl := e.startCluster("events", 1)
	node := cl.Nodes()[0]
	e.startOperator(nil)
	qc := newCluster("events", 1)
	q := newQueue("orders", v1alpha1.DeletionDelete)
	for _, o := range []client.Object{qc, q} {
		if err := e.c.Create(ctx(t), o); err != nil {
			t.Fatal(err)
		}
	}
	children := e.waitChildren(qc)
	before := e.waitQueue(node.Admin(), q, func(protocol.QueueInfo) bool { return true })
	publish(t, node.Admin(), "orders", 3)
	e.waitQueueStatus(q, func(st v1alpha1.QueueStatus) bool { return st.Messages == 3 })
	rvs := versions(t, e, children)

	if err := node.Stop(ctx(t)); err != nil {
		t.Fatal(err)
	}
	e.waitUnreachable(qc, q)
	if q.Status.Messages != 3 {
		t.Errorf("status.messages %d while unreachable, want the last seen, 3", q.Status.Messages)
	}
	if after := versions(t, e, children); fmt.Sprint(after) != fmt.Sprint(rvs) {
		t.Errorf("children written while the data plane was down: %v, before %v", after, rvs)
	}

	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	if err := node.WaitReady(ctx(t)); err != nil {
		t.Fatal(err)
	}
	e.waitClusterReady(qc, cl)
	e.waitQueueStatus(q, func(st v1alpha1.QueueStatus) bool { return st.Messages == 3 })
	after := e.waitQueue(node.Admin(), q, func(protocol.QueueInfo) bool { return true })
	if after.Created != before.Created || after.Messages != 3 {
		t.Errorf("queue after the outage: created %s with %d messages, want created %s with 3 (the same queue)", after.Created, after.Messages, before.Created)
	}

	// A one-member cluster takes a new image too: its only pod is replaced
	// (no one to hand over to), and the queue is the same after.
	sets := e.runStatefulSets(cl, "events")
	sets.waitHeld(1)
	e.updateSpec(qc, func(qc *v1alpha1.QueueCluster) { qc.Spec.Image = image + "-2" })
	within(t, operationDeadline, "one-member rollout", func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		if qc.Status.Operation != nil || qc.Status.CurrentImage != image+"-2" || qc.Status.ReadyReplicas != 1 {
			return fmt.Errorf("operation %+v, image %q, %d ready", qc.Status.Operation, qc.Status.CurrentImage, qc.Status.ReadyReplicas)
		}
		return nil
	})
	if del := deletions(sets.happenings()); len(del) != 1 || del[0].pod != "events-0" {
		t.Errorf("pods deleted %v; want events-0 once", del)
	}
	checkDepth(t, cl, "orders", 3)
}

// waitUnreachable waits until both say the data plane is unreachable.
func (e *env) waitUnreachable(qc *v1alpha1.QueueCluster, q *v1alpha1.Queue) {
	eventually(e.t, "QueueCluster unreachable", func() error {
		if err := e.get(qc); err != nil {
			return err
		}
		return unreachable(qc.Status.Conditions)
	})
	eventually(e.t, "Queue unreachable", func() error {
		if err := e.get(q); err != nil {
			return err
		}
		return unreachable(q.Status.Conditions)
	})
}

func unreachable(conds []metav1.Condition) error {
	if err := condition(conds, v1alpha1.ConditionDegraded, "True", "DataPlaneUnreachable"); err != nil {
		return err
	}
	return condition(conds, v1alpha1.ConditionReady, "False", "DataPlaneUnreachable")
}
