package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConsumerGroup is a durable consumer group on a Queue: every group gets
// every message, and inside a group each message goes to one member at a
// time until it is acked. The operator creates the group ahead of its
// consumers (so it keeps every message from its start on) and keeps its
// settings as the spec says, in place.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=carrier
// +kubebuilder:printcolumn:name="Queue",type=string,JSONPath=`.spec.queueRef.name`
// +kubebuilder:printcolumn:name="Group",type=string,JSONPath=`.spec.name`,priority=1
// +kubebuilder:printcolumn:name="Pending",type=integer,JSONPath=`.status.pending`
// +kubebuilder:printcolumn:name="Unacked",type=integer,JSONPath=`.status.unacked`
// +kubebuilder:printcolumn:name="Members",type=integer,JSONPath=`.status.members`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ConsumerGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the group the user asks for.
	// +required
	Spec ConsumerGroupSpec `json:"spec"`
	// Status is what the operator last observed in the cluster.
	// +optional
	Status ConsumerGroupStatus `json:"status,omitempty"`
}

// ConsumerGroupSpec is a group's identity and settings. ackWait, maxDeliver
// and maxInFlight change in place; the queue, the name and the start position
// are fixed when the group is created.
//
// +kubebuilder:validation:XValidation:rule="has(self.start) == has(oldSelf.start) && (!has(self.start) || self.start == oldSelf.start)",message="spec.start is immutable: it only decides where a new group begins; delete the group and create it again to start elsewhere"
type ConsumerGroupSpec struct {
	// QueueRef names the Queue resource, in this namespace, the group
	// consumes. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.queueRef is immutable: a group belongs to one queue; create another ConsumerGroup instead"
	// +required
	QueueRef LocalObjectReference `json:"queueRef"`

	// Name of the group in Carrier, the name consumers subscribe with: 1 to
	// 128 characters of A-Z, a-z, 0-9, '_', '.' and '-', starting with a
	// letter or digit. Immutable.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9][A-Za-z0-9_.-]*$')",message="spec.name must be 1 to 128 characters of A-Z, a-z, 0-9, '_', '.' and '-', starting with a letter or digit (Carrier's group names)"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.name is immutable: a group cannot be renamed; create another ConsumerGroup instead"
	// +required
	Name string `json:"name"`

	GroupSettings `json:",inline"`

	// DeletionPolicy says what deleting this resource does: Retain (the
	// default) leaves the group, and what it acked, in Carrier; Delete
	// deletes the group.
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// GroupSettings are a consumer group's settings; unset ones take the queue's
// group defaults, then Carrier's.
type GroupSettings struct {
	// AckWait is how long a delivered message may stay unacked before it is
	// redelivered (Carrier's default: 30s).
	// +optional
	AckWait *Duration `json:"ackWait,omitempty"`
	// MaxDeliver is the number of delivery attempts, 1 to 1000, before a
	// message moves to the dead letters (Carrier's default: 5).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MaxDeliver *int32 `json:"maxDeliver,omitempty"`
	// MaxInFlight is the number of unacked messages per member, 1 to 10000;
	// 1 gives strict order (Carrier's default: 100).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MaxInFlight *int32 `json:"maxInFlight,omitempty"`
	// Start is where a new group begins (Carrier's default: first).
	// +optional
	Start *StartPosition `json:"start,omitempty"`
}

// StartKind names where a new group begins.
// +kubebuilder:validation:Enum=first;new;seq;time
type StartKind string

const (
	StartFirst StartKind = "first" // the oldest message still stored
	StartNew   StartKind = "new"   // only messages published after the group is created
	StartSeq   StartKind = "seq"   // a given seq
	StartTime  StartKind = "time"  // the first message at or after a given time
)

// StartPosition is where a new group begins.
//
// +kubebuilder:validation:XValidation:rule="self.kind == 'seq' ? has(self.seq) : !has(self.seq)",message="start.seq is required when start.kind is seq, and allowed only then"
// +kubebuilder:validation:XValidation:rule="self.kind == 'time' ? has(self.time) : !has(self.time)",message="start.time is required when start.kind is time, and allowed only then"
type StartPosition struct {
	// Kind: first (the oldest message still stored), new (only what is
	// published after the group is created), seq or time.
	// +required
	Kind StartKind `json:"kind"`
	// Seq to start at, when kind is seq (clamped to what is stored).
	// +kubebuilder:validation:Minimum=1
	// +optional
	Seq *int64 `json:"seq,omitempty"`
	// Time to start at, when kind is time (RFC 3339).
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
}

// ConsumerGroupStatus is what the operator last read of the group.
type ConsumerGroupStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Progressing and Degraded.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Pending messages: stored, not yet delivered to the group.
	// +optional
	Pending int64 `json:"pending,omitempty"`
	// Unacked messages: delivered, awaiting an ack.
	// +optional
	Unacked int64 `json:"unacked,omitempty"`
	// Redelivered counts deliveries that were a second or later attempt,
	// since the group was created.
	// +optional
	Redelivered int64 `json:"redelivered,omitempty"`
	// Members is the number of connected members.
	// +optional
	Members int64 `json:"members,omitempty"`
	// ETag is the version of the group's settings the operator last wrote or
	// read.
	// +optional
	ETag string `json:"etag,omitempty"`
	// LastSync is when the operator last read the group from its cluster.
	// +optional
	LastSync *metav1.Time `json:"lastSync,omitempty"`
}

// ConsumerGroupList is a list of ConsumerGroups.
//
// +kubebuilder:object:root=true
type ConsumerGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ConsumerGroup `json:"items"`
}
