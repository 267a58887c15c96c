package controller

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/dataplane"
	"github.com/carriermq/carrier/protocol"
)

// DefaultStepTimeout bounds one step of an operation (a replaced pod back
// and ready, a new member promoted, a volume grown) before the operation
// halts with Degraded. It is longer than the pods' startup probe allows a
// node to start (see build.PodTemplate), so a slow but healthy start never
// halts a rollout.
const DefaultStepTimeout = 15 * time.Minute

// View is what one reconcile observed of a cluster, after its children
// were applied.
type View struct {
	StatefulSet *appsv1.StatefulSet // live, nil before it is created
	Pods        []corev1.Pod        // the cluster's pods (selector labels)
	DataPlane   *dataplane.Client   // nil when no endpoint is configured
	Cluster     protocol.ClusterStatus
	Ready       map[string]bool   // member id → its /readyz answered 200
	Leaders     map[string]string // member id → the leader it names itself ("" none)
	Err         error             // reaching the data plane; Cluster and Ready are empty then
}

// Operations are the multi-step changes of a running cluster: the rolling
// upgrade (pods whose template hash differs from the StatefulSet's), the
// scale (spec.replicas differs from the StatefulSet's) and the storage
// expansion (claims smaller than spec.storage.size). The QueueCluster
// reconciler calls them and records what Step returns in
// status.operation.
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
	// the operation in progress (nil when none). An error is a step that
	// failed (a call refused or not answered); the operation is then
	// qc.Status.Operation, unchanged, and the step is tried again.
	Step(ctx context.Context, qc *v1alpha1.QueueCluster, v *View) (*v1alpha1.OperationStatus, error)
}

// Conductor is the operator's Operations: one operation at a time per
// cluster, each a sequence of single steps on one pod, member or claim,
// each step bounded by StepTimeout (see operator/DESIGN.md, "Operations").
type Conductor struct {
	client      client.Client
	events      recorder.EventRecorder
	stepTimeout time.Duration
}

// NewConductor returns the Operations that act through c (pods, claims)
// and the clusters' admin API, and record events with ev.
func NewConductor(c client.Client, ev recorder.EventRecorder, stepTimeout time.Duration) *Conductor {
	if stepTimeout <= 0 {
		stepTimeout = DefaultStepTimeout
	}
	return &Conductor{client: c, events: ev, stepTimeout: stepTimeout}
}

// Replicas is spec.replicas for a new StatefulSet; afterwards the live
// count, moved by one only by the scale's steps: up to admit the pod being
// added, down once the member leaving is out of the Raft configuration.
func (c *Conductor) Replicas(qc *v1alpha1.QueueCluster, live *appsv1.StatefulSet) int32 {
	if live == nil || live.Spec.Replicas == nil {
		return qc.Spec.Replicas
	}
	n := *live.Spec.Replicas
	op := qc.Status.Operation
	if op == nil {
		return n
	}
	ord, ok := ordinal(live.Name, op.Pod)
	switch {
	case !ok:
		return n
	case op.Type == v1alpha1.OperationScaleUp && op.Phase == v1alpha1.PhaseAdding && ord == n:
		return n + 1
	case op.Type == v1alpha1.OperationScaleDown && op.Phase == v1alpha1.PhaseRemoving && ord == n-1:
		return n - 1
	}
	return n
}

// Step continues the operation in progress; when there is none, it starts
// the first one needed, in this order: a storage expansion (it disturbs no
// pod), a scale, a rollout. An operation that finishes returns nil; the
// next one starts on the next reconcile.
func (c *Conductor) Step(ctx context.Context, qc *v1alpha1.QueueCluster, v *View) (*v1alpha1.OperationStatus, error) {
	if v.StatefulSet == nil || v.StatefulSet.Spec.Replicas == nil {
		return nil, nil
	}
	s := &step{c: c, qc: qc, v: v, prev: qc.Status.Operation, now: time.Now()}
	if s.prev != nil {
		op, err := s.run(ctx, s.prev.Type)
		if err != nil || op != nil {
			return s.record(op, err)
		}
		s.event(false, string(s.prev.Type)+"Finished", "Finish", "%s finished: the cluster is as the spec asks", words(s.prev.Type))
		return nil, nil
	}
	for _, t := range []v1alpha1.OperationType{v1alpha1.OperationStorageExpansion, v1alpha1.OperationScaleUp, v1alpha1.OperationRollout} {
		op, err := s.run(ctx, t)
		if err != nil || op != nil {
			return s.record(op, err)
		}
	}
	return nil, nil
}

// run is one step of an operation of type t (ScaleUp and ScaleDown are
// one: the scale).
func (s *step) run(ctx context.Context, t v1alpha1.OperationType) (*v1alpha1.OperationStatus, error) {
	switch t {
	case v1alpha1.OperationStorageExpansion:
		return s.storage(ctx)
	case v1alpha1.OperationScaleUp, v1alpha1.OperationScaleDown:
		return s.scale(ctx)
	case v1alpha1.OperationRollout:
		return s.rollout(ctx)
	}
	return nil, fmt.Errorf("unknown operation %q in status.operation", t)
}

// step is one call of Step: what it observed and what it started from.
type step struct {
	c    *Conductor
	qc   *v1alpha1.QueueCluster
	v    *View
	prev *v1alpha1.OperationStatus // status.operation as the call began
	now  time.Time
}

// record returns op after a step; on a failed step, the operation as it
// was (nil only when none was in progress).
func (s *step) record(op *v1alpha1.OperationStatus, err error) (*v1alpha1.OperationStatus, error) {
	if err != nil {
		return s.prev, err
	}
	return op, nil
}

// at is the operation in status after this step: its Started kept from the
// one in progress of the same type, its StepStarted kept while the step is
// the same (same pod, same phase), and halted with it; fresh marks a new
// step.
func (s *step) at(t v1alpha1.OperationType, phase v1alpha1.OperationPhase, pod, target, msg string) *v1alpha1.OperationStatus {
	now := metav1.NewTime(s.now)
	op := &v1alpha1.OperationStatus{Type: t, Phase: phase, Pod: pod, Target: target, Step: msg, Started: &now, StepStarted: &now}
	p := s.prev
	if p == nil || !sameOperation(p.Type, t) {
		return op
	}
	op.Started = p.Started
	if p.Pod == pod && p.Phase == phase && p.StepStarted != nil {
		op.StepStarted, op.Halted = p.StepStarted, p.Halted
	}
	return op
}

// fresh starts a new step: an action (a pod deleted, a member removed, a
// claim resized) was just taken.
func (s *step) fresh(op *v1alpha1.OperationStatus) *v1alpha1.OperationStatus {
	now := metav1.NewTime(s.now)
	op.StepStarted, op.Halted = &now, false
	return op
}

// bounded halts op when its step has waited longer than the step timeout:
// Halted (Degraded, a Warning event when it halts). A halted step is still
// looked at on every reconcile; it continues if what it waits for happens,
// but nothing further is started while it waits.
func (s *step) bounded(op *v1alpha1.OperationStatus) *v1alpha1.OperationStatus {
	if op.StepStarted == nil || s.now.Sub(op.StepStarted.Time) <= s.c.stepTimeout {
		return op
	}
	op.Step = fmt.Sprintf("halted: %s (for more than %s, the step timeout)", op.Step, s.c.stepTimeout)
	if !op.Halted {
		s.event(true, string(op.Type)+"Halted", "Halt", "%s %s", words(op.Type), op.Step)
	}
	op.Halted = true
	return op
}

// refused is op stopped before a step that would cost the quorum or that
// the cluster refused (Degraded, a Warning event the first time); it is
// tried again on every reconcile.
func (s *step) refused(op *v1alpha1.OperationStatus) *v1alpha1.OperationStatus {
	if s.prev == nil || s.prev.Phase != v1alpha1.PhaseRefused || s.prev.Step != op.Step {
		s.event(true, string(op.Type)+"Refused", "Refuse", "%s refused: %s", words(op.Type), op.Step)
	}
	op.Phase = v1alpha1.PhaseRefused
	return op
}

func (s *step) event(warning bool, reason, action, note string, args ...any) {
	typ := corev1.EventTypeNormal
	if warning {
		typ = corev1.EventTypeWarning
	}
	s.c.events.Eventf(s.qc, nil, typ, reason, action, note, args...)
}

// sameOperation: a scale that turns from up to down (the spec changed
// midway) is still the one scale.
func sameOperation(a, b v1alpha1.OperationType) bool {
	scale := func(t v1alpha1.OperationType) bool {
		return t == v1alpha1.OperationScaleUp || t == v1alpha1.OperationScaleDown
	}
	return a == b || (scale(a) && scale(b))
}

func words(t v1alpha1.OperationType) string {
	switch t {
	case v1alpha1.OperationRollout:
		return "rollout"
	case v1alpha1.OperationScaleUp:
		return "scale up"
	case v1alpha1.OperationScaleDown:
		return "scale down"
	case v1alpha1.OperationStorageExpansion:
		return "storage expansion"
	}
	return string(t)
}
