package v1alpha1

import (
	"fmt"
	"time"
)

// Condition types, the same on every kind. Each is a metav1.Condition in
// status.conditions, with a reason (CamelCase) and a readable message.
const (
	// ConditionReady is True when the object is what its spec asks for and
	// serves: a cluster whose every member is ready, with a leader; a queue or
	// group that exists in its cluster with the spec's settings.
	ConditionReady = "Ready"
	// ConditionProgressing is True while the operator is moving the object
	// towards its spec: a rollout, a scale, a storage expansion, a settings
	// update not yet confirmed.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when the operator stopped because something
	// needs a person: a rollout step that did not become healthy in time, a
	// scale refused because it would lose quorum, a data plane that cannot be
	// reached, a setting the cluster refused.
	ConditionDegraded = "Degraded"
)

// DeletionPolicy says what deleting a Queue or ConsumerGroup resource does to
// the queue or group inside Carrier.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionRetain leaves the queue or group, and its messages, in Carrier
	// when the resource is deleted (the default: a GitOps prune or a mistaken
	// kubectl delete never deletes messages).
	DeletionRetain DeletionPolicy = "Retain"
	// DeletionDelete deletes the queue (with its messages, groups and dead
	// letters) or the group (with what it acked) when the resource is deleted.
	DeletionDelete DeletionPolicy = "Delete"
)

// Duration is a Go duration string: a sequence of numbers with units ns, us,
// ms, s, m or h, such as "30s", "1h30m" or "250ms"; at most 87600h (10 years).
// +kubebuilder:validation:MaxLength=32
// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="must be a duration such as 30s, 1h30m or 250ms (units ns, us, ms, s, m, h)"
// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self) <= duration('87600h')",message="must be at most 87600h (10 years)"
type Duration string

// Parse returns d as a time.Duration.
func (d Duration) Parse() (time.Duration, error) {
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", string(d), err)
	}
	return v, nil
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// Name of the object, in the same namespace as this one.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SecretReference names a Secret in the same namespace.
type SecretReference struct {
	// SecretName is the name of a Secret in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`
}
