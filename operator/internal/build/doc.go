// Package build turns a QueueCluster into the Kubernetes objects that run it:
// StatefulSet, headless Service, client Service, PodDisruptionBudget,
// ConfigMap and ServiceAccount, one file per object.
//
// Every builder is a pure function of its arguments: no clock, no API calls,
// no randomness, no dependence on map order. The same spec renders the same
// objects, byte for byte, which is what lets the controllers compare a
// rendered pod template's hash with the one on the live StatefulSet and leave
// a cluster alone when only the operator changed (see operator/DESIGN.md).
//
// Builders fill in the spec's defaults themselves (replicas 3, storage 10Gi,
// Retain), so that they render the same objects for an object read back from
// the API server (defaulted by the schema) and for one built in Go.
package build
