package build

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// Ports of a Carrier node (carrier serve's defaults).
const (
	HTTPPort   = 7420 // HTTP and WebSocket API, probes, metrics
	RaftPort   = 7421 // Raft transport
	GossipPort = 7422 // memberlist, TCP and UDP
)

// Annotations and labels the builders set.
const (
	// TemplateHashAnnotation holds PodTemplateHash of the rendered pod template,
	// on the StatefulSet and on the template itself (so each pod carries it).
	TemplateHashAnnotation = "carrier.dev/pod-template-hash"
	// ConfigHashAnnotation holds the hash of the ConfigMap's data, on the pod
	// template: a config change changes the template, so pods are rolled.
	ConfigHashAnnotation = "carrier.dev/config-hash"
	// ServiceLabel tells a cluster's two Services apart: "headless" (every
	// node, ready or not) or "client".
	ServiceLabel = "carrier.dev/service"
)

// Defaults, the same as the CRD's, for objects built in Go.
const (
	defaultReplicas    = 3
	defaultStorageSize = "10Gi"
	defaultGracePeriod = 60
)

// HeadlessServiceName is the Service that gives each pod a stable DNS name.
func HeadlessServiceName(qc *v1alpha1.QueueCluster) string { return qc.Name + "-headless" }

// ClientServiceName is the Service applications connect to.
func ClientServiceName(qc *v1alpha1.QueueCluster) string { return qc.Name }

// StatefulSetName names the StatefulSet; its pods are <name>-0, <name>-1, ….
func StatefulSetName(qc *v1alpha1.QueueCluster) string { return qc.Name }

// ConfigMapName names the ConfigMap of the server settings.
func ConfigMapName(qc *v1alpha1.QueueCluster) string { return qc.Name + "-config" }

// ServiceAccountName names the pods' ServiceAccount.
func ServiceAccountName(qc *v1alpha1.QueueCluster) string { return qc.Name }

// PodDisruptionBudgetName names the PodDisruptionBudget.
func PodDisruptionBudgetName(qc *v1alpha1.QueueCluster) string { return qc.Name }

// SelectorLabels select a cluster's pods. They never change for a cluster
// (a StatefulSet's selector is immutable).
func SelectorLabels(qc *v1alpha1.QueueCluster) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":     "carrier",
		"app.kubernetes.io/instance": qc.Name,
	}
}

// Labels are set on every object of a cluster: the selector labels plus
// component and manager.
func Labels(qc *v1alpha1.QueueCluster) map[string]string {
	l := SelectorLabels(qc)
	l["app.kubernetes.io/component"] = "server"
	l["app.kubernetes.io/managed-by"] = "carrier-operator"
	return l
}

// objectMeta is the metadata of a child object: name, namespace, labels and
// the cluster as its controlling owner (deleted with it, watched by it).
func objectMeta(qc *v1alpha1.QueueCluster, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       qc.Namespace,
		Labels:          Labels(qc),
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(qc, v1alpha1.GroupVersion.WithKind("QueueCluster"))},
	}
}

// replicas is spec.replicas, defaulted.
func replicas(qc *v1alpha1.QueueCluster) int32 {
	if qc.Spec.Replicas > 0 {
		return qc.Spec.Replicas
	}
	return defaultReplicas
}

// storageSize is spec.storage.size, defaulted.
func storageSize(qc *v1alpha1.QueueCluster) resource.Quantity {
	if qc.Spec.Storage.Size != nil {
		return *qc.Spec.Storage.Size
	}
	return resource.MustParse(defaultStorageSize)
}

// merge returns base with extra's entries added; base's win on a clash.
func merge(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	for k, v := range extra {
		out[k] = v
	}
	for k, v := range base {
		out[k] = v
	}
	return out
}

// typeMeta sets apiVersion and kind, so that a rendered object can be
// applied (server-side apply needs them) and printed as it is.
func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}
