package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/dataplane"
)

// The pieces of the Queue and ConsumerGroup flow (flow.go): the finalizer
// that carries out deletionPolicy, the cluster they resolve to, their
// conditions and the status write.

// errMissingRef is a referenced object that does not exist (yet).
type errMissingRef struct{ what string }

func (e errMissingRef) Error() string { return e.what + " does not exist" }

// errGone says the cluster itself is gone or going: nothing is left in it
// to delete.
var errGone = errors.New("the QueueCluster is gone")

// ensureFinalizer adds the finalizer, so that deletionPolicy is carried
// out whatever the policy is when the resource is deleted (a finalizer
// cannot be added once the deletion has begun).
func (r *reconciler) ensureFinalizer(ctx context.Context, obj client.Object) error {
	if !controllerutil.AddFinalizer(obj, finalizer) {
		return nil
	}
	if err := r.Update(ctx, obj); err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	return nil
}

// finalize carries out policy for a resource being deleted: with Delete it
// calls del (which deletes the object in Carrier; one already gone, or a
// cluster that is gone, counts as done), then it removes the finalizer.
// With Retain it only removes the finalizer. When del fails, the finalizer
// stays and the error is returned: the resource waits, and the object in
// Carrier is never left half-handled.
func (r *reconciler) finalize(ctx context.Context, obj client.Object, policy v1alpha1.DeletionPolicy, del func() error) error {
	if !controllerutil.ContainsFinalizer(obj, finalizer) {
		return nil
	}
	if policy == v1alpha1.DeletionDelete {
		if err := del(); err != nil && !errors.Is(err, errGone) {
			return err
		}
	}
	controllerutil.RemoveFinalizer(obj, finalizer)
	if err := r.Update(ctx, obj); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("remove finalizer: %w", err)
	}
	return nil
}

// cluster dials the QueueCluster named name in ns. A cluster that does not
// exist is an errMissingRef; one being deleted is errGone.
func (r *reconciler) cluster(ctx context.Context, ns, name string) (*dataplane.Client, error) {
	var qc v1alpha1.QueueCluster
	err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &qc)
	if apierrors.IsNotFound(err) {
		return nil, errMissingRef{what: fmt.Sprintf("QueueCluster %s", name)}
	}
	if err != nil {
		return nil, fmt.Errorf("get QueueCluster %s: %w", name, err)
	}
	if qc.DeletionTimestamp != nil {
		return nil, fmt.Errorf("QueueCluster %s is being deleted: %w", name, errGone)
	}
	return r.dial(client.ObjectKeyFromObject(&qc))
}

// gone reports whether err says the cluster or the reference is gone, so
// that nothing is left to delete in it.
func gone(err error) bool {
	var m errMissingRef
	return errors.Is(err, errGone) || errors.As(err, &m)
}

// syncState is the part of a Queue's or ConsumerGroup's status this file
// handles: conditions and lastSync.
type syncState struct {
	conds    *[]metav1.Condition
	lastSync **metav1.Time
	gen      int64
}

// record sets Ready and Degraded from the outcome of a sync.
func (s syncState) record(err error, readyMsg string) {
	var m errMissingRef
	switch {
	case errors.As(err, &m):
		setCondition(s.conds, v1alpha1.ConditionReady, false, ReasonNotFoundRef, err.Error(), s.gen)
		setCondition(s.conds, v1alpha1.ConditionDegraded, false, ReasonNotFoundRef, "", s.gen)
	case err != nil:
		setFailed(s.conds, err, s.gen)
	default:
		setCondition(s.conds, v1alpha1.ConditionReady, true, ReasonSynced, readyMsg, s.gen)
		setCondition(s.conds, v1alpha1.ConditionDegraded, false, ReasonAsExpected, "", s.gen)
	}
}

// deletePending records a deletion held back by err: Degraded says why,
// Ready that the resource waits.
func deletePending(conds *[]metav1.Condition, err error, gen int64) {
	setFailed(conds, err, gen)
	setCondition(conds, v1alpha1.ConditionReady, false, ReasonDeletePending,
		"deletionPolicy is Delete and the deletion in Carrier has not happened yet: "+err.Error(), gen)
}

// settle writes the status when it changed, or when lastSync is older than
// statusHeartbeat, and says when to look again. changed compares the new
// status with the old one, lastSync left as it was.
func (r *reconciler) settle(ctx context.Context, obj, orig client.Object, s syncState, changed func() bool) (ctrl.Result, error) {
	now := time.Now()
	last := *s.lastSync
	*s.lastSync = syncTime(changed(), last, now)
	if *s.lastSync != last {
		if err := r.patchStatus(ctx, obj, orig); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: r.next(*s.conds, now)}, nil
}

// event records an event on obj (reason in CamelCase, note for people).
func (r *reconciler) event(obj client.Object, warning bool, reason, action, note string, args ...any) {
	typ := corev1.EventTypeNormal
	if warning {
		typ = corev1.EventTypeWarning
	}
	r.events.Eventf(obj, nil, typ, reason, action, note, args...)
}
