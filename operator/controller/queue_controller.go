package controller

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	carrier "github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/dataplane"
	"github.com/carriermq/carrier/protocol"
)

// QueueReconciler keeps a Queue in its cluster as the spec says.
type QueueReconciler struct {
	reconciler
}

// Reconcile: get → deletion (deletionPolicy, then the finalizer goes) →
// finalizer → read the queue through the admin API → create it when it is
// missing (an event says when it was deleted behind the operator's back)
// or PATCH the settings that differ, If-Match the version just read →
// status → look again after the refresh interval (flow.go).
func (r *QueueReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var q v1alpha1.Queue
	if err := r.Get(ctx, req.NamespacedName, &q); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return r.reconcileManaged(ctx, &q, parts{
		what:   "queue " + q.Spec.Name,
		policy: q.Spec.DeletionPolicy,
		state:  syncState{conds: &q.Status.Conditions, lastSync: &q.Status.LastSync, gen: q.Generation},
		ready:  fmt.Sprintf("queue %s in cluster %s has the spec's settings", q.Spec.Name, q.Spec.ClusterRef.Name),
		sync:   func(ctx context.Context) error { return r.sync(ctx, &q) },
		del:    func(ctx context.Context) error { return r.delete(ctx, &q) },
	})
}

// sync makes the queue match the spec and records what it read.
func (r *QueueReconciler) sync(ctx context.Context, q *v1alpha1.Queue) error {
	dp, err := r.cluster(ctx, q.Namespace, q.Spec.ClusterRef.Name)
	if err != nil {
		return err
	}
	name, want := q.Spec.Name, queueConfig(q.Spec)
	call := func(fn func(a *carrier.Admin) (protocol.QueueInfo, error)) (protocol.QueueInfo, error) {
		return dataplane.Do(ctx, dp, fn)
	}
	info, err := syncRounds(ctx, &r.reconciler, rounds[protocol.QueueInfo]{
		obj: q, what: "queue " + name, where: "cluster " + q.Spec.ClusterRef.Name, seen: q.Status.ETag != "",
		notFound: protocol.CodeQueueNotFound, exists: protocol.CodeQueueExists,
		read: func() (protocol.QueueInfo, error) {
			return call(func(a *carrier.Admin) (protocol.QueueInfo, error) { return a.Queue(ctx, name) })
		},
		create: func() (protocol.QueueInfo, error) {
			return call(func(a *carrier.Admin) (protocol.QueueInfo, error) { return a.CreateQueue(ctx, name, want) })
		},
		drift: func(i protocol.QueueInfo) []string { return queueDrift(want, i.Config) },
		patch: func(i protocol.QueueInfo) (protocol.QueueInfo, error) {
			return call(func(a *carrier.Admin) (protocol.QueueInfo, error) { return a.UpdateQueue(ctx, name, want, i.ETag) })
		},
	})
	if err == nil {
		queueCounts(q, info)
	}
	return err
}

// delete deletes the queue, with its messages, groups and dead letters.
func (r *QueueReconciler) delete(ctx context.Context, q *v1alpha1.Queue) error {
	dp, err := r.cluster(ctx, q.Namespace, q.Spec.ClusterRef.Name)
	if err != nil {
		return err
	}
	_, err = dataplane.Do(ctx, dp, func(a *carrier.Admin) (struct{}, error) { return struct{}{}, a.DeleteQueue(ctx, q.Spec.Name) })
	return ignoreCodes(err, protocol.CodeQueueNotFound)
}

// queueCounts records what was read.
func queueCounts(q *v1alpha1.Queue, info protocol.QueueInfo) {
	st := &q.Status
	st.ObservedGeneration = q.Generation
	st.Messages, st.Bytes, st.DeadLetters, st.Dropped = info.Messages, info.Bytes, info.DeadLetters, info.Dropped
	st.Groups, st.Consumers, st.ETag = int32(len(info.Groups)), 0, info.ETag
	for _, g := range info.Groups {
		st.Consumers += int64(g.Members)
	}
}
