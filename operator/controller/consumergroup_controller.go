package controller

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	carrier "github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/dataplane"
	"github.com/carriermq/carrier/protocol"
)

// ConsumerGroupReconciler keeps a ConsumerGroup in its queue as the spec
// says, with the flow of QueueReconciler and the group routes.
type ConsumerGroupReconciler struct {
	reconciler
}

// groupTarget is where a group lives: its cluster's data plane and the
// queue's name in Carrier.
type groupTarget struct {
	dp      *dataplane.Client
	queue   string
	cluster string
}

// Reconcile follows QueueReconciler.Reconcile (flow.go).
func (r *ConsumerGroupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var g v1alpha1.ConsumerGroup
	if err := r.Get(ctx, req.NamespacedName, &g); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return r.reconcileManaged(ctx, &g, parts{
		what:   fmt.Sprintf("group %s of Queue %s", g.Spec.Name, g.Spec.QueueRef.Name),
		policy: g.Spec.DeletionPolicy,
		state:  syncState{conds: &g.Status.Conditions, lastSync: &g.Status.LastSync, gen: g.Generation},
		ready:  fmt.Sprintf("group %s of Queue %s has the spec's settings", g.Spec.Name, g.Spec.QueueRef.Name),
		sync:   func(ctx context.Context) error { return r.sync(ctx, &g) },
		del:    func(ctx context.Context) error { return r.delete(ctx, &g) },
	})
}

// target resolves the group's Queue resource to its cluster and queue.
func (r *ConsumerGroupReconciler) target(ctx context.Context, g *v1alpha1.ConsumerGroup) (groupTarget, error) {
	var q v1alpha1.Queue
	err := r.Get(ctx, types.NamespacedName{Namespace: g.Namespace, Name: g.Spec.QueueRef.Name}, &q)
	if apierrors.IsNotFound(err) {
		return groupTarget{}, errMissingRef{what: "Queue " + g.Spec.QueueRef.Name}
	}
	if err != nil {
		return groupTarget{}, fmt.Errorf("get Queue %s: %w", g.Spec.QueueRef.Name, err)
	}
	dp, err := r.cluster(ctx, g.Namespace, q.Spec.ClusterRef.Name)
	return groupTarget{dp: dp, queue: q.Spec.Name, cluster: q.Spec.ClusterRef.Name}, err
}

// sync makes the group match the spec and records what it read. A queue
// missing in Carrier waits for the Queue's controller to create it; start
// is sent only on create (it is fixed when a group is created).
func (r *ConsumerGroupReconciler) sync(ctx context.Context, g *v1alpha1.ConsumerGroup) error {
	t, err := r.target(ctx, g)
	if err != nil {
		return err
	}
	name, want := g.Spec.Name, groupConfig(g.Spec.GroupSettings)
	inPlace := want
	inPlace.Start = nil
	call := func(fn func(a *carrier.Admin) (protocol.GroupInfo, error)) (protocol.GroupInfo, error) {
		return dataplane.Do(ctx, t.dp, fn)
	}
	info, err := syncRounds(ctx, &r.reconciler, rounds[protocol.GroupInfo]{
		obj: g, what: "group " + name, where: "queue " + t.queue, seen: g.Status.ETag != "",
		notFound: protocol.CodeGroupNotFound, exists: protocol.CodeGroupExists,
		read: func() (protocol.GroupInfo, error) {
			i, err := call(func(a *carrier.Admin) (protocol.GroupInfo, error) { return a.Group(ctx, t.queue, name) })
			if carrier.CodeOf(err) == protocol.CodeQueueNotFound {
				err = errMissingRef{what: fmt.Sprintf("queue %s in cluster %s", t.queue, t.cluster)}
			}
			return i, err
		},
		create: func() (protocol.GroupInfo, error) {
			return call(func(a *carrier.Admin) (protocol.GroupInfo, error) { return a.CreateGroup(ctx, t.queue, name, want) })
		},
		drift: func(i protocol.GroupInfo) []string { return groupDrift(want, i.Config, false) },
		patch: func(i protocol.GroupInfo) (protocol.GroupInfo, error) {
			return call(func(a *carrier.Admin) (protocol.GroupInfo, error) {
				return a.UpdateGroup(ctx, t.queue, name, inPlace, i.ETag)
			})
		},
	})
	if err == nil {
		groupCounts(g, info)
	}
	return err
}

// delete deletes the group and what it acked.
func (r *ConsumerGroupReconciler) delete(ctx context.Context, g *v1alpha1.ConsumerGroup) error {
	t, err := r.target(ctx, g)
	if err != nil {
		return err
	}
	_, err = dataplane.Do(ctx, t.dp, func(a *carrier.Admin) (struct{}, error) {
		return struct{}{}, a.DeleteGroup(ctx, t.queue, g.Spec.Name)
	})
	return ignoreCodes(err, protocol.CodeGroupNotFound, protocol.CodeQueueNotFound)
}

// groupCounts records what was read.
func groupCounts(g *v1alpha1.ConsumerGroup, info protocol.GroupInfo) {
	st := &g.Status
	st.ObservedGeneration = g.Generation
	st.Pending, st.Unacked, st.Redelivered = info.Pending, info.Unacked, info.Redelivered
	st.Members, st.ETag = int64(info.Members), info.ETag
}
