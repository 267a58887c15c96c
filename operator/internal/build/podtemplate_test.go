package build

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

func TestServeArgs(t *testing.T) {
	got := ServeArgs(newCluster(), 0)
	want := []string{
		"serve",
		"--data=/var/lib/carrier/data",
		"--listen=$(POD_IP):7420",
		"--node-id=$(POD_NAME)",
		"--raft-bind=$(POD_IP):7421",
		"--raft-advertise=$(POD_NAME).orders-headless.prod.svc:7421",
		"--gossip-bind=$(POD_IP):7422",
		"--gossip-advertise=$(POD_IP):7422",
		"--join=orders-headless.prod.svc:7422",
		"--bootstrap-expect=3",
	}
	if !slices.Equal(got, want) {
		t.Errorf("args:\n got %q\nwant %q", got, want)
	}
	if got := ServeArgs(newCluster(), 5); got[len(got)-1] != "--bootstrap-expect=5" {
		t.Errorf("bootstrapExpect 5: last arg %q", got[len(got)-1])
	}
}

// Every variable the arguments name comes from the downward API.
func TestArgsVariablesDefined(t *testing.T) {
	c := onlyContainer(t, PodTemplate(newCluster(), 0))
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if env["POD_NAME"] != "metadata.name" || env["POD_IP"] != "status.podIP" {
		t.Errorf("downward API env = %v, want POD_NAME from metadata.name and POD_IP from status.podIP", env)
	}
	for _, a := range c.Args {
		for _, v := range []string{"POD_NAME", "POD_IP", "POD_NAMESPACE"} {
			if strings.Contains(a, "$("+v+")") && env[v] == "" {
				t.Errorf("arg %q uses %s, which the container does not define", a, v)
			}
		}
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != "orders-config" {
		t.Errorf("envFrom = %+v, want the ConfigMap orders-config", c.EnvFrom)
	}
}

func TestProbes(t *testing.T) {
	c := onlyContainer(t, PodTemplate(newCluster(), 0))
	path := func(p *corev1.Probe) string { return p.HTTPGet.Path }
	if path(c.LivenessProbe) != "/healthz" {
		t.Errorf("liveness probes %s, want /healthz (never tied to quorum)", path(c.LivenessProbe))
	}
	if path(c.ReadinessProbe) != "/readyz" {
		t.Errorf("readiness probes %s, want /readyz", path(c.ReadinessProbe))
	}
	if path(c.StartupProbe) != "/healthz" {
		t.Errorf("startup probes %s, want /healthz", path(c.StartupProbe))
	}
	if budget := c.StartupProbe.PeriodSeconds * c.StartupProbe.FailureThreshold; budget < 300 {
		t.Errorf("startup probe allows %ds, want at least 5 minutes to replay a large log", budget)
	}
	if budget := c.LivenessProbe.PeriodSeconds * c.LivenessProbe.FailureThreshold; budget < 30 {
		t.Errorf("liveness allows %ds of silence, want at least 30 s (a GC or fsync stall is no reason to kill a voter)", budget)
	}
	for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
		if p.HTTPGet.Port.StrVal != "http" {
			t.Errorf("probe %s on port %v, want the named port http", path(p), p.HTTPGet.Port)
		}
	}
}

func TestSecurityDefaults(t *testing.T) {
	tmpl := PodTemplate(newCluster(), 0)
	ps := tmpl.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || *ps.RunAsUser == 0 || *ps.FSGroup == 0 {
		t.Errorf("pod security context %+v, want non-root with an fsGroup", ps)
	}
	cs := onlyContainer(t, tmpl).SecurityContext
	if *cs.AllowPrivilegeEscalation || !*cs.ReadOnlyRootFilesystem || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context %+v, want no escalation, read-only root, ALL dropped", cs)
	}
	if *tmpl.Spec.AutomountServiceAccountToken || *tmpl.Spec.EnableServiceLinks {
		t.Errorf("automountServiceAccountToken %v, enableServiceLinks %v; want both false",
			*tmpl.Spec.AutomountServiceAccountToken, *tmpl.Spec.EnableServiceLinks)
	}
	if *tmpl.Spec.TerminationGracePeriodSeconds < 35 {
		t.Errorf("grace period %d s, want room for the server's 30 s stop", *tmpl.Spec.TerminationGracePeriodSeconds)
	}
}

func TestPodOverrides(t *testing.T) {
	qc := newCluster()
	user := int64(1000)
	qc.Spec.Pod = v1alpha1.PodOverrides{
		Labels:       map[string]string{"team": "payments", "app.kubernetes.io/instance": "hijack"},
		Annotations:  map[string]string{"mesh/inject": "false"},
		NodeSelector: map[string]string{"disk": "ssd"}, PriorityClassName: "high",
		Tolerations:     []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
		SecurityContext: &corev1.PodSecurityContext{RunAsUser: &user},
		ExtraEnv:        []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "1800MiB"}},
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone",
			WhenUnsatisfiable: corev1.ScheduleAnyway}},
	}
	tmpl := PodTemplate(qc, 0)
	s := tmpl.Spec
	if tmpl.Labels["team"] != "payments" || tmpl.Labels["app.kubernetes.io/instance"] != "orders" {
		t.Errorf("labels %v: want the user's team, and the operator's instance (the selector) kept", tmpl.Labels)
	}
	if tmpl.Annotations["mesh/inject"] != "false" || tmpl.Annotations[ConfigHashAnnotation] == "" {
		t.Errorf("annotations %v: want the user's and the config hash", tmpl.Annotations)
	}
	if s.NodeSelector["disk"] != "ssd" || s.PriorityClassName != "high" || len(s.Tolerations) != 1 || len(s.TopologySpreadConstraints) != 1 {
		t.Errorf("placement not applied: %+v", s)
	}
	if s.Affinity != nil {
		t.Errorf("affinity %+v: with a topology spread given, want no default anti-affinity", s.Affinity)
	}
	if s.SecurityContext.RunAsUser == nil || *s.SecurityContext.RunAsUser != 1000 || s.SecurityContext.FSGroup != nil {
		t.Errorf("pod security context %+v, want the user's, whole", s.SecurityContext)
	}
	env := onlyContainer(t, tmpl).Env
	if last := env[len(env)-1]; last.Name != "GOMEMLIMIT" {
		t.Errorf("env %v: want the extra variable added", env)
	}
}

func TestDefaultAntiAffinity(t *testing.T) {
	a := PodTemplate(newCluster(), 0).Spec.Affinity
	if a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 0 {
		t.Fatalf("affinity %+v, want one soft pod anti-affinity", a)
	}
	term := a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
	if term.TopologyKey != corev1.LabelHostname || term.LabelSelector.MatchLabels["app.kubernetes.io/instance"] != "orders" {
		t.Errorf("anti-affinity term %+v, want this cluster's pods spread over hosts", term)
	}
}

func TestSecretsMounted(t *testing.T) {
	qc := newCluster()
	if n := len(PodTemplate(qc, 0).Spec.Volumes); n != 1 {
		t.Errorf("volumes without auth or TLS: %d, want only /tmp", n)
	}
	qc.Spec.Auth = &v1alpha1.SecretReference{SecretName: "carrier-auth"}
	qc.Spec.TLS = &v1alpha1.SecretReference{SecretName: "carrier-tls"}
	tmpl := PodTemplate(qc, 0)
	secrets := map[string]string{}
	for _, v := range tmpl.Spec.Volumes {
		if v.Secret != nil {
			secrets[v.Name] = v.Secret.SecretName
		}
	}
	if secrets["auth"] != "carrier-auth" || secrets["tls"] != "carrier-tls" {
		t.Errorf("secret volumes %v, want auth and tls", secrets)
	}
	mounts := map[string]string{}
	for _, m := range onlyContainer(t, tmpl).VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["auth"] != "/etc/carrier/auth" || mounts["tls"] != "/etc/carrier/tls" || mounts["data"] != "/var/lib/carrier" {
		t.Errorf("mounts %v", mounts)
	}
}
