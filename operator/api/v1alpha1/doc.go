// Package v1alpha1 is the carrier.dev/v1alpha1 API: QueueCluster (a Carrier
// cluster: a StatefulSet of `carrier serve` nodes and its Services), Queue and
// ConsumerGroup (settings the operator keeps in step with a cluster through its
// HTTP admin API).
//
// The types' doc comments become the CRDs' descriptions (kubectl explain); the
// +kubebuilder markers and CEL rules are the schema's invariants, checked by
// the API server before anything is stored. operator/DESIGN.md says why each
// field is mutable or not. Run scripts/generate.sh after changing this package.
//
// +kubebuilder:object:generate=true
// +groupName=carrier.dev
package v1alpha1
