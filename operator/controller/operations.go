package controller

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/dataplane"
	"github.com/carriermq/carrier/protocol"
)

// View is what one reconcile observed of a cluster, after its children
// were applied.
type View struct {
	StatefulSet *appsv1.StatefulSet // live, nil before it is created
	Pods        []corev1.Pod        // the cluster's pods (selector labels)
	DataPlane   *dataplane.Client   // nil when no endpoint is configured
	Cluster     protocol.ClusterStatus
	Ready       map[string]bool // member id → its /readyz answered 200
	Err         error           // reaching the data plane; Cluster and Ready are empty then
}

// Operations are the multi-step changes of a running cluster: the rolling
// upgrade (pods whose template hash differs from the StatefulSet's), the
// scale (spec.replicas differs from the members) and the storage
// expansion (claims smaller than spec.storage.size). They are the seam
// for the slice that builds them; the QueueCluster reconciler calls them
// and records what Step returns in status.operation.
//
// Methods are called from one reconcile at a time per cluster. Step must
// return promptly (one bounded step per call, the rest on the next
// reconcile) and keep what it needs to resume in status.operation, so that
// an operator restarted midway carries on.
type Operations interface {
	// Replicas is the StatefulSet replica count to apply now; live is nil
	// before the StatefulSet exists.
	Replicas(qc *v1alpha1.QueueCluster, live *appsv1.StatefulSet) int32
	// Step advances the operation the cluster needs, if any, and returns
	// the operation in progress (nil when none).
	Step(ctx context.Context, qc *v1alpha1.QueueCluster, v *View) (*v1alpha1.OperationStatus, error)
}

// Hold is the Operations of this version: it starts none. A new cluster
// gets spec.replicas; afterwards the StatefulSet keeps its replica count,
// and the template (applied with the OnDelete strategy) reaches a pod only
// when the pod is recreated. The Progressing condition says what is
// pending (RolloutPending, ScalePending).
type Hold struct{}

// Replicas keeps the live count once the StatefulSet exists.
func (Hold) Replicas(qc *v1alpha1.QueueCluster, live *appsv1.StatefulSet) int32 {
	if live != nil && live.Spec.Replicas != nil {
		return *live.Spec.Replicas
	}
	return qc.Spec.Replicas
}

// Step does nothing.
func (Hold) Step(context.Context, *v1alpha1.QueueCluster, *View) (*v1alpha1.OperationStatus, error) {
	return nil, nil
}
