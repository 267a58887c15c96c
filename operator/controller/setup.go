// Package controller holds the operator's reconcilers: QueueCluster (the
// children from package build, status from the data plane), Queue and
// ConsumerGroup (created and kept in place through Carrier's admin API,
// with If-Match). See operator/DESIGN.md for the reconcile flows.
package controller

import (
	"context"
	"fmt"
	"net/http"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/dataplane"
)

// Defaults of Options.
const (
	DefaultRefresh    = 5 * time.Second
	DefaultMaxBackoff = time.Minute
	// statusHeartbeat bounds how stale lastSync may get: status is written
	// when something in it changed, and at least this often.
	statusHeartbeat = time.Minute
	// fieldOwner is the operator's name in managedFields (server-side apply)
	// and its events' reporting controller.
	fieldOwner = "carrier-operator"
	// finalizer holds a Queue or ConsumerGroup until its deletionPolicy has
	// been carried out.
	finalizer = "carrier.dev/deletion-policy"
	// objectWorkers is how many Queues (and, apart, ConsumerGroups) are
	// reconciled at once.
	objectWorkers = 4
)

// Options configure the controllers.
type Options struct {
	// Endpoints of each cluster's admin API; nil means the client Service.
	Endpoints dataplane.Endpoints
	// HTTPClient for admin calls; nil means one with a 5 s timeout.
	HTTPClient *http.Client
	// Refresh is how often an object's status is read from the data plane
	// (DefaultRefresh when zero).
	Refresh time.Duration
	// MaxBackoff bounds the wait between attempts while a data plane is
	// unreachable (DefaultMaxBackoff when zero).
	MaxBackoff time.Duration
	// StepTimeout bounds each step of a rollout, scale or storage expansion
	// (DefaultStepTimeout when zero); a step that takes longer halts its
	// operation with Degraded.
	StepTimeout time.Duration
	// Operations runs rollouts, scales and storage expansions; nil means
	// the Conductor (see operations.go).
	Operations Operations
}

func (o Options) withDefaults() Options {
	if o.Endpoints == nil {
		o.Endpoints = dataplane.ServiceEndpoints{}
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.MaxBackoff < o.Refresh {
		o.MaxBackoff = max(DefaultMaxBackoff, o.Refresh)
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = DefaultStepTimeout
	}
	return o
}

// managedBy selects what the operator made: the builders label every child
// and the pod template with app.kubernetes.io/managed-by=carrier-operator.
var managedBy = labels.SelectorFromSet(labels.Set{"app.kubernetes.io/managed-by": "carrier-operator"})

// carrierClaims selects the claims of Carrier's StatefulSets.
var carrierClaims = labels.SelectorFromSet(labels.Set{"app.kubernetes.io/name": "carrier"})

// podCluster maps a cluster's pod to its QueueCluster (the instance label
// the builders put on the pod template).
func podCluster(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()["app.kubernetes.io/instance"]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
}

// CacheOptions are the manager's cache settings the controllers expect:
// objects of the given namespaces only (all when none), and of the kinds a
// cluster is made of only those the operator made, not every pod, Service
// or ConfigMap of the cluster. A child whose label someone removed is not
// seen, so it is applied again, which puts the label back.
func CacheOptions(namespaces ...string) cache.Options {
	o := cache.Options{ByObject: map[client.Object]cache.ByObject{}}
	for _, obj := range []client.Object{&corev1.Pod{}, &appsv1.StatefulSet{}, &corev1.Service{},
		&corev1.ConfigMap{}, &corev1.ServiceAccount{}, &policyv1.PodDisruptionBudget{}} {
		o.ByObject[obj] = cache.ByObject{Label: managedBy}
	}
	// The StatefulSet controller labels a claim with its template's labels,
	// the selector labels (the claim template cannot change, so it carries
	// no managed-by).
	o.ByObject[&corev1.PersistentVolumeClaim{}] = cache.ByObject{Label: carrierClaims}
	if len(namespaces) > 0 {
		o.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}

// Setup registers the three controllers with mgr.
func Setup(mgr ctrl.Manager, o Options) error {
	o = o.withDefaults()
	events := mgr.GetEventRecorder(fieldOwner)
	if o.Operations == nil {
		o.Operations = NewConductor(mgr.GetClient(), events, o.StepTimeout)
	}
	base := reconciler{Client: mgr.GetClient(), reader: mgr.GetAPIReader(), opts: o, events: events}
	qc := ctrl.NewControllerManagedBy(mgr).Named("queuecluster").
		For(&v1alpha1.QueueCluster{}, specChanged()).
		Owns(&appsv1.StatefulSet{}).Owns(&corev1.Service{}).Owns(&corev1.ConfigMap{}).
		Owns(&corev1.ServiceAccount{}).Owns(&policyv1.PodDisruptionBudget{}).
		// A pod created, deleted or turning ready moves an operation on.
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podCluster))
	if err := qc.Complete(&QueueClusterReconciler{reconciler: base}); err != nil {
		return fmt.Errorf("queuecluster controller: %w", err)
	}
	// Several queues and groups at once: one whose cluster does not answer
	// waits out its timeouts without holding up the others.
	workers := crcontroller.Options{MaxConcurrentReconciles: objectWorkers}
	q := ctrl.NewControllerManagedBy(mgr).Named("queue").For(&v1alpha1.Queue{}, specChanged()).WithOptions(workers)
	if err := q.Complete(&QueueReconciler{reconciler: base}); err != nil {
		return fmt.Errorf("queue controller: %w", err)
	}
	g := ctrl.NewControllerManagedBy(mgr).Named("consumergroup").For(&v1alpha1.ConsumerGroup{}, specChanged()).WithOptions(workers)
	if err := g.Complete(&ConsumerGroupReconciler{reconciler: base}); err != nil {
		return fmt.Errorf("consumergroup controller: %w", err)
	}
	return nil
}

// specChanged lets through a change of the spec (generation) or the start
// of a deletion, not the operator's own status writes: those would
// otherwise trigger a reconcile that writes status again, a hot loop. The
// status refresh comes from RequeueAfter instead.
func specChanged() builder.ForOption {
	deleting := predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectNew.GetDeletionTimestamp() != nil
	}}
	return builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, deleting))
}
