package build

import (
	corev1 "k8s.io/api/core/v1"
)

// podSecurityContext is the user's, else non-root (user, group and fsGroup
// 65532, volumes chowned only when their root does not match) with the
// runtime's default seccomp profile.
func podSecurityContext(user *corev1.PodSecurityContext) *corev1.PodSecurityContext {
	if user != nil {
		return user
	}
	id := int64(nonRootID)
	yes := true
	onMismatch := corev1.FSGroupChangeOnRootMismatch
	return &corev1.PodSecurityContext{
		RunAsNonRoot:        &yes,
		RunAsUser:           &id,
		RunAsGroup:          &id,
		FSGroup:             &id,
		FSGroupChangePolicy: &onMismatch,
		SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// containerSecurityContext is the user's, else the restricted Pod Security
// Standard: no privilege escalation, every capability dropped, and a
// read-only root filesystem (the server writes only to its data volume and
// /tmp).
func containerSecurityContext(user *corev1.SecurityContext) *corev1.SecurityContext {
	if user != nil {
		return user
	}
	no, yes := false, true
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: &no,
		ReadOnlyRootFilesystem:   &yes,
		RunAsNonRoot:             &yes,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}
