package build

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// DataVolumeName names the volume claim template of each node's data; the
// StatefulSet controller names pod n's claim "<DataVolumeName>-<pod>".
const DataVolumeName = "data"

// volumes are /tmp and the auth and TLS Secrets when referenced (mounted
// now, read by the server once it supports them). A referenced Secret that
// does not exist keeps the pod from starting, rather than running without
// the security the user asked for.
func volumes(qc *v1alpha1.QueueCluster) []corev1.Volume {
	v := []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	if qc.Spec.Auth != nil {
		v = append(v, secretVolume("auth", qc.Spec.Auth.SecretName))
	}
	if qc.Spec.TLS != nil {
		v = append(v, secretVolume("tls", qc.Spec.TLS.SecretName))
	}
	return v
}

func secretVolume(name, secret string) corev1.Volume {
	mode := int32(0o440)
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: secret, DefaultMode: &mode}}}
}

func volumeMounts(qc *v1alpha1.QueueCluster) []corev1.VolumeMount {
	m := []corev1.VolumeMount{
		{Name: DataVolumeName, MountPath: dataMount},
		{Name: "tmp", MountPath: "/tmp"},
	}
	if qc.Spec.Auth != nil {
		m = append(m, corev1.VolumeMount{Name: "auth", MountPath: authMount, ReadOnly: true})
	}
	if qc.Spec.TLS != nil {
		m = append(m, corev1.VolumeMount{Name: "tls", MountPath: tlsMount, ReadOnly: true})
	}
	return m
}
