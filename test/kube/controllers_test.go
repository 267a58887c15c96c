package kubetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The controllers are Kubernetes' own: a StatefulSet gets its pods and
// claims from the real StatefulSet controller, the scheduler looks at the
// pods (no node exists: it says so in their PodScheduled condition), and
// deleting the StatefulSet deletes its pods through the garbage collector.
func TestControllers(t *testing.T) {
	cp, ctx := withNamespace(t, "controllers", 2*time.Minute, true)
	c, ns := cp.Client, "controllers"
	sts := webStatefulSet(ns)
	if err := c.Create(ctx, sts); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "pods and claims of the StatefulSet", func() error {
		for _, name := range []string{"web-0", "web-1"} {
			var pod corev1.Pod
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pod); err != nil {
				return err
			}
			if ref := metav1.GetControllerOf(&pod); ref == nil || ref.Name != "web" {
				return fmt.Errorf("pod %s is controlled by %v, want the StatefulSet", name, ref)
			}
			if !unschedulable(&pod) {
				return fmt.Errorf("pod %s: conditions %v, want PodScheduled False (no node)", name, pod.Status.Conditions)
			}
			var pvc corev1.PersistentVolumeClaim
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-" + name}, &pvc); err != nil {
				return err
			}
		}
		return nil
	})
	if err := c.Delete(ctx, sts, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "pods deleted with their StatefulSet", func() error {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(pods.Items) > 0 {
			return fmt.Errorf("%d pods left", len(pods.Items))
		}
		return nil
	})
}

func webStatefulSet(ns string) *appsv1.StatefulSet {
	labels := map[string]string{"app": "web"}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To[int32](2),
			Selector:            &metav1.LabelSelector{MatchLabels: labels},
			ServiceName:         "web",
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example/web:1",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
}

func unschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return true
		}
	}
	return false
}

// withNamespace starts a control plane (with Kubernetes' controllers when
// controllers is set) and makes the namespace ns in it; the context ends
// after d, or with the test.
func withNamespace(t *testing.T, ns string, d time.Duration, controllers bool) (*ControlPlane, context.Context) {
	t.Helper()
	cp := Start(t)
	if controllers {
		cp.StartControllers(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	if err := cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return cp, ctx
}

// poll calls fn every 100 ms until it returns nil, failing t with its last
// error when ctx ends.
func poll(t *testing.T, ctx context.Context, what string, fn func() error) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := fn()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v (last: %v)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// The test provisioner gives a claim a volume of its own directory (bound
// by Kubernetes' volume binder), grows it when the claim asks, and deletes
// it with its directory once the claim is gone.
func TestProvisioner(t *testing.T) {
	cp, ctx := withNamespace(t, "volumes", 2*time.Minute, true)
	prov := cp.StartProvisioner(t, map[string]bool{"local": true})
	c, ns := cp.Client, "volumes"
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("local"),
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	if err := c.Create(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	var pv corev1.PersistentVolume
	poll(t, ctx, "claim bound", func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(pvc), pvc); err != nil {
			return err
		}
		if pvc.Status.Phase != corev1.ClaimBound {
			return fmt.Errorf("claim %s", pvc.Status.Phase)
		}
		return c.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, &pv)
	})
	dir := pv.Spec.HostPath.Path
	if _, err := os.Stat(dir); err != nil || !strings.HasPrefix(dir, prov.Dir) {
		t.Fatalf("volume directory %s (%v), want one under %s", dir, err, prov.Dir)
	}
	orig := pvc.DeepCopy()
	pvc.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
	if err := c.Patch(ctx, pvc, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "claim grown", func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(pvc), pvc); err != nil {
			return err
		}
		if got := pvc.Status.Capacity[corev1.ResourceStorage]; got.String() != "2Gi" {
			return fmt.Errorf("capacity %s", got.String())
		}
		return nil
	})
	if err := c.Delete(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "volume deleted", func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(&pv), &pv); !apierrors.IsNotFound(err) {
			return fmt.Errorf("volume %s still there (%s): %v", pv.Name, pv.Status.Phase, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			return fmt.Errorf("directory %s still there: %v", dir, err)
		}
		return nil
	})
}
