package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/internal/build"
)

// storage grows the nodes' bound volume claims to spec.storage.size, one
// claim at a time, lowest ordinal first: raise the claim's request (the storage
// class's driver grows the volume, online where it can), then wait until
// the claim's capacity reaches the size before the next. A claim is never
// shrunk (the schema refuses a smaller size, and a claim grown beyond it,
// by hand, is left alone). The StatefulSet's claim template keeps the size
// it was created with (it cannot change); a claim of a pod added later is
// grown by this same operation. Every step is read back from the claims
// themselves, so an operator restarted midway finishes the job. A claim
// the API server refuses to grow (its storage class does not allow
// expansion) refuses the operation, tried again on every reconcile.
func (s *step) storage(ctx context.Context) (*v1alpha1.OperationStatus, error) {
	want := s.qc.Spec.Storage.Size
	if want == nil {
		return nil, nil
	}
	target := want.String()
	for i := range s.replicas() {
		name := claimName(s.stsName(), i)
		var pvc corev1.PersistentVolumeClaim
		err := s.c.client.Get(ctx, types.NamespacedName{Namespace: s.qc.Namespace, Name: name}, &pvc)
		if apierrors.IsNotFound(err) {
			continue // its pod has not been created yet
		}
		if err != nil {
			return nil, fmt.Errorf("get claim %s: %w", name, err)
		}
		if pvc.Status.Phase != corev1.ClaimBound {
			// Not bound yet (no volume, or one waiting for its pod to be
			// scheduled): it has no capacity to grow, and the API server
			// lets only a bound claim be resized. Once bound, it is looked
			// at again.
			continue
		}
		if req := requested(&pvc); req.Cmp(*want) < 0 {
			return s.grow(ctx, &pvc, *want, target)
		}
		if got := capacity(&pvc); got.Cmp(*want) < 0 {
			return s.bounded(s.at(v1alpha1.OperationStorageExpansion, v1alpha1.PhaseExpanding, name, target,
				fmt.Sprintf("waiting for the volume of %s to grow from %s to %s%s", name, got.String(), target, resizeConditions(&pvc)))), nil
		}
	}
	return nil, nil
}

// grow raises the claim's request to want.
func (s *step) grow(ctx context.Context, pvc *corev1.PersistentVolumeClaim, want resource.Quantity, target string) (*v1alpha1.OperationStatus, error) {
	orig := pvc.DeepCopy()
	pvc.Spec.Resources.Requests[corev1.ResourceStorage] = want
	err := s.c.client.Patch(ctx, pvc, client.MergeFrom(orig))
	if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
		return s.refused(s.at(v1alpha1.OperationStorageExpansion, v1alpha1.PhaseRefused, pvc.Name, target,
			fmt.Sprintf("the API server refused to grow %s to %s: %s", pvc.Name, target, err.Error()))), nil
	}
	if err != nil {
		return nil, fmt.Errorf("grow claim %s: %w", pvc.Name, err)
	}
	was := requested(orig)
	s.event(false, "ExpandingVolume", "Expand", "asked for %s on claim %s (was %s)", target, pvc.Name, was.String())
	return s.fresh(s.at(v1alpha1.OperationStorageExpansion, v1alpha1.PhaseExpanding, pvc.Name, target,
		fmt.Sprintf("growing %s to %s", pvc.Name, target))), nil
}

// claimName is the StatefulSet controller's name of pod n's data claim.
func claimName(sts string, n int32) string {
	return build.DataVolumeName + "-" + podName(sts, n)
}

func requested(pvc *corev1.PersistentVolumeClaim) resource.Quantity {
	return pvc.Spec.Resources.Requests[corev1.ResourceStorage]
}

func capacity(pvc *corev1.PersistentVolumeClaim) resource.Quantity {
	return pvc.Status.Capacity[corev1.ResourceStorage]
}

// resizeConditions are the claim's resize conditions, for the step's
// message ("; FileSystemResizePending: …" when the node must finish it).
func resizeConditions(pvc *corev1.PersistentVolumeClaim) string {
	var b strings.Builder
	for _, c := range pvc.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			fmt.Fprintf(&b, "; %s", c.Type)
			if c.Message != "" {
				fmt.Fprintf(&b, ": %s", c.Message)
			}
		}
	}
	return b.String()
}
