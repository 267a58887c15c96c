package build

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// Paths inside a Carrier pod.
const (
	dataMount = "/var/lib/carrier"
	dataDir   = dataMount + "/data" // below the mount: a volume's root may hold lost+found
	authMount = "/etc/carrier/auth"
	tlsMount  = "/etc/carrier/tls"
	// nonRootID is the user and group the server runs as (distroless' nonroot).
	nonRootID = 65532
)

// PodTemplate is the nodes' pod template, without the hash annotation
// (StatefulSet adds it). bootstrapExpect is --bootstrap-expect.
func PodTemplate(qc *v1alpha1.QueueCluster, bootstrapExpect int32) corev1.PodTemplateSpec {
	o := qc.Spec.Pod
	no := false
	grace := int64(defaultGracePeriod)
	if o.TerminationGracePeriodSeconds != nil {
		grace = *o.TerminationGracePeriodSeconds
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      merge(Labels(qc), o.Labels),
			Annotations: merge(map[string]string{ConfigHashAnnotation: hashOf(ConfigData(qc))}, o.Annotations),
		},
		Spec: corev1.PodSpec{
			ServiceAccountName:            ServiceAccountName(qc),
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no, // a Service named carrier-… would inject CARRIER_… variables
			TerminationGracePeriodSeconds: &grace,
			ImagePullSecrets:              qc.Spec.ImagePullSecrets,
			SecurityContext:               podSecurityContext(o.SecurityContext),
			Containers:                    []corev1.Container{container(qc, bootstrapExpect)},
			Volumes:                       volumes(qc),
			NodeSelector:                  o.NodeSelector,
			Tolerations:                   o.Tolerations,
			Affinity:                      affinity(qc),
			TopologySpreadConstraints:     o.TopologySpreadConstraints,
			PriorityClassName:             o.PriorityClassName,
		},
	}
}

func container(qc *v1alpha1.QueueCluster, bootstrapExpect int32) corev1.Container {
	return corev1.Container{
		Name:            "carrier",
		Image:           qc.Spec.Image,
		ImagePullPolicy: qc.Spec.ImagePullPolicy,
		Args:            ServeArgs(qc, bootstrapExpect),
		Env:             append(podEnv(), qc.Spec.Pod.ExtraEnv...),
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(qc)}}}},
		Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: HTTPPort, Protocol: corev1.ProtocolTCP},
			{Name: "raft", ContainerPort: RaftPort, Protocol: corev1.ProtocolTCP},
			{Name: "gossip", ContainerPort: GossipPort, Protocol: corev1.ProtocolTCP},
			{Name: "gossip-udp", ContainerPort: GossipPort, Protocol: corev1.ProtocolUDP},
		},
		Resources:       qc.Spec.Resources,
		StartupProbe:    probe("/healthz", 5, 2, 120), // up to 10 min to open the data dir and replay the log
		LivenessProbe:   probe("/healthz", 10, 5, 6),  // the process answers; never tied to quorum
		ReadinessProbe:  probe("/readyz", 5, 3, 3),    // a member that knows the leader and is caught up
		VolumeMounts:    volumeMounts(qc),
		SecurityContext: containerSecurityContext(qc.Spec.Pod.ContainerSecurityContext),
	}
}

// ServeArgs are the `carrier serve` arguments of a node: every address is a
// stable DNS name of the headless Service except gossip's advertised one
// (memberlist advertises an IP; gossip only finds peers, it holds no state).
// The node id is the pod's name, so a restarted pod is the same Raft server.
// Each listener binds the pod's IP (downward API), not 0.0.0.0: the same
// in a pod network of its own, and it keeps pods that share a host's
// network (hostNetwork, or test nodes that run pods as local processes)
// from colliding on the ports. kubectl port-forward, which dials the pod's
// localhost, therefore does not reach them; the probes dial the pod IP.
func ServeArgs(qc *v1alpha1.QueueCluster, bootstrapExpect int32) []string {
	domain := fmt.Sprintf("%s.%s.svc", HeadlessServiceName(qc), qc.Namespace)
	if bootstrapExpect <= 0 {
		bootstrapExpect = replicas(qc)
	}
	return []string{
		"serve",
		"--data=" + dataDir,
		fmt.Sprintf("--listen=$(POD_IP):%d", HTTPPort),
		"--node-id=$(POD_NAME)",
		fmt.Sprintf("--raft-bind=$(POD_IP):%d", RaftPort),
		fmt.Sprintf("--raft-advertise=$(POD_NAME).%s:%d", domain, RaftPort),
		fmt.Sprintf("--gossip-bind=$(POD_IP):%d", GossipPort),
		fmt.Sprintf("--gossip-advertise=$(POD_IP):%d", GossipPort),
		fmt.Sprintf("--join=%s:%d", domain, GossipPort),
		fmt.Sprintf("--bootstrap-expect=%d", bootstrapExpect),
	}
}

// podEnv are the variables the arguments refer to, from the downward API.
func podEnv() []corev1.EnvVar {
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
	}
	return []corev1.EnvVar{
		field("POD_NAME", "metadata.name"),
		field("POD_NAMESPACE", "metadata.namespace"),
		field("POD_IP", "status.podIP"),
	}
}

func probe(path string, period, timeout, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP}},
		PeriodSeconds:    period,
		TimeoutSeconds:   timeout,
		FailureThreshold: failures,
		SuccessThreshold: 1,
	}
}
