package kubetest

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestControlPlaneSmoke proves the control plane is a real API server: objects written
// with a controller-runtime client are stored (in etcd) and read back, and an invalid
// object is refused by the server's own validation.
func TestControlPlaneSmoke(t *testing.T) {
	cp := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := cp.Client

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "smoke"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "settings"},
		Data:       map[string]string{"queue": "orders", "replicas": "3"},
	}
	if err := c.Create(ctx, cm); err != nil {
		t.Fatalf("create configmap: %v", err)
	}

	var gotNS corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: ns.Name}, &gotNS); err != nil {
		t.Fatalf("get namespace: %v", err)
	}
	if gotNS.UID == "" || gotNS.Status.Phase != corev1.NamespaceActive {
		t.Errorf("namespace read back: uid %q, phase %q; want a uid and phase Active", gotNS.UID, gotNS.Status.Phase)
	}
	var got corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKeyFromObject(cm), &got); err != nil {
		t.Fatalf("get configmap: %v", err)
	}
	if got.Data["queue"] != "orders" || got.Data["replicas"] != "3" || len(got.Data) != 2 {
		t.Errorf("configmap data read back = %v, want queue=orders replicas=3", got.Data)
	}
	if got.ResourceVersion == "" || got.CreationTimestamp.IsZero() {
		t.Errorf("configmap read back has no resourceVersion (%q) or creationTimestamp: not stored by a server?", got.ResourceVersion)
	}
	var list corev1.ConfigMapList
	if err := c.List(ctx, &list, client.InNamespace(ns.Name)); err != nil {
		t.Fatalf("list configmaps: %v", err)
	}
	if !hasConfigMap(list, cm.Name) {
		t.Errorf("configmaps in %s do not include %s", ns.Name, cm.Name)
	}

	// Server-side validation: each object is well-formed JSON the client sends as is;
	// only the API server knows it is invalid, and says which field.
	invalid := []struct {
		name  string
		obj   client.Object
		field string
	}{
		{
			name:  "bad data key",
			obj:   &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "bad-key"}, Data: map[string]string{"not a key!": "x"}},
			field: "data[not a key!]",
		},
		{
			name:  "bad namespace name",
			obj:   &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "Not_A_DNS_Label"}},
			field: "metadata.name",
		},
	}
	for _, tc := range invalid {
		err := c.Create(ctx, tc.obj)
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: create returned %v, want a 422 Invalid from the server", tc.name, err)
			continue
		}
		var status apierrors.APIStatus
		if !errors.As(err, &status) || status.Status().Details == nil {
			t.Errorf("%s: error %v carries no status details", tc.name, err)
			continue
		}
		var fields []string
		for _, cause := range status.Status().Details.Causes {
			fields = append(fields, cause.Field)
		}
		if !strings.Contains(strings.Join(fields, " "), tc.field) {
			t.Errorf("%s: causes name fields %q, want %q (error: %v)", tc.name, fields, tc.field, err)
		}
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "bad-key"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("get of the refused configmap = %v, want NotFound", err)
	}
}

func hasConfigMap(list corev1.ConfigMapList, name string) bool {
	for _, cm := range list.Items {
		if cm.Name == name {
			return true
		}
	}
	return false
}

// TestCarrierLinksNoKubernetes keeps controller-runtime and client-go out of the
// product: only test code and the operator may import them.
func TestCarrierLinksNoKubernetes(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("SKIP %s: no go command on PATH: %v", t.Name(), err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/carriermq/carrier/cmd/carrier").Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/carrier: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "k8s.io/") || strings.HasPrefix(pkg, "sigs.k8s.io/") {
			t.Errorf("cmd/carrier links %s", pkg)
		}
	}
}
