package main

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corev1listers "k8s.io/client-go/listers/core/v1"
)

// envResolver resolves a container's environment as the kubelet does:
// envFrom first (ConfigMaps and Secrets, with their prefix), then env in
// order, each value's $(VAR) references expanded with what is defined
// before it; valueFrom reads the downward API (the pod's IP included, which
// is why the agent resolves env itself: it is known only here), ConfigMap
// and Secret keys, and container resources.
type envResolver struct {
	configMaps corev1listers.ConfigMapLister
	secrets    corev1listers.SecretLister
}

// env returns the container's variables, in order, as NAME=value.
func (r envResolver) env(pod *corev1.Pod, c *corev1.Container, podIP, hostIP string) ([]corev1.EnvVar, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, from := range c.EnvFrom {
		data, err := r.envFrom(pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(from.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		v, err := r.value(pod, c, e, vars, podIP, hostIP)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		set(e.Name, v)
	}
	out := make([]corev1.EnvVar, len(order))
	for i, k := range order {
		out[i] = corev1.EnvVar{Name: k, Value: vars[k]}
	}
	return out, nil
}

func (r envResolver) envFrom(ns string, from corev1.EnvFromSource) (map[string]string, error) {
	switch {
	case from.ConfigMapRef != nil:
		cm, err := r.configMaps.ConfigMaps(ns).Get(from.ConfigMapRef.Name)
		if optional(err, from.ConfigMapRef.Optional) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("envFrom ConfigMap %s: %w", from.ConfigMapRef.Name, err)
		}
		return cm.Data, nil
	case from.SecretRef != nil:
		s, err := r.secrets.Secrets(ns).Get(from.SecretRef.Name)
		if optional(err, from.SecretRef.Optional) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("envFrom Secret %s: %w", from.SecretRef.Name, err)
		}
		data := make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			data[k] = string(v)
		}
		return data, nil
	}
	return nil, nil
}

// optional is whether err is a missing object the reference allows.
func optional(err error, opt *bool) bool {
	return apierrors.IsNotFound(err) && opt != nil && *opt
}

func (r envResolver) value(pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar, vars map[string]string, podIP, hostIP string) (string, error) {
	src := e.ValueFrom
	switch {
	case src == nil:
		return expand(e.Value, vars), nil
	case src.FieldRef != nil:
		return fieldValue(pod, src.FieldRef.FieldPath, podIP, hostIP)
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := r.configMaps.ConfigMaps(pod.Namespace).Get(ref.Name)
		if optional(err, ref.Optional) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		v, ok := cm.Data[ref.Key]
		if !ok && (ref.Optional == nil || !*ref.Optional) {
			return "", fmt.Errorf("ConfigMap %s has no key %q", ref.Name, ref.Key)
		}
		return v, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := r.secrets.Secrets(pod.Namespace).Get(ref.Name)
		if optional(err, ref.Optional) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		v, ok := s.Data[ref.Key]
		if !ok && (ref.Optional == nil || !*ref.Optional) {
			return "", fmt.Errorf("secret %s has no key %q", ref.Name, ref.Key)
		}
		return string(v), nil
	case src.ResourceFieldRef != nil:
		return resourceValue(c, src.ResourceFieldRef)
	}
	return "", fmt.Errorf("unsupported valueFrom")
}

// fieldValue is the downward API's value of path for pod.
func fieldValue(pod *corev1.Pod, path, podIP, hostIP string) (string, error) {
	if k, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// subscript returns KEY of "prefix['KEY']".
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok || !strings.HasSuffix(rest, "']") {
		return "", false
	}
	return strings.TrimSuffix(rest, "']"), true
}

func resourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok {
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		return "0", nil // the kubelet reports the node's allocatable; not modelled
	}
	div := ref.Divisor
	if div.IsZero() {
		return q.String(), nil
	}
	return fmt.Sprint((q.MilliValue() + div.MilliValue() - 1) / div.MilliValue()), nil
}

// expand replaces $(VAR) in s with vars' value when VAR is defined and
// leaves the reference as it is otherwise; $$ is a literal $, as in
// Kubernetes' expansion of env values, command and args.
func expand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
