package controller

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	carrier "github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/dataplane"
	"github.com/carriermq/carrier/protocol"
)

// ConsumerGroupReconciler keeps a ConsumerGroup in its queue as the spec
// says, as QueueReconciler does for queues.
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

// Reconcile follows QueueReconciler.Reconcile with the group routes.
func (r *ConsumerGroupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var g v1alpha1.ConsumerGroup
	if err := r.Get(ctx, req.NamespacedName, &g); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if g.DeletionTimestamp != nil {
		return r.delete(ctx, &g)
	}
	if err := r.ensureFinalizer(ctx, &g); err != nil {
		return ctrl.Result{}, err
	}
	orig := g.DeepCopy()
	info, err := r.sync(ctx, &g)
	if err != nil {
		log.FromContext(ctx).Info("group not synced", "group", g.Spec.Name, "err", err.Error())
	}
	groupStatus(&g, info, err)
	return r.settle(ctx, &g, orig, r.state(&g), func() bool { return !equality.Semantic.DeepEqual(orig.Status, g.Status) })
}

func (r *ConsumerGroupReconciler) state(g *v1alpha1.ConsumerGroup) syncState {
	return syncState{conds: &g.Status.Conditions, lastSync: &g.Status.LastSync, gen: g.Generation}
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

// delete carries out deletionPolicy, as QueueReconciler.delete does.
func (r *ConsumerGroupReconciler) delete(ctx context.Context, g *v1alpha1.ConsumerGroup) (ctrl.Result, error) {
	orig := g.DeepCopy()
	err := r.finalize(ctx, g, g.Spec.DeletionPolicy, func() error {
		t, err := r.target(ctx, g)
		if gone(err) {
			r.event(g, true, "NotDeleted", "Delete", "group %s not deleted: %v", g.Spec.Name, err)
			return errGone
		}
		if err == nil {
			_, err = dataplane.Do(ctx, t.dp, func(a *carrier.Admin) (struct{}, error) {
				return struct{}{}, a.DeleteGroup(ctx, t.queue, g.Spec.Name)
			})
		}
		if code := carrier.CodeOf(err); err != nil && code != protocol.CodeGroupNotFound && code != protocol.CodeQueueNotFound {
			return fmt.Errorf("delete group %s: %w", g.Spec.Name, err)
		}
		r.event(g, false, "Deleted", "Delete", "deleted group %s of queue %s (deletionPolicy Delete)", g.Spec.Name, t.queue)
		return nil
	})
	if err == nil {
		return ctrl.Result{}, nil
	}
	deletePending(&g.Status.Conditions, err, g.Generation)
	return r.settle(ctx, g, orig, r.state(g), func() bool { return true })
}

// sync makes the group match the spec, in rounds as QueueReconciler.sync.
// A queue missing in Carrier waits for the Queue's controller to create it.
func (r *ConsumerGroupReconciler) sync(ctx context.Context, g *v1alpha1.ConsumerGroup) (protocol.GroupInfo, error) {
	t, err := r.target(ctx, g)
	if err != nil {
		return protocol.GroupInfo{}, err
	}
	want := groupConfig(g.Spec.GroupSettings)
	for range maxAttempts {
		info, err := dataplane.Do(ctx, t.dp, func(a *carrier.Admin) (protocol.GroupInfo, error) { return a.Group(ctx, t.queue, g.Spec.Name) })
		switch code := carrier.CodeOf(err); {
		case code == protocol.CodeQueueNotFound:
			return info, errMissingRef{what: fmt.Sprintf("queue %s in cluster %s", t.queue, t.cluster)}
		case code == protocol.CodeGroupNotFound:
			info, err = r.create(ctx, g, t, want)
		case err == nil:
			info, err = r.update(ctx, g, t, want, info)
		}
		if code := carrier.CodeOf(err); code != protocol.CodePreconditionFailed && code != protocol.CodeGroupExists {
			return info, err
		}
		log.FromContext(ctx).V(1).Info("group changed concurrently, reading it again", "group", g.Spec.Name, "code", carrier.CodeOf(err))
	}
	return protocol.GroupInfo{}, fmt.Errorf("group %s: its settings changed %d times while being updated; trying again later", g.Spec.Name, maxAttempts)
}

// create PUTs the group with the spec's settings, start included.
func (r *ConsumerGroupReconciler) create(ctx context.Context, g *v1alpha1.ConsumerGroup, t groupTarget, want protocol.GroupConfig) (protocol.GroupInfo, error) {
	info, err := dataplane.Do(ctx, t.dp, func(a *carrier.Admin) (protocol.GroupInfo, error) {
		return a.CreateGroup(ctx, t.queue, g.Spec.Name, want)
	})
	if err != nil {
		return info, err
	}
	if g.Status.ETag != "" {
		r.event(g, true, "Recreated", "Create", "group %s was missing from queue %s (deleted outside the operator); created it again from its start", g.Spec.Name, t.queue)
	} else {
		r.event(g, false, "Created", "Create", "created group %s on queue %s", g.Spec.Name, t.queue)
	}
	return info, nil
}

// update PATCHes ackWait, maxDeliver and maxInFlight where they differ,
// If-Match the version read; start is fixed when a group is created.
func (r *ConsumerGroupReconciler) update(ctx context.Context, g *v1alpha1.ConsumerGroup, t groupTarget, want protocol.GroupConfig, info protocol.GroupInfo) (protocol.GroupInfo, error) {
	d := groupDrift(want, info.Config, false)
	if len(d) == 0 {
		return info, nil
	}
	want.Start = nil
	out, err := dataplane.Do(ctx, t.dp, func(a *carrier.Admin) (protocol.GroupInfo, error) {
		return a.UpdateGroup(ctx, t.queue, g.Spec.Name, want, info.ETag)
	})
	if err == nil {
		r.event(g, false, "Updated", "Update", "set %s of group %s in place, as the spec says", strings.Join(d, ", "), g.Spec.Name)
	}
	return out, err
}

// groupStatus records what was read, or the failure.
func groupStatus(g *v1alpha1.ConsumerGroup, info protocol.GroupInfo, err error) {
	st := &g.Status
	if err == nil {
		st.ObservedGeneration = g.Generation
		st.Pending, st.Unacked, st.Redelivered = info.Pending, info.Unacked, info.Redelivered
		st.Members, st.ETag = int64(info.Members), info.ETag
	}
	syncState{conds: &st.Conditions, gen: g.Generation}.record(err,
		fmt.Sprintf("group %s of queue %s has the spec's settings", g.Spec.Name, g.Spec.QueueRef.Name))
}
