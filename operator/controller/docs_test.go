package controller_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Every YAML example of docs/kubernetes.md is accepted by a real API
// server with the CRDs (a server-side dry run: schema, defaults and CEL
// rules), as a user would apply it.
func TestDocExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "kubernetes.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) < 3 {
		t.Fatalf("docs/kubernetes.md has %d YAML examples, want one per kind", len(blocks))
	}
	e := newEnv(t)
	kinds := map[string]bool{}
	for _, b := range blocks {
		var u unstructured.Unstructured
		if err := yaml.NewYAMLOrJSONDecoder(strings.NewReader(string(b[1])), 4096).Decode(&u.Object); err != nil {
			t.Fatalf("example %s: %v", b[1], err)
		}
		u.SetNamespace(ns)
		if err := e.c.Create(context.Background(), &u, client.DryRunAll); err != nil {
			t.Errorf("example %s %s refused: %v", u.GetKind(), u.GetName(), err)
		}
		kinds[u.GetKind()] = true
	}
	for _, k := range []string{"QueueCluster", "Queue", "ConsumerGroup"} {
		if !kinds[k] {
			t.Errorf("no %s example", k)
		}
	}
}
