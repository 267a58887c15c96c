package chart

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const allFeatures = "testdata/all-features.yaml"

// `helm lint --strict`: no error and no warning, with the defaults and
// with every feature on.
func TestLint(t *testing.T) {
	for _, file := range []string{"", allFeatures} {
		vals, err := values(file, nil)
		if err != nil {
			t.Fatal(err)
		}
		l := lint.AllWithKubeVersion(chartDir, vals, namespace, kubeVersion)
		for _, m := range l.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("lint (values %q): %s", file, m)
			}
		}
	}
}

// The default install: the operator (cluster-wide), the CRDs, a
// three-node cluster spread over hosts and zones, persistent volumes, the
// test hook; nothing optional.
func TestRenderDefaults(t *testing.T) {
	r := render(t, "", nil)
	wantKinds := map[string]int{"ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "Role": 1, "RoleBinding": 1,
		"Deployment": 1, "QueueCluster": 1}
	if got := r.kinds(); fmt.Sprint(got) != fmt.Sprint(wantKinds) {
		t.Errorf("objects %v, want %v", got, wantKinds)
	}
	op := r.find(t, "Deployment", "carrier-operator")
	want(t, op, map[string]any{
		"spec.replicas":                                                            1,
		"spec.template.spec.serviceAccountName":                                    "carrier-operator",
		"spec.template.spec.securityContext.runAsNonRoot":                          true,
		"spec.template.spec.securityContext.seccompProfile.type":                   "RuntimeDefault",
		"spec.template.spec.containers.0.image":                                    "carrier:0.1.0",
		"spec.template.spec.containers.0.command":                                  "[/carrier-operator]",
		"spec.template.spec.containers.0.livenessProbe.httpGet.path":               "/healthz",
		"spec.template.spec.containers.0.readinessProbe.httpGet.path":              "/readyz",
		"spec.template.spec.containers.0.securityContext.readOnlyRootFilesystem":   true,
		"spec.template.spec.containers.0.securityContext.allowPrivilegeEscalation": false,
		"spec.template.spec.containers.0.securityContext.capabilities.drop":        "[ALL]",
		"spec.template.spec.containers.0.resources.limits.memory":                  "256Mi",
	})
	args := strings.Join(strs(field(op, "spec.template.spec.containers.0.args")), " ")
	for _, a := range []string{"--leader-elect", "--leader-election-namespace=carrier-system", "--step-timeout=15m"} {
		if !strings.Contains(args, a) {
			t.Errorf("operator args %q lack %s", args, a)
		}
	}
	if strings.Contains(args, "--namespace=") {
		t.Errorf("operator args %q: a default install watches every namespace", args)
	}
	checkRules(t, r.find(t, "ClusterRole", "carrier-operator"))

	qc := r.find(t, "QueueCluster", "carrier")
	want(t, qc, map[string]any{
		"spec.replicas":                          3,
		"spec.image":                             "carrier:0.1.0",
		"spec.storage.size":                      "10Gi",
		"spec.storage.retention.whenDeleted":     "Retain",
		"spec.storage.retention.whenScaled":      "Retain",
		"spec.resources.requests.memory":         "512Mi",
		"spec.pod.terminationGracePeriodSeconds": 60,
		"spec.pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.podAffinityTerm.topologyKey":                                           "kubernetes.io/hostname",
		"spec.pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.podAffinityTerm.labelSelector.matchLabels[app.kubernetes.io/instance]": "carrier",
		"spec.pod.topologySpreadConstraints.0.topologyKey":       "topology.kubernetes.io/zone",
		"spec.pod.topologySpreadConstraints.0.whenUnsatisfiable": "ScheduleAnyway",
		"metadata.annotations":                                   nil,
	})
	sel := field(qc, "spec.pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.podAffinityTerm.labelSelector.matchLabels")
	if fmt.Sprint(sel) != "map[app.kubernetes.io/instance:carrier app.kubernetes.io/name:carrier]" {
		t.Errorf("anti-affinity selects %v; want the cluster's pods", sel)
	}
	test := r.find(t, "Pod", "carrier-test-roundtrip")
	want(t, test, map[string]any{
		"metadata.annotations[helm.sh/hook]": "test",
		"spec.initContainers.0.args":         "[queue create helm-test --max-age=1h]",
		"spec.initContainers.1.args.0":       "pub",
		"spec.initContainers.2.args":         "[sub helm-test --group=helm-test-1 --from=first --count=1]",
		"spec.containers.0.args":             "[group rm helm-test helm-test-1]",
		"spec.initContainers.0.env.0.value":  "http://carrier:7420",
		"spec.activeDeadlineSeconds":         180,
	})
}

// Every optional feature on: namespaced RBAC in each watched namespace,
// the image by digest, the cluster's settings passed through, queues and
// groups, monitoring, network policy, ingress and route.
func TestRenderAllFeatures(t *testing.T) {
	r := render(t, allFeatures, nil)
	wantKinds := map[string]int{"ServiceAccount": 1, "Role": 3, "RoleBinding": 3, "Deployment": 1, "QueueCluster": 1,
		"Queue": 2, "ConsumerGroup": 1, "ServiceMonitor": 1, "PrometheusRule": 1, "NetworkPolicy": 1, "Ingress": 1, "HTTPRoute": 1}
	if got := r.kinds(); fmt.Sprint(got) != fmt.Sprint(wantKinds) {
		t.Errorf("objects %v, want %v", got, wantKinds)
	}
	for _, o := range r.objects {
		if o.GetKind() == "Role" && !strings.HasSuffix(o.GetName(), "-leader-election") {
			checkRules(t, o)
		}
	}
	op := r.find(t, "Deployment", "carrier-operator")
	args := strings.Join(strs(field(op, "spec.template.spec.containers.0.args")), " ")
	if !strings.Contains(args, "--namespace=carrier-system,apps") {
		t.Errorf("operator args %q: want the watched namespaces", args)
	}
	digest := "registry.example/carrier@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	want(t, op, map[string]any{"spec.template.spec.containers.0.image": digest, "spec.replicas": 2})
	qc := r.find(t, "QueueCluster", "events")
	want(t, qc, map[string]any{
		"spec.image": digest, "spec.replicas": 5, "spec.storage.storageClassName": "fast",
		"spec.storage.retention.whenDeleted": "Delete", "metadata.annotations[helm.sh/resource-policy]": "keep",
		"spec.pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution.0.topologyKey": "kubernetes.io/hostname",
		"spec.config.autoCreate": false, "spec.config.maxStoreBytes": "8Gi", "spec.service.type": "LoadBalancer",
		"spec.auth.secretName": "carrier-auth", "spec.tls.secretName": "carrier-tls", "spec.imagePullSecrets.0.name": "regcred",
		"spec.pod.extraEnv.0.name": "CARRIER_MAX_CONNECTIONS", "spec.pod.labels.team": "payments",
	})
	want(t, r.find(t, "Queue", "jobs"), map[string]any{"spec.name": "background-jobs", "spec.clusterRef.name": "events"})
	want(t, r.find(t, "Queue", "orders"), map[string]any{"spec.name": "orders", "spec.limits.maxAge": "24h"})
	want(t, r.find(t, "ConsumerGroup", "billing"), map[string]any{"spec.queueRef.name": "orders", "spec.name": "billing", "spec.maxDeliver": 5})
	want(t, r.find(t, "ServiceMonitor", "events"), map[string]any{
		"spec.selector.matchLabels[carrier.dev/service]": "headless", "spec.endpoints.0.port": "http", "spec.endpoints.0.interval": "15s"})
	rule := r.find(t, "PrometheusRule", "events")
	if got := fmt.Sprint(field(rule, "spec.groups.0.rules.1.expr")); got != `sum(up{job="events-headless", namespace="carrier-system"}) < 3` {
		t.Errorf("quorum alert %q", got)
	}
	np := r.find(t, "NetworkPolicy", "events")
	want(t, np, map[string]any{"spec.ingress.2.from.0.podSelector.matchLabels[events-client]": "true",
		"spec.ingress.2.from.1.namespaceSelector.matchLabels[kubernetes.io/metadata.name]": "apps",
		"spec.ingress.1.from.0.podSelector.matchLabels[app.kubernetes.io/name]":            "carrier-operator"})
	want(t, r.find(t, "Ingress", "events"), map[string]any{"spec.rules.0.host": "events.example.com",
		"spec.rules.0.http.paths.0.backend.service.name": "events"})
	want(t, r.find(t, "HTTPRoute", "events"), map[string]any{"spec.parentRefs.0.name": "public", "spec.rules.0.backendRefs.0.port": 7420})
	want(t, r.find(t, "Pod", "events-test-roundtrip"), map[string]any{"metadata.labels[events-client]": "true"})
}

// checkRules: exactly the operator's permissions (operator/DESIGN.md).
func checkRules(t *testing.T, role *unstructured.Unstructured) {
	t.Helper()
	var got []string
	for _, r := range field(role, "rules").([]any) {
		m := r.(map[string]any)
		for _, g := range strs(m["apiGroups"]) {
			for _, res := range strs(m["resources"]) {
				got = append(got, fmt.Sprintf("%s/%s: %s", g, res, strings.Join(strs(m["verbs"]), ",")))
			}
		}
	}
	slices.Sort(got)
	wantRules := []string{
		"/configmaps: get,list,watch,create,update,patch",
		"/persistentvolumeclaims: get,list,watch,patch",
		"/pods: get,list,watch,delete",
		"/serviceaccounts: get,list,watch,create,update,patch",
		"/services: get,list,watch,create,update,patch",
		"apps/statefulsets: get,list,watch,create,update,patch",
		"carrier.dev/consumergroups/finalizers: get,update,patch",
		"carrier.dev/consumergroups/status: get,update,patch",
		"carrier.dev/consumergroups: get,list,watch,update,patch",
		"carrier.dev/queueclusters/finalizers: get,update,patch",
		"carrier.dev/queueclusters/status: get,update,patch",
		"carrier.dev/queueclusters: get,list,watch,update,patch",
		"carrier.dev/queues/finalizers: get,update,patch",
		"carrier.dev/queues/status: get,update,patch",
		"carrier.dev/queues: get,list,watch,update,patch",
		"events.k8s.io/events: create,patch",
		"policy/poddisruptionbudgets: get,list,watch,create,update,patch",
	}
	if !slices.Equal(got, wantRules) {
		t.Errorf("%s %s rules:\n%s\nwant:\n%s", role.GetKind(), role.GetName(), strings.Join(got, "\n"), strings.Join(wantRules, "\n"))
	}
}

// The schema refuses typos and wrong types, saying which value.
func TestSchemaRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals map[string]any
		says string
	}{
		{"a misspelt key", map[string]any{"cluster": map[string]any{"replica": 3}}, "replica"},
		{"a string for a number", map[string]any{"cluster": map[string]any{"replicas": "three"}}, "replicas"},
		{"no replicas", map[string]any{"cluster": map[string]any{"replicas": 0}}, "replicas"},
		{"a bad pull policy", map[string]any{"image": map[string]any{"pullPolicy": "Sometimes"}}, "pullPolicy"},
		{"a bad digest", map[string]any{"image": map[string]any{"digest": "latest"}}, "digest"},
		{"a bad size", map[string]any{"cluster": map[string]any{"persistence": map[string]any{"size": "ten gigs"}}}, "size"},
		{"a bad retention", map[string]any{"cluster": map[string]any{"persistence": map[string]any{"retention": map[string]any{"whenScaled": "Keep"}}}}, "whenScaled"},
		{"a bad duration", map[string]any{"operator": map[string]any{"stepTimeout": "soon"}}, "stepTimeout"},
		{"a bad anti-affinity", map[string]any{"cluster": map[string]any{"antiAffinity": "strict"}}, "antiAffinity"},
		{"an unknown top-level key", map[string]any{"replicas": 3}, "replicas"},
		{"a group without its queue", map[string]any{"consumerGroups": []any{map[string]any{"name": "billing"}}}, "queue"},
		{"a bad server setting", map[string]any{"cluster": map[string]any{"config": map[string]any{"logLevel": "loud"}}}, "logLevel"},
	} {
		_, err := tryRender("", tc.vals)
		if err == nil {
			t.Errorf("%s: rendered; want the schema to refuse it", tc.name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "schema") || !strings.Contains(msg, tc.says) {
			t.Errorf("%s: %q does not say the schema refused %s", tc.name, msg, tc.says)
		}
	}
}

// The chart's CRDs are the operator's generated ones, byte for byte.
func TestCRDsAreTheOperators(t *testing.T) {
	gen, err := filepath.Glob(filepath.Join("..", "..", "operator", "config", "crd", "*.yaml"))
	if err != nil || len(gen) == 0 {
		t.Fatalf("generated CRDs: %v (%d files)", err, len(gen))
	}
	inChart, err := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inChart) != len(gen) {
		t.Errorf("the chart has %d CRD files, the operator %d: copy operator/config/crd/*.yaml to charts/carrier/crds/", len(inChart), len(gen))
	}
	for _, g := range gen {
		a, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(g)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("charts/carrier/crds/%s differs from the generated %s (%v): copy operator/config/crd/*.yaml to charts/carrier/crds/", filepath.Base(g), g, err)
		}
	}
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}
