package controller

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

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
// status → look again after the refresh interval.
func (r *QueueReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var q v1alpha1.Queue
	if err := r.Get(ctx, req.NamespacedName, &q); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if q.DeletionTimestamp != nil {
		return r.delete(ctx, &q)
	}
	if err := r.ensureFinalizer(ctx, &q); err != nil {
		return ctrl.Result{}, err
	}
	orig := q.DeepCopy()
	info, err := r.sync(ctx, &q)
	if err != nil {
		log.FromContext(ctx).Info("queue not synced", "queue", q.Spec.Name, "err", err.Error())
	}
	queueStatus(&q, info, err)
	return r.settle(ctx, &q, orig, r.state(&q), func() bool { return !equality.Semantic.DeepEqual(orig.Status, q.Status) })
}

func (r *QueueReconciler) state(q *v1alpha1.Queue) syncState {
	return syncState{conds: &q.Status.Conditions, lastSync: &q.Status.LastSync, gen: q.Generation}
}

// delete carries out deletionPolicy; while the cluster cannot be reached
// the resource waits with its finalizer, and its conditions say why.
func (r *QueueReconciler) delete(ctx context.Context, q *v1alpha1.Queue) (ctrl.Result, error) {
	orig := q.DeepCopy()
	err := r.finalize(ctx, q, q.Spec.DeletionPolicy, func() error {
		dp, err := r.cluster(ctx, q.Namespace, q.Spec.ClusterRef.Name)
		if gone(err) {
			r.event(q, true, "NotDeleted", "Delete", "queue %s not deleted: %v", q.Spec.Name, err)
			return errGone
		}
		if err == nil {
			_, err = dataplane.Do(ctx, dp, func(a *carrier.Admin) (struct{}, error) { return struct{}{}, a.DeleteQueue(ctx, q.Spec.Name) })
		}
		if err != nil && carrier.CodeOf(err) != protocol.CodeQueueNotFound {
			return fmt.Errorf("delete queue %s: %w", q.Spec.Name, err)
		}
		r.event(q, false, "Deleted", "Delete", "deleted queue %s from cluster %s (deletionPolicy Delete)", q.Spec.Name, q.Spec.ClusterRef.Name)
		return nil
	})
	if err == nil {
		return ctrl.Result{}, nil
	}
	deletePending(&q.Status.Conditions, err, q.Generation)
	return r.settle(ctx, q, orig, r.state(q), func() bool { return true })
}

// sync makes the queue in Carrier match the spec and returns what it read
// last. Each round reads the queue (the version with it); a missing queue
// is created, differing settings are PATCHed If-Match that version; a
// precondition_failed (someone changed the settings in between) or a
// queue_exists (someone created it in between) starts a new round.
func (r *QueueReconciler) sync(ctx context.Context, q *v1alpha1.Queue) (protocol.QueueInfo, error) {
	dp, err := r.cluster(ctx, q.Namespace, q.Spec.ClusterRef.Name)
	if err != nil {
		return protocol.QueueInfo{}, err
	}
	want, name := queueConfig(q.Spec), q.Spec.Name
	for range maxAttempts {
		info, err := dataplane.Do(ctx, dp, func(a *carrier.Admin) (protocol.QueueInfo, error) { return a.Queue(ctx, name) })
		switch {
		case carrier.CodeOf(err) == protocol.CodeQueueNotFound:
			info, err = r.create(ctx, q, dp, want)
		case err == nil:
			info, err = r.update(ctx, q, dp, want, info)
		}
		if code := carrier.CodeOf(err); code != protocol.CodePreconditionFailed && code != protocol.CodeQueueExists {
			return info, err
		}
		log.FromContext(ctx).V(1).Info("queue changed concurrently, reading it again", "queue", name, "code", carrier.CodeOf(err))
	}
	return protocol.QueueInfo{}, fmt.Errorf("queue %s: its settings changed %d times while being updated; trying again later", name, maxAttempts)
}

// create PUTs the queue with the spec's settings. When the queue had been
// seen before (status.etag), it was deleted outside the operator: the
// event says it was re-created, empty.
func (r *QueueReconciler) create(ctx context.Context, q *v1alpha1.Queue, dp *dataplane.Client, want protocol.QueueConfig) (protocol.QueueInfo, error) {
	info, err := dataplane.Do(ctx, dp, func(a *carrier.Admin) (protocol.QueueInfo, error) { return a.CreateQueue(ctx, q.Spec.Name, want) })
	if err != nil {
		return info, err
	}
	if q.Status.ETag != "" {
		r.event(q, true, "Recreated", "Create", "queue %s was missing from cluster %s (deleted outside the operator); created it again, empty", q.Spec.Name, q.Spec.ClusterRef.Name)
	} else {
		r.event(q, false, "Created", "Create", "created queue %s in cluster %s", q.Spec.Name, q.Spec.ClusterRef.Name)
	}
	return info, nil
}

// update PATCHes the settings that differ from the spec, If-Match the
// version info was read at; nothing when none differs.
func (r *QueueReconciler) update(ctx context.Context, q *v1alpha1.Queue, dp *dataplane.Client, want protocol.QueueConfig, info protocol.QueueInfo) (protocol.QueueInfo, error) {
	d := queueDrift(want, info.Config)
	if len(d) == 0 {
		return info, nil
	}
	out, err := dataplane.Do(ctx, dp, func(a *carrier.Admin) (protocol.QueueInfo, error) {
		return a.UpdateQueue(ctx, q.Spec.Name, want, info.ETag)
	})
	if err == nil {
		r.event(q, false, "Updated", "Update", "set %s of queue %s in place, as the spec says", strings.Join(d, ", "), q.Spec.Name)
	}
	return out, err
}

// queueStatus records what was read, or the failure (the counts stay as
// last read, with their lastSync).
func queueStatus(q *v1alpha1.Queue, info protocol.QueueInfo, err error) {
	st := &q.Status
	if err == nil {
		st.ObservedGeneration = q.Generation
		st.Messages, st.Bytes, st.DeadLetters, st.Dropped = info.Messages, info.Bytes, info.DeadLetters, info.Dropped
		st.Groups, st.Consumers, st.ETag = int32(len(info.Groups)), 0, info.ETag
		for _, g := range info.Groups {
			st.Consumers += int64(g.Members)
		}
	}
	syncState{conds: &st.Conditions, gen: q.Generation}.record(err,
		fmt.Sprintf("queue %s in cluster %s has the spec's settings", q.Spec.Name, q.Spec.ClusterRef.Name))
}
