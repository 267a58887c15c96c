package controller

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	carrier "github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/dataplane"
	"github.com/carriermq/carrier/operator/internal/build"
	"github.com/carriermq/carrier/protocol"
)

// QueueClusterReconciler keeps a QueueCluster's children as the builders
// render them and its status as the data plane reports it.
type QueueClusterReconciler struct {
	reconciler
}

// Reconcile: get (from the API server, not the cache) → record
// bootstrapExpect (once) → apply the children that changed → observe pods
// and GET /v1/cluster → the operation step → status (only over the status
// read) → look again after the refresh interval (longer while the data
// plane is unreachable). Nothing here deletes anything but the one pod of
// a rollout step: owned children go with the QueueCluster through the
// garbage collector.
func (r *QueueClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var qc v1alpha1.QueueCluster
	if err := r.reader.Get(ctx, req.NamespacedName, &qc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if qc.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	sts, err := r.liveStatefulSet(ctx, &qc)
	if err != nil {
		return ctrl.Result{}, err
	}
	if qc.Status.BootstrapExpect == 0 {
		if err := r.recordBootstrapExpect(ctx, &qc, sts); err != nil {
			return ctrl.Result{}, err
		}
	}
	orig := qc.DeepCopy()
	applyErr := r.applyChildren(ctx, &qc, sts)
	if sts, err = r.liveStatefulSet(ctx, &qc); err != nil {
		return ctrl.Result{}, err
	}
	v := r.observe(ctx, &qc, sts)
	op, opErr := r.opts.Operations.Step(ctx, &qc, v)
	clusterStatus(&qc, v, op, firstErr(applyErr, opErr))
	if !equality.Semantic.DeepEqual(orig.Status, qc.Status) {
		if err := r.patchStatusLocked(ctx, &qc, orig); err != nil {
			return ctrl.Result{}, err
		}
	}
	if applyErr != nil {
		return ctrl.Result{}, applyErr // the controller's own backoff
	}
	return ctrl.Result{RequeueAfter: r.next(qc.Status.Conditions, time.Now())}, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *QueueClusterReconciler) liveStatefulSet(ctx context.Context, qc *v1alpha1.QueueCluster) (*appsv1.StatefulSet, error) {
	var sts appsv1.StatefulSet
	err := r.Get(ctx, types.NamespacedName{Namespace: qc.Namespace, Name: build.StatefulSetName(qc)}, &sts)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get statefulset: %w", err)
	}
	return &sts, nil
}

// recordBootstrapExpect writes status.bootstrapExpect before the
// StatefulSet is created: spec.replicas for a new cluster, or what a
// StatefulSet that already exists was given (a status lost, for example
// by a backup restored without it).
func (r *QueueClusterReconciler) recordBootstrapExpect(ctx context.Context, qc *v1alpha1.QueueCluster, sts *appsv1.StatefulSet) error {
	orig := qc.DeepCopy()
	n := qc.Spec.Replicas
	if sts != nil {
		if got := bootstrapArg(sts); got > 0 {
			n = got
		}
	}
	qc.Status.BootstrapExpect = n
	return r.patchStatusLocked(ctx, qc, orig)
}

// bootstrapArg reads --bootstrap-expect from the StatefulSet's container
// arguments, 0 when absent.
func bootstrapArg(sts *appsv1.StatefulSet) int32 {
	for _, c := range sts.Spec.Template.Spec.Containers {
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--bootstrap-expect="); ok {
				n, _ := strconv.ParseInt(v, 10, 32)
				return int32(n)
			}
		}
	}
	return 0
}

// applyChildren applies each child whose rendering changed. The
// StatefulSet comes last, once what its pods refer to exists.
func (r *QueueClusterReconciler) applyChildren(ctx context.Context, qc *v1alpha1.QueueCluster, sts *appsv1.StatefulSet) error {
	children := []struct {
		want client.Object
		live client.Object
	}{
		{build.ServiceAccount(qc), &corev1.ServiceAccount{}},
		{build.ConfigMap(qc), &corev1.ConfigMap{}},
		{build.HeadlessService(qc), &corev1.Service{}},
		{build.ClientService(qc), &corev1.Service{}},
		{build.PodDisruptionBudget(qc), &policyv1.PodDisruptionBudget{}},
	}
	for _, c := range children {
		live, err := r.getLive(ctx, c.want, c.live)
		if err != nil {
			return err
		}
		if err := r.applyIfChanged(ctx, c.want, live); err != nil {
			return err
		}
	}
	return r.applyStatefulSet(ctx, qc, sts)
}

// getLive reads the object named like want into into; nil when absent.
func (r *QueueClusterReconciler) getLive(ctx context.Context, want, into client.Object) (client.Object, error) {
	err := r.Get(ctx, client.ObjectKeyFromObject(want), into)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", want.GetName(), err)
	}
	return into, nil
}

// applyStatefulSet creates the StatefulSet, or applies it when the
// rendered pod template's hash, the replica count or the volume retention
// differ from the live one's. The objects themselves are not compared (the
// API server fills defaults into what it stores): the same spec renders the
// same hash, so an operator restart or upgrade writes nothing. The claim
// templates are the live ones (immutable; a larger size goes to the claims,
// by the storage operation).
func (r *QueueClusterReconciler) applyStatefulSet(ctx context.Context, qc *v1alpha1.QueueCluster, live *appsv1.StatefulSet) error {
	want := build.StatefulSet(qc, build.StatefulSetParams{
		Replicas:        r.opts.Operations.Replicas(qc, live),
		BootstrapExpect: qc.Status.BootstrapExpect,
	})
	if live != nil {
		if statefulSetCurrent(want, live) {
			return nil
		}
		want.Spec.VolumeClaimTemplates = claimsAsLive(want.Spec.VolumeClaimTemplates, live.Spec.VolumeClaimTemplates)
	}
	desired, err := applyContent(want)
	if err != nil {
		return err
	}
	return r.apply(ctx, desired)
}

func statefulSetCurrent(want, live *appsv1.StatefulSet) bool {
	return live.Annotations[build.TemplateHashAnnotation] == want.Annotations[build.TemplateHashAnnotation] &&
		equality.Semantic.DeepEqual(live.Spec.Replicas, want.Spec.Replicas) &&
		equality.Semantic.DeepEqual(live.Spec.PersistentVolumeClaimRetentionPolicy, want.Spec.PersistentVolumeClaimRetentionPolicy)
}

// claimsAsLive gives each rendered claim template the live one's size.
func claimsAsLive(want, live []corev1.PersistentVolumeClaim) []corev1.PersistentVolumeClaim {
	for i := range want {
		for _, l := range live {
			if l.Name == want[i].Name {
				want[i].Spec.Resources.Requests = l.Spec.Resources.Requests
			}
		}
	}
	return want
}

// observe lists the pods and reads the data plane: GET /v1/cluster through
// the cluster's endpoints, then every member's /readyz and its own view of
// the leader at its advertised address, all at once.
func (r *QueueClusterReconciler) observe(ctx context.Context, qc *v1alpha1.QueueCluster, sts *appsv1.StatefulSet) *View {
	v := &View{StatefulSet: sts}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(qc.Namespace), client.MatchingLabels(build.SelectorLabels(qc))); err != nil {
		log.FromContext(ctx).Error(err, "list pods")
	}
	v.Pods = pods.Items
	dp, err := r.dial(client.ObjectKeyFromObject(qc))
	if err != nil {
		v.Err = err
		return v
	}
	v.DataPlane = dp
	v.Cluster, v.Err = dataplane.Do(ctx, dp, func(a *carrier.Admin) (protocol.ClusterStatus, error) { return a.Cluster(ctx) })
	if v.Err == nil {
		v.Ready, v.Leaders = probeMembers(ctx, dp, v.Cluster.Members)
	}
	return v
}

func probeMembers(ctx context.Context, dp *dataplane.Client, members []protocol.ClusterMember) (ready map[string]bool, leaders map[string]string) {
	ready, leaders = map[string]bool{}, map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range members {
		if m.Suffrage == "None" {
			continue
		}
		wg.Go(func() {
			ok := dp.Ready(ctx, m.APIAddress)
			leader := dp.Leader(ctx, m.APIAddress)
			mu.Lock()
			ready[m.ID], leaders[m.ID] = ok, leader
			mu.Unlock()
		})
	}
	wg.Wait()
	return ready, leaders
}
