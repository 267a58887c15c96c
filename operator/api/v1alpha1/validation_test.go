package v1alpha1_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	kubetest "github.com/carriermq/carrier/test/kube"
)

// These tests install the generated CRDs into a real kube-apiserver and show
// that the schema (markers and CEL rules) accepts valid objects, fills in the
// defaults, and refuses invalid ones with a readable message.

const ns = "validation"

func startAPIServer(t *testing.T) (context.Context, client.Client) {
	t.Helper()
	cp := kubetest.Start(t,
		kubetest.WithCRDDirectories(filepath.Join("..", "..", "config", "crd")),
		kubetest.WithScheme(v1alpha1.AddToScheme))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	if err := cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ctx, cp.Client
}

func TestSchema(t *testing.T) {
	ctx, c := startAPIServer(t)
	t.Run("QueueCluster", func(t *testing.T) { checkQueueCluster(ctx, t, c) })
	t.Run("Queue", func(t *testing.T) { checkQueue(ctx, t, c) })
	t.Run("ConsumerGroup", func(t *testing.T) { checkConsumerGroup(ctx, t, c) })
}

func checkQueueCluster(ctx context.Context, t *testing.T, c client.Client) {
	qc := newCluster("orders")
	mustCreate(ctx, t, c, qc)
	if qc.Spec.Replicas != 3 || qc.Spec.Storage.Size.String() != "10Gi" ||
		qc.Spec.Storage.Retention.WhenDeleted != v1alpha1.VolumeRetain || qc.Spec.Storage.Retention.WhenScaled != v1alpha1.VolumeRetain {
		t.Errorf("defaults: replicas %d, storage %s, retention %+v; want 3, 10Gi, Retain/Retain",
			qc.Spec.Replicas, qc.Spec.Storage.Size.String(), qc.Spec.Storage.Retention)
	}

	mustCreate(ctx, t, c, fullCluster())

	even := newCluster("even")
	even.Spec.Replicas = 4
	wantInvalid(t, c.Create(ctx, even), "replicas must be odd")
	even.Spec.AllowEvenReplicas = true
	mustCreate(ctx, t, c, even)

	scaleTo(ctx, t, c, qc, 4, "replicas must be odd")
	scaleTo(ctx, t, c, qc, 5, "")

	shrink := get(ctx, t, c, qc)
	shrink.Spec.Storage.Size = ptr(resource.MustParse("5Gi"))
	wantInvalid(t, c.Update(ctx, shrink), "storage.size may grow but not shrink")
	grow := get(ctx, t, c, qc)
	grow.Spec.Storage.Size = ptr(resource.MustParse("20Gi"))
	if err := c.Update(ctx, grow); err != nil {
		t.Errorf("growing the storage: %v", err)
	}
	class := get(ctx, t, c, qc)
	class.Spec.Storage.StorageClassName = ptr("fast")
	wantInvalid(t, c.Update(ctx, class), "storage.storageClassName is immutable")

	tiny := newCluster("tiny")
	tiny.Spec.Storage.Size = ptr(resource.MustParse("10Mi"))
	wantInvalid(t, c.Create(ctx, tiny), "storage.size must be at least 256Mi")

	owned := newCluster("owned")
	owned.Spec.Pod.ExtraEnv = []corev1.EnvVar{{Name: "CARRIER_JOIN", Value: "elsewhere:7422"}}
	wantInvalid(t, c.Create(ctx, owned), "extraEnv may not set a variable the operator owns")

	badDuration := newCluster("bad-duration")
	badDuration.Spec.Config.HeartbeatTimeout = ptr(v1alpha1.Duration("soon"))
	wantInvalid(t, c.Create(ctx, badDuration), "must be a duration such as 30s")

	long := newCluster(strings.Repeat("a", 41))
	wantInvalid(t, c.Create(ctx, long), "metadata.name must be at most 40 characters")
}

func checkQueue(ctx context.Context, t *testing.T, c client.Client) {
	q := newQueue("orders", "orders")
	q.Spec.Limits = &v1alpha1.QueueLimits{MaxBytes: ptr(resource.MustParse("1Gi")), MaxAge: ptr(v1alpha1.Duration("24h"))}
	q.Spec.GroupDefaults = &v1alpha1.GroupSettings{MaxDeliver: ptr(int32(3)), Start: &v1alpha1.StartPosition{Kind: v1alpha1.StartNew}}
	mustCreate(ctx, t, c, q)
	if q.Spec.DeletionPolicy != v1alpha1.DeletionRetain {
		t.Errorf("default deletionPolicy = %q, want Retain", q.Spec.DeletionPolicy)
	}

	for _, name := range []string{"-orders", "orders/eu", "orders eu", "örders", ".hidden"} {
		wantInvalid(t, c.Create(ctx, newQueue("bad-name", name)), "spec.name must be 1 to 128 characters")
	}
	wantInvalid(t, c.Create(ctx, newQueue("long-name", strings.Repeat("q", 129))), "spec.name: Too long: may not be more than 128 bytes")
	mustCreate(ctx, t, c, newQueue("odd-name", "Orders_v2.eu-1"))

	renamed := getQueue(ctx, t, c, q)
	renamed.Spec.Name = "invoices"
	wantInvalid(t, c.Update(ctx, renamed), "spec.name is immutable")
	moved := getQueue(ctx, t, c, q)
	moved.Spec.ClusterRef.Name = "other"
	wantInvalid(t, c.Update(ctx, moved), "spec.clusterRef is immutable")

	changed := getQueue(ctx, t, c, q)
	changed.Spec.Discard = "new"
	changed.Spec.Retention = "workqueue"
	changed.Spec.Limits.MaxAge = ptr(v1alpha1.Duration("1h"))
	if err := c.Update(ctx, changed); err != nil {
		t.Errorf("changing the settings in place: %v", err)
	}

	big := newQueue("big-message", "big")
	big.Spec.Limits = &v1alpha1.QueueLimits{MaxMessageSize: ptr(resource.MustParse("128Mi"))}
	wantInvalid(t, c.Create(ctx, big), "limits.maxMessageSize must be between 1 and 64Mi")
	over := newQueue("over", "over")
	over.Spec.Limits = &v1alpha1.QueueLimits{MaxBytes: ptr(resource.MustParse("1Mi")), MaxMessageSize: ptr(resource.MustParse("2Mi"))}
	wantInvalid(t, c.Create(ctx, over), "limits.maxMessageSize may not exceed limits.maxBytes")
}

func checkConsumerGroup(ctx context.Context, t *testing.T, c client.Client) {
	g := newGroup("billing", "billing")
	g.Spec.AckWait = ptr(v1alpha1.Duration("10s"))
	g.Spec.Start = &v1alpha1.StartPosition{Kind: v1alpha1.StartSeq, Seq: ptr(int64(42))}
	mustCreate(ctx, t, c, g)

	noSeq := newGroup("no-seq", "no-seq")
	noSeq.Spec.Start = &v1alpha1.StartPosition{Kind: v1alpha1.StartSeq}
	wantInvalid(t, c.Create(ctx, noSeq), "start.seq is required when start.kind is seq")
	tooMany := newGroup("too-many", "too-many")
	tooMany.Spec.MaxDeliver = ptr(int32(1001))
	wantInvalid(t, c.Create(ctx, tooMany), "spec.maxDeliver: Invalid value: 1001: spec.maxDeliver in body should be less than or equal to 1000")

	restarted := getGroup(ctx, t, c, g)
	restarted.Spec.Start = &v1alpha1.StartPosition{Kind: v1alpha1.StartNew}
	wantInvalid(t, c.Update(ctx, restarted), "spec.start is immutable")
	renamed := getGroup(ctx, t, c, g)
	renamed.Spec.Name = "payroll"
	wantInvalid(t, c.Update(ctx, renamed), "spec.name is immutable")
	moved := getGroup(ctx, t, c, g)
	moved.Spec.QueueRef.Name = "invoices"
	wantInvalid(t, c.Update(ctx, moved), "spec.queueRef is immutable")

	changed := getGroup(ctx, t, c, g)
	changed.Spec.MaxInFlight = ptr(int32(1))
	changed.Spec.AckWait = ptr(v1alpha1.Duration("1m"))
	if err := c.Update(ctx, changed); err != nil {
		t.Errorf("changing the settings in place: %v", err)
	}
}

func newCluster(name string) *v1alpha1.QueueCluster {
	return &v1alpha1.QueueCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.QueueClusterSpec{Image: "carrier:0.1.0"},
	}
}

// fullCluster sets a value in every part of the spec.
func fullCluster() *v1alpha1.QueueCluster {
	qc := newCluster("full")
	qc.Spec.Replicas = 5
	qc.Spec.ImagePullPolicy = corev1.PullIfNotPresent
	qc.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}
	qc.Spec.Storage = v1alpha1.StorageSpec{Size: ptr(resource.MustParse("50Gi")), StorageClassName: ptr("fast"),
		Retention: v1alpha1.VolumeRetention{WhenDeleted: v1alpha1.VolumeDelete, WhenScaled: v1alpha1.VolumeDelete}}
	qc.Spec.Pod = v1alpha1.PodOverrides{
		Labels: map[string]string{"team": "payments"}, Annotations: map[string]string{"a": "b"},
		NodeSelector: map[string]string{"disk": "ssd"}, PriorityClassName: "high",
		Tolerations:                   []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
		TerminationGracePeriodSeconds: ptr(int64(90)),
		ExtraEnv:                      []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "1800MiB"}},
	}
	qc.Spec.Config = v1alpha1.ServerConfig{LogLevel: "debug", AutoCreate: ptr(false),
		MaxStoreBytes: ptr(resource.MustParse("1Gi")), HeartbeatTimeout: ptr(v1alpha1.Duration("1s")),
		ElectionTimeout: ptr(v1alpha1.Duration("1s")), SnapshotInterval: ptr(v1alpha1.Duration("2m")),
		SnapshotThreshold: ptr(int64(8192)), TrailingLogs: ptr(int64(10240)), RaftSegmentBytes: ptr(resource.MustParse("32Mi"))}
	qc.Spec.Service = v1alpha1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Annotations: map[string]string{"lb": "internal"}}
	qc.Spec.Auth = &v1alpha1.SecretReference{SecretName: "carrier-auth"}
	qc.Spec.TLS = &v1alpha1.SecretReference{SecretName: "carrier-tls"}
	return qc
}

func newQueue(object, queue string) *v1alpha1.Queue {
	return &v1alpha1.Queue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: object},
		Spec: v1alpha1.QueueSpec{
			ClusterRef: v1alpha1.LocalObjectReference{Name: "orders"},
			Name:       queue,
		},
	}
}

func newGroup(object, group string) *v1alpha1.ConsumerGroup {
	return &v1alpha1.ConsumerGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: object},
		Spec: v1alpha1.ConsumerGroupSpec{
			QueueRef: v1alpha1.LocalObjectReference{Name: "orders"},
			Name:     group,
		},
	}
}

// scaleTo sets the cluster's replicas through the scale subresource (as
// kubectl scale does); want is the expected refusal, "" for none.
func scaleTo(ctx context.Context, t *testing.T, c client.Client, qc *v1alpha1.QueueCluster, n int32, want string) {
	t.Helper()
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"replicas":`+itoa(n)+`}}`))
	err := c.SubResource("scale").Patch(ctx, get(ctx, t, c, qc), patch)
	if want == "" {
		if err != nil {
			t.Errorf("scale to %d: %v", n, err)
		}
		return
	}
	wantInvalid(t, err, want)
}

func itoa(n int32) string { return resource.NewQuantity(int64(n), resource.DecimalSI).String() }

func mustCreate(ctx context.Context, t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(ctx, obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

func get(ctx context.Context, t *testing.T, c client.Client, qc *v1alpha1.QueueCluster) *v1alpha1.QueueCluster {
	t.Helper()
	var got v1alpha1.QueueCluster
	if err := c.Get(ctx, client.ObjectKeyFromObject(qc), &got); err != nil {
		t.Fatalf("get: %v", err)
	}
	return &got
}

func getQueue(ctx context.Context, t *testing.T, c client.Client, q *v1alpha1.Queue) *v1alpha1.Queue {
	t.Helper()
	var got v1alpha1.Queue
	if err := c.Get(ctx, client.ObjectKeyFromObject(q), &got); err != nil {
		t.Fatalf("get: %v", err)
	}
	return &got
}

func getGroup(ctx context.Context, t *testing.T, c client.Client, g *v1alpha1.ConsumerGroup) *v1alpha1.ConsumerGroup {
	t.Helper()
	var got v1alpha1.ConsumerGroup
	if err := c.Get(ctx, client.ObjectKeyFromObject(g), &got); err != nil {
		t.Fatalf("get: %v", err)
	}
	return &got
}

// wantInvalid fails unless err is the API server's 422 Invalid whose message
// contains want.
func wantInvalid(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("accepted; want refused with %q", want)
	case !apierrors.IsInvalid(err):
		t.Errorf("refused with %v; want 422 Invalid with %q", err, want)
	case !strings.Contains(err.Error(), want):
		t.Errorf("refused with %q; want a message containing %q", err.Error(), want)
	default:
		t.Logf("refused as expected: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
