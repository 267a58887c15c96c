package kubetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ProvisionerName is the provisioner of the storage classes a Provisioner
// serves.
const ProvisionerName = "carrier.dev/test-local"

// Provisioner stands in for a storage driver and its external provisioner
// and resizer: claims of its storage classes get a volume, a directory of
// its own under Dir (a hostPath PersistentVolume, bound to the claim by
// Kubernetes' own volume binder); a claim whose request grows gets that
// capacity (online, as a CSI driver that expands volumes does); a released
// volume is deleted with its directory when its reclaim policy says Delete.
// It needs the controllers (StartControllers) for the binding. Directory
// sizes are not enforced: a volume is as large as the disk it lies on.
type Provisioner struct {
	c   client.Client
	Dir string

	mu   sync.Mutex
	grow func(claim string) bool
}

// StartProvisioner serves the storage classes named in classes, creating
// each (immediate binding, the reclaim policy Delete, expansion allowed
// when expand says so), until t ends.
func (cp *ControlPlane) StartProvisioner(t testing.TB, classes map[string]bool) *Provisioner {
	t.Helper()
	p := &Provisioner{c: cp.Client, Dir: t.TempDir(), grow: func(string) bool { return true }}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for name, expand := range classes {
		sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: ProvisionerName,
			AllowVolumeExpansion: ptr.To(expand), ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete),
			VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)}
		if err := p.c.Create(ctx, sc); err != nil {
			t.Fatalf("kubetest: storage class %s: %v", name, err)
		}
	}
	RunRounds(t, "kubetest: provisioner", 100*time.Millisecond, p.round)
	return p
}

// HoldGrowth makes the volume of a claim grow only when grow says so (the
// driver taking its time); nil lets every volume grow at once.
func (p *Provisioner) HoldGrowth(grow func(claim string) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if grow == nil {
		grow = func(string) bool { return true }
	}
	p.grow = grow
}

func (p *Provisioner) round(ctx context.Context) error {
	var claims corev1.PersistentVolumeClaimList
	if err := p.c.List(ctx, &claims); err != nil {
		return err
	}
	for i := range claims.Items {
		pvc := &claims.Items[i]
		if !p.serves(ctx, pvc) {
			continue
		}
		var err error
		switch {
		case pvc.Spec.VolumeName == "" && pvc.DeletionTimestamp == nil:
			err = p.provision(ctx, pvc)
		case pvc.Status.Phase == corev1.ClaimBound:
			err = p.expand(ctx, pvc)
		}
		if err != nil {
			return err
		}
	}
	return p.reclaim(ctx)
}

// serves: the claim's class is one of this provisioner's.
func (p *Provisioner) serves(ctx context.Context, pvc *corev1.PersistentVolumeClaim) bool {
	if pvc.Spec.StorageClassName == nil {
		return false
	}
	var sc storagev1.StorageClass
	err := p.c.Get(ctx, client.ObjectKey{Name: *pvc.Spec.StorageClassName}, &sc)
	return err == nil && sc.Provisioner == ProvisionerName
}

// provision makes the claim's directory and a volume bound to the claim
// (claimRef); the volume binder completes the binding.
func (p *Provisioner) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	name := "pvc-" + string(pvc.UID)
	dir := filepath.Join(p.Dir, name)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": ProvisionerName}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              *pvc.Spec.StorageClassName,
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: dir, Type: ptr.To(corev1.HostPathDirectoryOrCreate)}},
		},
	}
	if err := p.c.Create(ctx, pv); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create volume for %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	return nil
}

// expand gives a bound claim whose request exceeds its capacity that
// capacity, on its volume and then on the claim, as a resizer does.
func (p *Provisioner) expand(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	req, got := pvc.Spec.Resources.Requests[corev1.ResourceStorage], pvc.Status.Capacity[corev1.ResourceStorage]
	p.mu.Lock()
	grow := p.grow(pvc.Name)
	p.mu.Unlock()
	if req.Cmp(got) <= 0 || !grow {
		return nil
	}
	var pv corev1.PersistentVolume
	if err := p.c.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, &pv); err != nil {
		return err
	}
	if c := pv.Spec.Capacity[corev1.ResourceStorage]; c.Cmp(req) < 0 {
		orig := pv.DeepCopy()
		pv.Spec.Capacity = corev1.ResourceList{corev1.ResourceStorage: req.DeepCopy()}
		if err := p.c.Patch(ctx, &pv, client.MergeFrom(orig)); err != nil {
			return fmt.Errorf("grow volume %s: %w", pv.Name, err)
		}
	}
	orig := pvc.DeepCopy()
	pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: req.DeepCopy()}
	if err := p.c.Status().Patch(ctx, pvc, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("grow claim %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	return nil
}

// reclaim deletes the released volumes of this provisioner whose policy is
// Delete, and their directories.
func (p *Provisioner) reclaim(ctx context.Context) error {
	var pvs corev1.PersistentVolumeList
	if err := p.c.List(ctx, &pvs); err != nil {
		return err
	}
	for i := range pvs.Items {
		pv := &pvs.Items[i]
		if pv.Annotations["pv.kubernetes.io/provisioned-by"] != ProvisionerName || pv.Status.Phase != corev1.VolumeReleased ||
			pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
			continue
		}
		if err := os.RemoveAll(pv.Spec.HostPath.Path); err != nil {
			return err
		}
		if err := p.c.Delete(ctx, pv); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete volume %s: %w", pv.Name, err)
		}
	}
	return nil
}
