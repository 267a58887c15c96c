package controller

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	carrier "github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/dataplane"
)

// Condition reasons shared by the three kinds.
const (
	ReasonUnreachable   = "DataPlaneUnreachable" // no endpoint answered
	ReasonUnavailable   = "DataPlaneUnavailable" // a node answered: no leader, no quorum, try later
	ReasonRefused       = "Refused"              // the cluster refused a request; a person must look
	ReasonError         = "Error"                // anything else (the Kubernetes API, a bug)
	ReasonAsExpected    = "AsExpected"
	ReasonSynced        = "Synced"
	ReasonNotFoundRef   = "ReferenceNotFound" // the QueueCluster or Queue referred to does not exist
	ReasonDeletePending = "DeletePending"
)

// reconciler is what the three reconcilers share: the manager's client
// and API reader, the options and an event recorder.
type reconciler struct {
	client.Client
	// reader reads from the API server itself, not the cache: what an
	// operation step starts from must include the operator's own last
	// status write.
	reader client.Reader
	opts   Options
	events recorder.EventRecorder
}

// dial returns a data-plane client for the QueueCluster named nn.
func (r *reconciler) dial(nn types.NamespacedName) (*dataplane.Client, error) {
	return dataplane.New(r.opts.Endpoints.URLs(nn), r.opts.HTTPClient)
}

// failureReason names the condition reason of a failed call.
func failureReason(err error) string {
	switch {
	case dataplane.IsUnreachable(err):
		return ReasonUnreachable
	case carrier.IsRetryable(err):
		return ReasonUnavailable
	case carrier.CodeOf(err) != "":
		return ReasonRefused
	default:
		return ReasonError
	}
}

// setCondition sets one condition; its lastTransitionTime changes only
// when its status does.
func setCondition(conds *[]metav1.Condition, typ string, ok bool, reason, msg string, gen int64) {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen})
}

// setFailed records err in Ready (False) and Degraded (True).
func setFailed(conds *[]metav1.Condition, err error, gen int64) {
	reason := failureReason(err)
	setCondition(conds, v1alpha1.ConditionReady, false, reason, err.Error(), gen)
	setCondition(conds, v1alpha1.ConditionDegraded, true, reason, err.Error(), gen)
}

// next is when to look again: after Refresh, or, while the data plane is
// unreachable or unavailable, after as long as it has been so (at least
// Refresh, at most MaxBackoff), so that a long outage is polled less often
// and an operator restart keeps the pace (the time comes from the
// condition, not from memory).
func (r *reconciler) next(conds []metav1.Condition, now time.Time) time.Duration {
	d := meta.FindStatusCondition(conds, v1alpha1.ConditionDegraded)
	if d == nil || d.Status != metav1.ConditionTrue || (d.Reason != ReasonUnreachable && d.Reason != ReasonUnavailable) {
		return r.opts.Refresh
	}
	return min(max(now.Sub(d.LastTransitionTime.Time), r.opts.Refresh), r.opts.MaxBackoff)
}

// syncTime returns the lastSync to write: now when the status changed or
// the last one is older than statusHeartbeat, else the last one (then
// nothing is written).
func syncTime(changed bool, last *metav1.Time, now time.Time) *metav1.Time {
	if changed || last == nil || now.Sub(last.Time) >= statusHeartbeat {
		t := metav1.NewTime(now)
		return &t
	}
	return last
}

// patchStatus writes obj's status as a merge patch against orig.
func (r *reconciler) patchStatus(ctx context.Context, obj, orig client.Object) error {
	return r.patchStatusWith(ctx, obj, client.MergeFrom(orig))
}

// patchStatusLocked writes obj's status as a merge patch against orig,
// only if obj has not changed since orig was read (resourceVersion): a
// QueueCluster's status.operation is the state its next step starts from,
// so it is never merged into a status written meanwhile.
func (r *reconciler) patchStatusLocked(ctx context.Context, obj, orig client.Object) error {
	return r.patchStatusWith(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
}

func (r *reconciler) patchStatusWith(ctx context.Context, obj client.Object, patch client.Patch) error {
	err := r.Status().Patch(ctx, obj, patch)
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("write status of %s: %w", obj.GetName(), err)
	}
	return nil
}
