package chart

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the values table of charts/carrier/README.md")

const (
	tableBegin = "<!-- values table: generated from the @param comments of values.yaml by `go test ./test/chart -run TestReadme -update` (in test/chart) -->"
	tableEnd   = "<!-- end of values table -->"
)

// The README's values table is the one the @param comments of values.yaml
// make, every value has one, and every @param names a value.
func TestReadme(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	table, params, err := valuesTable(src)
	if err != nil {
		t.Fatal(err)
	}
	checkEveryValueDocumented(t, src, params)
	path := filepath.Join(chartDir, "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := bytes.Cut(readme, []byte(tableBegin))
	_, after, ok2 := bytes.Cut(rest, []byte(tableEnd))
	if !ok1 || !ok2 {
		t.Fatalf("%s has no values table markers", path)
	}
	fresh := append(append(append(append(before, tableBegin...), '\n'), table...), append([]byte(tableEnd), after...)...)
	if bytes.Equal(fresh, readme) {
		return
	}
	if *update {
		if err := os.WriteFile(path, fresh, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the values table is stale; run (in test/chart) go test -run TestReadme -update", path)
}

// valuesTable renders the @section and @param comments as Markdown
// tables, with each value's default from the file itself.
func valuesTable(src []byte) (string, map[string]bool, error) {
	var vals map[string]any
	if err := yaml.Unmarshal(src, &vals); err != nil {
		return "", nil, err
	}
	var b strings.Builder
	params := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if s, ok := strings.CutPrefix(line, "## @section "); ok {
			fmt.Fprintf(&b, "\n### %s\n\n| Name | Description | Default |\n| --- | --- | --- |\n", s)
			continue
		}
		p, ok := strings.CutPrefix(line, "## @param ")
		if !ok {
			continue
		}
		key, desc, _ := strings.Cut(p, " ")
		def, found := lookup(vals, key)
		if !found {
			return "", nil, fmt.Errorf("@param %s names no value of values.yaml", key)
		}
		params[key] = true
		d, err := json.Marshal(def)
		if err != nil {
			return "", nil, err
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` |\n", key, strings.ReplaceAll(desc, "|", "\\|"), d)
	}
	return strings.TrimPrefix(b.String(), "\n"), params, sc.Err()
}

func lookup(vals map[string]any, key string) (any, bool) {
	var cur any = vals
	for _, k := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// checkEveryValueDocumented: each leaf of values.yaml (a scalar, a list,
// or an empty map) is a @param, or lies under one.
func checkEveryValueDocumented(t *testing.T, src []byte, params map[string]bool) {
	t.Helper()
	var vals map[string]any
	if err := yaml.Unmarshal(src, &vals); err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if documented(prefix, params) {
			return
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			t.Errorf("values.yaml: %s has no @param comment", prefix)
			return
		}
		for k, sub := range m {
			walk(strings.TrimPrefix(prefix+"."+k, "."), sub)
		}
	}
	walk("", vals)
}

func documented(key string, params map[string]bool) bool {
	for k := key; k != ""; {
		if params[k] {
			return true
		}
		i := strings.LastIndex(k, ".")
		if i < 0 {
			return false
		}
		k = k[:i]
	}
	return false
}
