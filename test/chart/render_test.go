package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart under test, from this package's directory.
var chartDir = filepath.Join("..", "..", "charts", "carrier")

const (
	release   = "carrier"
	namespace = "carrier-system"
)

// kubeVersion is the API server version the chart is rendered for: the
// one the project's control plane runs (test/kube).
var kubeVersion = &chartutil.KubeVersion{Version: "v1.36.3", Major: "1", Minor: "36"}

// rendered is a chart rendered as `helm install --dry-run` would: the
// objects of the release, the hooks apart.
type rendered struct {
	objects []*unstructured.Unstructured
	hooks   []*unstructured.Unstructured
}

// render renders the chart with the values file (none: the defaults) and
// any more values, through the Helm SDK, offline.
func render(t *testing.T, valuesFile string, more map[string]any) rendered {
	t.Helper()
	r, err := tryRender(valuesFile, more)
	if err != nil {
		t.Fatalf("render %s: %v", valuesFile, err)
	}
	return r
}

func tryRender(valuesFile string, more map[string]any) (rendered, error) {
	vals, err := values(valuesFile, more)
	if err != nil {
		return rendered{}, err
	}
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return rendered{}, fmt.Errorf("load chart: %w", err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = release, namespace
	install.KubeVersion = kubeVersion
	rel, err := install.Run(chrt, vals)
	if err != nil {
		return rendered{}, err
	}
	var out rendered
	if out.objects, err = decode(rel.Manifest); err != nil {
		return rendered{}, err
	}
	for _, h := range rel.Hooks {
		objs, err := decode(h.Manifest)
		if err != nil {
			return rendered{}, fmt.Errorf("hook %s: %w", h.Path, err)
		}
		out.hooks = append(out.hooks, objs...)
	}
	return out, nil
}

// values reads a values file and merges more over it.
func values(file string, more map[string]any) (map[string]any, error) {
	vals := map[string]any{}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if err := yaml.Unmarshal(b, &vals); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return chartutil.CoalesceTables(more, vals), nil
}

// decode splits a multi-document manifest into objects.
func decode(manifest string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(manifest)), 4096)
	for {
		var m map[string]any
		err := d.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decode manifest: %w", err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// find returns the object of kind and name, failing t when there is none.
func (r rendered) find(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range append(slices.Clone(r.objects), r.hooks...) {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s among %s", kind, name, r.names())
	return nil
}

// kinds counts the objects of each kind.
func (r rendered) kinds() map[string]int {
	out := map[string]int{}
	for _, o := range r.objects {
		out[o.GetKind()]++
	}
	return out
}

func (r rendered) names() string {
	var out []string
	for _, o := range r.objects {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return strings.Join(out, " ")
}

// field returns the value at the dotted path of o ("spec.replicas"; a
// number indexes a list; a key holding dots goes in brackets:
// "metadata.annotations[helm.sh/hook]"), nil when absent.
func field(o *unstructured.Unstructured, path string) any {
	var cur any = o.Object
	for _, p := range pathKeys(path) {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// pathKeys splits a field path at its dots, not inside brackets.
func pathKeys(path string) []string {
	var keys []string
	for path != "" {
		if rest, ok := strings.CutPrefix(path, "["); ok {
			key, after, _ := strings.Cut(rest, "]")
			keys = append(keys, key)
			path = strings.TrimPrefix(after, ".")
			continue
		}
		i := strings.IndexAny(path, ".[")
		if i < 0 {
			return append(keys, path)
		}
		keys = append(keys, path[:i])
		path = strings.TrimPrefix(path[i:], ".")
	}
	return keys
}

// want checks each path of o against its value (compared as printed).
func want(t *testing.T, o *unstructured.Unstructured, paths map[string]any) {
	t.Helper()
	for p, w := range paths {
		if got := field(o, p); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s %s: %s = %v, want %v", o.GetKind(), o.GetName(), p, got, w)
		}
	}
}
