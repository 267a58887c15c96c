package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// volumes makes a pod's volumes on the node, as the kubelet's volume
// plugins do, each at a host path the containers' bind mounts use:
//   - emptyDir: a folder of the pod's (medium Memory too: not a tmpfs here);
//   - persistentVolumeClaim: the bound volume's hostPath or local path (the
//     test provisioner's directories);
//   - hostPath: the path (made for DirectoryOrCreate);
//   - configMap, secret, downwardAPI, projected: files written once when
//     the pod starts, with their items, modes and the fsGroup as group
//     (later changes of the objects are not written through);
//     a projected serviceAccountToken is a real token from the TokenRequest
//     API, with the ca.crt the kubeconfig carries where asked.
//
// With a pod fsGroup, the writable folders (emptyDir, claims) are given
// that group, group-writable and setgid, when their root does not have it
// already (fsGroupChangePolicy OnRootMismatch; Always is treated the same).
type volumes struct {
	client kubernetes.Interface
	env    envResolver
	caCert []byte
}

// prepare makes every volume of pod below dir and returns their host paths.
func (v volumes) prepare(ctx context.Context, pod *corev1.Pod, dir, podIP, hostIP string) (map[string]string, error) {
	paths := map[string]string{}
	for _, vol := range pod.Spec.Volumes {
		p, err := v.one(ctx, pod, vol, filepath.Join(dir, "volumes", vol.Name), podIP, hostIP)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", vol.Name, err)
		}
		paths[vol.Name] = p
	}
	return paths, nil
}

func (v volumes) one(ctx context.Context, pod *corev1.Pod, vol corev1.Volume, dir, podIP, hostIP string) (string, error) {
	src := vol.VolumeSource
	fsGroup := podFSGroup(pod)
	switch {
	case src.EmptyDir != nil:
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return "", err
		}
		return dir, os.Chmod(dir, 0o777)
	case src.HostPath != nil:
		if t := src.HostPath.Type; t != nil && *t == corev1.HostPathDirectoryOrCreate {
			if err := os.MkdirAll(src.HostPath.Path, 0o755); err != nil {
				return "", err
			}
		}
		return src.HostPath.Path, nil
	case src.PersistentVolumeClaim != nil:
		p, err := v.claimPath(ctx, pod.Namespace, src.PersistentVolumeClaim.ClaimName)
		if err != nil {
			return "", err
		}
		return p, groupOwn(p, fsGroup)
	}
	files, err := v.files(ctx, pod, src, podIP, hostIP)
	if err != nil {
		return "", err
	}
	return dir, writeFiles(dir, files, fsGroup)
}

// file is one file of a ConfigMap, Secret, downward API or projected volume.
type file struct {
	path string
	data []byte
	mode fs.FileMode
}

func (v volumes) files(ctx context.Context, pod *corev1.Pod, src corev1.VolumeSource, podIP, hostIP string) ([]file, error) {
	switch {
	case src.ConfigMap != nil:
		return v.configMapFiles(pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, src.ConfigMap.DefaultMode)
	case src.Secret != nil:
		return v.secretFiles(pod.Namespace, src.Secret.SecretName, src.Secret.Items, src.Secret.Optional, src.Secret.DefaultMode)
	case src.DownwardAPI != nil:
		return downwardFiles(pod, src.DownwardAPI.Items, src.DownwardAPI.DefaultMode, podIP, hostIP)
	case src.Projected != nil:
		return v.projectedFiles(ctx, pod, src.Projected, podIP, hostIP)
	}
	return nil, fmt.Errorf("unsupported volume type (the node agent serves emptyDir, hostPath, persistentVolumeClaim, configMap, secret, downwardAPI and projected)")
}

func (v volumes) configMapFiles(ns, name string, items []corev1.KeyToPath, opt *bool, mode *int32) ([]file, error) {
	cm, err := v.env.configMaps.ConfigMaps(ns).Get(name)
	if optional(err, opt) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s: %w", name, err)
	}
	data := map[string][]byte{}
	for k, s := range cm.Data {
		data[k] = []byte(s)
	}
	for k, b := range cm.BinaryData {
		data[k] = b
	}
	return keyFiles(data, items, mode, "ConfigMap "+name)
}

func (v volumes) secretFiles(ns, name string, items []corev1.KeyToPath, opt *bool, mode *int32) ([]file, error) {
	s, err := v.env.secrets.Secrets(ns).Get(name)
	if optional(err, opt) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return keyFiles(s.Data, items, mode, "secret "+name)
}

// keyFiles is one file per key, or the items' keys at their paths.
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, mode *int32, what string) ([]file, error) {
	def := fileMode(mode, 0o644)
	if len(items) == 0 {
		out := make([]file, 0, len(data))
		for k, b := range data {
			out = append(out, file{path: k, data: b, mode: def})
		}
		return out, nil
	}
	out := make([]file, 0, len(items))
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			return nil, fmt.Errorf("%s has no key %q", what, it.Key)
		}
		out = append(out, file{path: it.Path, data: b, mode: fileMode(it.Mode, def)})
	}
	return out, nil
}

func downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, mode *int32, podIP, hostIP string) ([]file, error) {
	def := fileMode(mode, 0o644)
	out := make([]file, 0, len(items))
	for _, it := range items {
		if it.FieldRef == nil {
			return nil, fmt.Errorf("downward API file %s: only fieldRef is served", it.Path)
		}
		val, err := fieldValue(pod, it.FieldRef.FieldPath, podIP, hostIP)
		if err != nil {
			return nil, err
		}
		out = append(out, file{path: it.Path, data: []byte(val), mode: fileMode(it.Mode, def)})
	}
	return out, nil
}

func (v volumes) projectedFiles(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource, podIP, hostIP string) ([]file, error) {
	var out []file
	for _, s := range p.Sources {
		var fs []file
		var err error
		switch {
		case s.ConfigMap != nil:
			fs, err = v.configMapFiles(pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, p.DefaultMode)
		case s.Secret != nil:
			fs, err = v.secretFiles(pod.Namespace, s.Secret.Name, s.Secret.Items, s.Secret.Optional, p.DefaultMode)
		case s.DownwardAPI != nil:
			fs, err = downwardFiles(pod, s.DownwardAPI.Items, p.DefaultMode, podIP, hostIP)
		case s.ServiceAccountToken != nil:
			fs, err = v.tokenFile(ctx, pod, s.ServiceAccountToken, p.DefaultMode)
		case s.ClusterTrustBundle != nil, s.PodCertificate != nil:
			err = fmt.Errorf("projected cluster trust bundles and pod certificates are not served")
		}
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// tokenFile asks the API server for the pod's service account token, bound
// to the pod, as the kubelet does.
func (v volumes) tokenFile(ctx context.Context, pod *corev1.Pod, t *corev1.ServiceAccountTokenProjection, mode *int32) ([]file, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: t.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if t.Audience != "" {
		req.Spec.Audiences = []string{t.Audience}
	}
	tok, err := v.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token of service account %s: %w", sa, err)
	}
	return []file{{path: t.Path, data: []byte(tok.Status.Token), mode: fileMode(mode, 0o644)}}, nil
}

func fileMode(m *int32, def fs.FileMode) fs.FileMode {
	if m == nil {
		return def
	}
	return fs.FileMode(*m) & fs.ModePerm
}

// writeFiles writes files below dir, owned by root and the fsGroup.
func writeFiles(dir string, files []file, fsGroup *int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if strings.Contains(f.path, "..") || filepath.IsAbs(f.path) {
			return fmt.Errorf("file path %q leaves the volume", f.path)
		}
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
		if fsGroup != nil {
			if err := os.Chown(p, 0, int(*fsGroup)); err != nil {
				return err
			}
		}
	}
	return nil
}

// groupOwn gives a writable volume to the fsGroup when its root does not
// belong to it yet: group, group read-write, setgid folders.
func groupOwn(root string, fsGroup *int64) error {
	if fsGroup == nil {
		return nil
	}
	gid := int(*fsGroup)
	if info, err := os.Stat(root); err != nil {
		return err
	} else if st, ok := info.Sys().(interface{ Gid() uint32 }); ok && int(st.Gid()) == gid {
		return nil
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.Lchown(p, -1, gid); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		mode := info.Mode().Perm() | 0o060
		if d.IsDir() {
			mode |= 0o010 | fs.ModeSetgid
		}
		return os.Chmod(p, mode)
	})
}

func podFSGroup(pod *corev1.Pod) *int64 {
	if sc := pod.Spec.SecurityContext; sc != nil {
		return sc.FSGroup
	}
	return nil
}

// claimPath is the host path of the volume bound to the claim.
func (v volumes) claimPath(ctx context.Context, ns, claim string) (string, error) {
	pvc, err := v.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("claim %s: %w", claim, err)
	}
	if pvc.Spec.VolumeName == "" || pvc.Status.Phase != corev1.ClaimBound {
		return "", fmt.Errorf("claim %s is not bound yet", claim)
	}
	pv, err := v.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("volume of claim %s: %w", claim, err)
	}
	switch {
	case pv.Spec.HostPath != nil:
		return pv.Spec.HostPath.Path, nil
	case pv.Spec.Local != nil:
		return pv.Spec.Local.Path, nil
	}
	return "", fmt.Errorf("volume %s of claim %s is neither hostPath nor local", pv.Name, claim)
}
