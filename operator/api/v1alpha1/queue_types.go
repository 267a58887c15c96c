package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Queue is a Carrier queue in a QueueCluster of the same namespace. The
// operator creates it through the cluster's admin API, keeps its settings as
// the spec says (changing them in place), re-creates it when it was deleted
// behind its back, and on deletion of the resource follows deletionPolicy.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=carrier
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterRef.name`
// +kubebuilder:printcolumn:name="Queue",type=string,JSONPath=`.spec.name`,priority=1
// +kubebuilder:printcolumn:name="Messages",type=integer,JSONPath=`.status.messages`
// +kubebuilder:printcolumn:name="Consumers",type=integer,JSONPath=`.status.consumers`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Queue struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the queue the user asks for.
	// +required
	Spec QueueSpec `json:"spec"`
	// Status is what the operator last observed in the cluster.
	// +optional
	Status QueueStatus `json:"status,omitempty"`
}

// QueueSpec is a queue's identity and settings. Every setting can change in
// place (Carrier applies a lowered limit at once); only the queue's name and
// its cluster are fixed. Unset settings take Carrier's defaults.
//
// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.limits.maxMessageSize) || !has(self.limits.maxBytes) || quantity(string(self.limits.maxMessageSize)).compareTo(quantity(string(self.limits.maxBytes))) <= 0",message="limits.maxMessageSize may not exceed limits.maxBytes"
type QueueSpec struct {
	// ClusterRef names the QueueCluster, in this namespace, that holds the
	// queue. Immutable: create another Queue to have the queue elsewhere.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.clusterRef is immutable: a queue's messages cannot move to another cluster; create another Queue instead"
	// +required
	ClusterRef LocalObjectReference `json:"clusterRef"`

	// Name of the queue in Carrier: 1 to 128 characters of A-Z, a-z, 0-9,
	// '_', '.' and '-', starting with a letter or digit. Immutable: a queue
	// cannot be renamed.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9][A-Za-z0-9_.-]*$')",message="spec.name must be 1 to 128 characters of A-Z, a-z, 0-9, '_', '.' and '-', starting with a letter or digit (Carrier's queue names)"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.name is immutable: a queue cannot be renamed; create another Queue instead"
	// +required
	Name string `json:"name"`

	// Retention: limits keeps messages up to the limits; workqueue also drops
	// a message once every group has acked it (Carrier's default: limits).
	// +kubebuilder:validation:Enum=limits;workqueue
	// +optional
	Retention string `json:"retention,omitempty"`

	// Limits bound what the queue keeps.
	// +optional
	Limits *QueueLimits `json:"limits,omitempty"`

	// Discard says what happens at a limit: old drops the oldest messages
	// (acked or not), new refuses publishes with queue_full (Carrier's
	// default: old).
	// +kubebuilder:validation:Enum=old;new
	// +optional
	Discard string `json:"discard,omitempty"`

	// DedupWindow is how long a message id is remembered, so that a producer's
	// retry stores nothing twice (Carrier's default: 2m).
	// +optional
	DedupWindow *Duration `json:"dedupWindow,omitempty"`

	// DeadLetters configures the queue's dead-letter queue, where messages go
	// after a group's maxDeliver attempts.
	// +optional
	DeadLetters *DeadLetterSpec `json:"deadLetters,omitempty"`

	// GroupDefaults are the settings of groups created on this queue without
	// their own (by a first subscriber or a ConsumerGroup that leaves them
	// unset).
	// +optional
	GroupDefaults *GroupSettings `json:"groupDefaults,omitempty"`

	// DeletionPolicy says what deleting this resource does: Retain (the
	// default) leaves the queue and its messages in Carrier, Delete deletes
	// them.
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// QueueLimits bound a queue. A limit lowered on a running queue is applied at
// once (messages over it are dropped, whatever discard says).
type QueueLimits struct {
	// MaxMessages kept (Carrier's default: 1000000).
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxMessages *int64 `json:"maxMessages,omitempty"`
	// MaxBytes kept, as a quantity such as 64Mi (Carrier's default: 64Mi).
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1')) >= 0",message="limits.maxBytes must be at least 1"
	// +optional
	MaxBytes *resource.Quantity `json:"maxBytes,omitempty"`
	// MaxAge of a message before it is dropped (Carrier's default: none).
	// +optional
	MaxAge *Duration `json:"maxAge,omitempty"`
	// MaxMessageSize is the largest message accepted, at most 64Mi (Carrier's
	// default: 1Mi).
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1')) >= 0 && quantity(string(self)).compareTo(quantity('64Mi')) <= 0",message="limits.maxMessageSize must be between 1 and 64Mi"
	// +optional
	MaxMessageSize *resource.Quantity `json:"maxMessageSize,omitempty"`
}

// DeadLetterSpec configures a queue's dead-letter queue.
type DeadLetterSpec struct {
	// MaxMessages is the number of dead letters kept, 1 to 1000000; the
	// oldest go first (Carrier's default: 10000).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	MaxMessages *int64 `json:"maxMessages,omitempty"`
}

// QueueStatus is what the operator last read of the queue in its cluster.
type QueueStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Progressing and Degraded.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Messages stored.
	// +optional
	Messages int64 `json:"messages,omitempty"`
	// Bytes stored.
	// +optional
	Bytes int64 `json:"bytes,omitempty"`
	// Consumers is the number of connected group members, over all groups.
	// +optional
	Consumers int64 `json:"consumers,omitempty"`
	// Groups is the number of consumer groups.
	// +optional
	Groups int32 `json:"groups,omitempty"`
	// DeadLetters stored.
	// +optional
	DeadLetters int64 `json:"deadLetters,omitempty"`
	// Dropped counts the messages the queue's limits removed since it was
	// created.
	// +optional
	Dropped int64 `json:"dropped,omitempty"`
	// ETag is the version of the queue's settings the operator last wrote or
	// read (sent as If-Match on its next update).
	// +optional
	ETag string `json:"etag,omitempty"`
	// LastSync is when the operator last read the queue from its cluster.
	// +optional
	LastSync *metav1.Time `json:"lastSync,omitempty"`
}

// QueueList is a list of Queues.
//
// +kubebuilder:object:root=true
type QueueList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Queue `json:"items"`
}
