package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// QueueCluster is a Carrier cluster: a StatefulSet of `carrier serve` nodes
// that form one Raft group, a headless Service they find each other by, a
// client Service, a PodDisruptionBudget, a ConfigMap and a ServiceAccount.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=qc,categories=carrier
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Leader",type=string,JSONPath=`.status.leader`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 40 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be at most 40 characters of a-z, 0-9 and '-', starting with a letter and ending with a letter or digit (it names the StatefulSet, its pods and Services)"
type QueueCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the cluster the user asks for.
	// +required
	Spec QueueClusterSpec `json:"spec"`
	// Status is what the operator last observed.
	// +optional
	Status QueueClusterStatus `json:"status,omitempty"`
}

// QueueClusterSpec is the desired state of a Carrier cluster.
//
// +kubebuilder:validation:XValidation:rule="self.replicas % 2 == 1 || (has(self.allowEvenReplicas) && self.allowEvenReplicas)",message="replicas must be odd (1, 3, 5, 7 or 9): an even count survives no more node failures than one node fewer; set allowEvenReplicas: true to run it anyway"
type QueueClusterSpec struct {
	// Replicas is the number of Carrier nodes, each a Raft voter. Odd, so that
	// a majority is left after the loss of a minority: 3 nodes survive one
	// lost node, 5 survive two. Changing it scales the cluster one member at a
	// time (a scale-down removes the member from Raft before its pod goes).
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// AllowEvenReplicas permits an even replica count (for example 2 or 4,
	// during a migration). An even cluster needs a larger majority for no gain
	// in fault tolerance; leave it unset otherwise.
	// +optional
	AllowEvenReplicas bool `json:"allowEvenReplicas,omitempty"`

	// Image is the Carrier server image, with a tag or digest
	// (registry/carrier:0.1.0 or …@sha256:…). Required, so that upgrading the
	// operator never changes a running cluster's image: changing this field is
	// what starts a rolling upgrade.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +required
	Image string `json:"image"`

	// ImagePullPolicy of the Carrier container: Always, IfNotPresent or Never
	// (default: Kubernetes' own, from the tag).
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// ImagePullSecrets are Secrets for pulling Image from a private registry.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// Resources of the Carrier container. Carrier holds messages in memory: when
	// a memory limit is set and config.maxStoreBytes is not, the nodes may store
	// half the limit.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// Storage is each node's persistent volume (Raft log, snapshots, node id).
	// +kubebuilder:default={}
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`

	// Pod customises the nodes' pods: placement, labels, annotations,
	// security contexts, extra environment.
	// +optional
	Pod PodOverrides `json:"pod,omitempty"`

	// Config sets `carrier serve` options that are not about the cluster's
	// shape (the operator sets addresses, node ids and bootstrap itself).
	// Unset fields keep the server's defaults. A change rolls the pods, one at
	// a time.
	// +optional
	Config ServerConfig `json:"config,omitempty"`

	// Service customises the client Service (the one applications connect to).
	// +optional
	Service ServiceSpec `json:"service,omitempty"`

	// Auth references the Secret with the cluster's credentials. Accepted and
	// mounted into the pods at /etc/carrier/auth now; the server uses it once
	// authentication is built.
	// +optional
	Auth *SecretReference `json:"auth,omitempty"`

	// TLS references a Secret of type kubernetes.io/tls (tls.crt, tls.key,
	// optionally ca.crt). Accepted and mounted into the pods at
	// /etc/carrier/tls now; the server uses it once TLS is built.
	// +optional
	TLS *SecretReference `json:"tls,omitempty"`
}

// StorageSpec is the persistent volume of each node.
//
// +kubebuilder:validation:XValidation:rule="!has(self.size) || !has(oldSelf.size) || quantity(string(self.size)).compareTo(quantity(string(oldSelf.size))) >= 0",message="storage.size may grow but not shrink (a volume cannot be made smaller): set it back to at least the current size"
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="storage.storageClassName is immutable: the nodes' volumes were made by that class"
type StorageSpec struct {
	// Size of each node's volume, at least 256Mi (the Raft log preallocates
	// 64 MiB segments). It may grow: the operator expands the volumes in place
	// where the storage class allows it. It may not shrink.
	// +kubebuilder:default="10Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('256Mi')) >= 0",message="storage.size must be at least 256Mi"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// StorageClassName of the volumes (default: the cluster's default class).
	// Fixed when the cluster is created.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`

	// Retention says what happens to the volumes when the cluster is deleted
	// or scaled down. Both default to Retain: deleting a QueueCluster never
	// deletes messages unless asked.
	// +kubebuilder:default={}
	// +optional
	Retention VolumeRetention `json:"retention,omitempty"`
}

// VolumeRetentionPolicy is Retain (keep the PersistentVolumeClaim) or Delete.
// +kubebuilder:validation:Enum=Retain;Delete
type VolumeRetentionPolicy string

const (
	// VolumeRetain keeps the volume.
	VolumeRetain VolumeRetentionPolicy = "Retain"
	// VolumeDelete deletes the volume.
	VolumeDelete VolumeRetentionPolicy = "Delete"
)

// VolumeRetention is the StatefulSet's PersistentVolumeClaim retention policy.
type VolumeRetention struct {
	// WhenDeleted applies when the QueueCluster is deleted: Retain keeps every
	// node's volume (create a QueueCluster of the same name to get the data
	// back), Delete deletes them.
	// +kubebuilder:default=Retain
	// +optional
	WhenDeleted VolumeRetentionPolicy `json:"whenDeleted,omitempty"`
	// WhenScaled applies to the volumes of the nodes a scale-down removes
	// (they were removed from Raft first): Retain keeps them, Delete deletes
	// them, so that a later scale-up starts those nodes empty.
	// +kubebuilder:default=Retain
	// +optional
	WhenScaled VolumeRetentionPolicy `json:"whenScaled,omitempty"`
}

// PodOverrides customise the nodes' pod template. Labels and annotations are
// added to the operator's own; where a key is the same, the operator's wins.
// Placement fields replace the operator's defaults (a soft anti-affinity that
// spreads the nodes over hosts applies only when neither affinity nor
// topologySpreadConstraints is given).
type PodOverrides struct {
	// Labels added to the pods.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations added to the pods (for example for a service mesh or a
	// metrics scraper).
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// NodeSelector restricts the nodes the pods may run on.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Tolerations of the pods.
	// +listType=atomic
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// Affinity of the pods; replaces the default soft anti-affinity.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// TopologySpreadConstraints of the pods; given, the default anti-affinity
	// is not added.
	// +listType=atomic
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// PriorityClassName of the pods.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
	// SecurityContext of the pods; replaces the operator's (non-root user and
	// group 65532, fsGroup 65532, RuntimeDefault seccomp) as a whole.
	// +optional
	SecurityContext *corev1.PodSecurityContext `json:"securityContext,omitempty"`
	// ContainerSecurityContext of the Carrier container; replaces the
	// operator's (no privilege escalation, read-only root filesystem, every
	// capability dropped) as a whole.
	// +optional
	ContainerSecurityContext *corev1.SecurityContext `json:"containerSecurityContext,omitempty"`
	// TerminationGracePeriodSeconds gives a stopping node time to hand
	// leadership over and drain (the server bounds its own stop at 30 s).
	// Default 60.
	// +kubebuilder:validation:Minimum=35
	// +kubebuilder:validation:Maximum=3600
	// +optional
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	// ExtraEnv is added to the Carrier container's environment. It may not set
	// the variables the operator owns (the node's addresses, id, data dir,
	// join list and bootstrap count); spec.config covers the server's other
	// settings.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(e, !(e.name in ['CARRIER_DATA', 'CARRIER_LISTEN', 'CARRIER_NODE_ID', 'CARRIER_RAFT_BIND', 'CARRIER_RAFT_ADVERTISE', 'CARRIER_GOSSIP_BIND', 'CARRIER_GOSSIP_ADVERTISE', 'CARRIER_JOIN', 'CARRIER_BOOTSTRAP_EXPECT', 'POD_NAME', 'POD_NAMESPACE', 'POD_IP']))",message="extraEnv may not set a variable the operator owns (CARRIER_DATA, CARRIER_LISTEN, CARRIER_NODE_ID, CARRIER_RAFT_*, CARRIER_GOSSIP_BIND, CARRIER_GOSSIP_ADVERTISE, CARRIER_JOIN, CARRIER_BOOTSTRAP_EXPECT, POD_NAME, POD_NAMESPACE, POD_IP)"
	// +listType=atomic
	// +optional
	ExtraEnv []corev1.EnvVar `json:"extraEnv,omitempty"`
}

// LogLevel is the server's log level.
// +kubebuilder:validation:Enum=debug;info;warn;error
type LogLevel string

// ServerConfig are `carrier serve` settings (see `carrier serve --help`).
// Each set field becomes the server's CARRIER_<FLAG> variable in the
// cluster's ConfigMap.
type ServerConfig struct {
	// LogLevel: debug, info, warn or error (server default info).
	// +optional
	LogLevel LogLevel `json:"logLevel,omitempty"`
	// AutoCreate lets a publish or subscribe create a queue that does not
	// exist (server default true). Set false to allow only the queues created
	// explicitly, for example by Queue resources.
	// +optional
	AutoCreate *bool `json:"autoCreate,omitempty"`
	// MaxStoreBytes bounds the bytes all queues of a node store together
	// (messages are held in memory; keep it under the memory limit). Default:
	// half the container's memory limit when one is set, else the server's.
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Mi')) >= 0",message="config.maxStoreBytes must be at least 1Mi"
	// +optional
	MaxStoreBytes *resource.Quantity `json:"maxStoreBytes,omitempty"`
	// HeartbeatTimeout: a follower without contact from the leader this long
	// starts an election. At least 5ms.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self) >= duration('5ms')",message="config.heartbeatTimeout must be at least 5ms"
	// +optional
	HeartbeatTimeout *Duration `json:"heartbeatTimeout,omitempty"`
	// ElectionTimeout of Raft; not below heartbeatTimeout.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self) >= duration('5ms')",message="config.electionTimeout must be at least 5ms"
	// +optional
	ElectionTimeout *Duration `json:"electionTimeout,omitempty"`
	// SnapshotInterval is how often a node checks whether a snapshot is due.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self) >= duration('5ms')",message="config.snapshotInterval must be at least 5ms"
	// +optional
	SnapshotInterval *Duration `json:"snapshotInterval,omitempty"`
	// SnapshotThreshold is the number of log entries since the last snapshot
	// that make one due.
	// +kubebuilder:validation:Minimum=1
	// +optional
	SnapshotThreshold *int64 `json:"snapshotThreshold,omitempty"`
	// TrailingLogs is the number of log entries kept after a snapshot for
	// followers that lag.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TrailingLogs *int64 `json:"trailingLogs,omitempty"`
	// RaftSegmentBytes is the size of one preallocated Raft log segment file,
	// at least 2Mi (server default 64Mi).
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('2Mi')) >= 0 && quantity(string(self)).compareTo(quantity('1Gi')) <= 0",message="config.raftSegmentBytes must be between 2Mi and 1Gi"
	// +optional
	RaftSegmentBytes *resource.Quantity `json:"raftSegmentBytes,omitempty"`
}

// ServiceSpec customises the client Service.
type ServiceSpec struct {
	// Type of the client Service: ClusterIP (default), NodePort or
	// LoadBalancer.
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	// +kubebuilder:default=ClusterIP
	// +optional
	Type corev1.ServiceType `json:"type,omitempty"`
	// Annotations of the client Service (for example a load balancer's).
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// QueueClusterStatus is what the operator last observed of a cluster. Every
// field can be rebuilt from the cluster itself.
type QueueClusterStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Progressing and Degraded.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Replicas is the number of pods (the scale subresource's status).
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// ReadyReplicas is the number of nodes whose /readyz answers ready.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// Selector selects the cluster's pods (the scale subresource's selector).
	// +optional
	Selector string `json:"selector,omitempty"`
	// Leader is the node id of the Raft leader, empty when there is none.
	// +optional
	Leader string `json:"leader,omitempty"`
	// Members are the Raft members, as the cluster reports them.
	// +listType=map
	// +listMapKey=name
	// +optional
	Members []MemberStatus `json:"members,omitempty"`
	// CurrentImage is the image every pod runs, or empty while pods differ
	// (during a rollout).
	// +optional
	CurrentImage string `json:"currentImage,omitempty"`
	// Version is the Carrier version the nodes report, or empty while they
	// differ.
	// +optional
	Version string `json:"version,omitempty"`
	// BootstrapExpect is the node count the cluster was formed with
	// (--bootstrap-expect). It is set once, when the cluster is created, so
	// that a later scale does not change every pod's arguments.
	// +optional
	BootstrapExpect int32 `json:"bootstrapExpect,omitempty"`
	// Operation is the rollout, scale or storage expansion in progress.
	// +optional
	Operation *OperationStatus `json:"operation,omitempty"`
}

// MemberRole is a member's part in Raft.
// +kubebuilder:validation:Enum=Leader;Follower;Nonvoter;Unknown
type MemberRole string

const (
	RoleLeader   MemberRole = "Leader"   // the Raft leader
	RoleFollower MemberRole = "Follower" // a voter that follows
	RoleNonvoter MemberRole = "Nonvoter" // a new member catching up, not yet promoted
	RoleUnknown  MemberRole = "Unknown"  // not reachable or not reported
)

// MemberStatus is one node of the cluster.
type MemberStatus struct {
	// Name is the node id (the pod's name).
	Name string `json:"name"`
	// Role in Raft: Leader, Follower, Nonvoter or Unknown.
	// +optional
	Role MemberRole `json:"role,omitempty"`
	// Ready is true when the node's /readyz answers ready.
	// +optional
	Ready bool `json:"ready,omitempty"`
	// Image the node's pod runs.
	// +optional
	Image string `json:"image,omitempty"`
}

// OperationType names an operation on a cluster.
// +kubebuilder:validation:Enum=Rollout;ScaleUp;ScaleDown;StorageExpansion
type OperationType string

const (
	OperationRollout          OperationType = "Rollout"          // pods replaced one at a time
	OperationScaleUp          OperationType = "ScaleUp"          // members being added
	OperationScaleDown        OperationType = "ScaleDown"        // members being removed
	OperationStorageExpansion OperationType = "StorageExpansion" // volumes being grown
)

// OperationPhase is where the current step of an operation is.
// +kubebuilder:validation:Enum=Waiting;TransferringLeadership;Replacing;Adding;Removing;Expanding;Refused
type OperationPhase string

// The phases of a step.
const (
	PhaseWaiting      OperationPhase = "Waiting"
	PhaseTransferring OperationPhase = "TransferringLeadership"
	PhaseReplacing    OperationPhase = "Replacing"
	PhaseAdding       OperationPhase = "Adding"
	PhaseRemoving     OperationPhase = "Removing"
	PhaseExpanding    OperationPhase = "Expanding"
	PhaseRefused      OperationPhase = "Refused"
)

// OperationStatus is the step an operation is at, so that an operator that
// restarts midway carries on where it was.
type OperationStatus struct {
	// Type of the operation.
	Type OperationType `json:"type"`
	// Phase of the current step: Waiting (for a healthy cluster or a safe
	// stop), TransferringLeadership, Replacing (a pod was deleted; waiting for
	// its successor to be ready), Adding, Removing, Expanding or Refused (the
	// next step would cost the quorum, or the cluster refused it).
	// +optional
	Phase OperationPhase `json:"phase,omitempty"`
	// Halted is set when the step did not finish within the step timeout:
	// the operation is Degraded and starts nothing more; it goes on by
	// itself if what the step waits for happens, or when the spec changes.
	// +optional
	Halted bool `json:"halted,omitempty"`
	// Step in words, for people (for example "restart carrier-1 (follower), 2 of 3").
	// +optional
	Step string `json:"step,omitempty"`
	// Pod the current step acts on.
	// +optional
	Pod string `json:"pod,omitempty"`
	// PodUID is the UID of the pod a rollout step deleted: a pod of that
	// name with another UID is its successor.
	// +optional
	PodUID types.UID `json:"podUID,omitempty"`
	// Target of the operation: a pod template hash, a replica count or a size.
	// +optional
	Target string `json:"target,omitempty"`
	// Started is when the operation began.
	// +optional
	Started *metav1.Time `json:"started,omitempty"`
	// StepStarted is when the current step began (a step is bounded in time).
	// +optional
	StepStarted *metav1.Time `json:"stepStarted,omitempty"`
}

// QueueClusterList is a list of QueueClusters.
//
// +kubebuilder:object:root=true
type QueueClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []QueueCluster `json:"items"`
}
