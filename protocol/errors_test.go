package protocol_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/carriermq/carrier/protocol"
)

// root is the module's root, seen from this package's directory.
const root = ".."

// The error table of docs/protocol.md is the catalogue, row for row.
func TestErrorTableIsTheCatalogue(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"| code | HTTP | meaning | retry |", "| --- | --- | --- | --- |"}
	for _, c := range protocol.Codes {
		want = append(want, fmt.Sprintf("| `%s` | %d | %s | %s |", c.Code, c.Status, c.Meaning, c.RetryText()))
	}
	got := tableAfter(string(doc), "## Error codes")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("docs/protocol.md's error table differs from protocol.Codes; it should read:\n%s", strings.Join(want, "\n"))
	}
}

// tableAfter returns the lines of the first Markdown table after heading.
func tableAfter(doc, heading string) []string {
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		return nil
	}
	var rows []string
	for _, line := range strings.Split(rest, "\n") {
		switch {
		case strings.HasPrefix(line, "|"):
			rows = append(rows, line)
		case len(rows) > 0:
			return rows
		}
	}
	return rows
}

func TestCatalogueHasNoDuplicates(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range protocol.Codes {
		if seen[c.Code] {
			t.Errorf("code %s is listed twice", c.Code)
		}
		seen[c.Code] = true
		if got, ok := protocol.LookupCode(c.Code); !ok || got != c {
			t.Errorf("LookupCode(%s) = %v, %v", c.Code, got, ok)
		}
	}
}

// Every code constant, in protocol and in the state machine, is in the
// catalogue; every code of the catalogue is emitted somewhere by the server
// (gateway, cluster, queue); and no code is written there as a bare string
// the catalogue does not list.
func TestCodesAreCataloguedAndEmitted(t *testing.T) {
	consts := codeConstants(t, filepath.Join(root, "protocol", "errors.go"), filepath.Join(root, "queue", "errors.go"))
	for name, value := range consts {
		if _, ok := protocol.LookupCode(value); !ok {
			t.Errorf("constant %s = %q is not in protocol.Codes", name, value)
		}
	}
	used, literals := serverCodeUses(t, consts)
	for _, c := range protocol.Codes {
		if !used[c.Code] {
			t.Errorf("code %s is in the catalogue but nothing in gateway/, cluster/ or queue/ emits it", c.Code)
		}
	}
	for lit, pos := range literals {
		if _, ok := protocol.LookupCode(lit); !ok {
			t.Errorf("%s: error code %q is not in protocol.Codes", pos, lit)
		}
	}
}

// codeConstants maps the name of every Code* constant declared in files
// (qualified by package) to its string value.
func codeConstants(t *testing.T, files ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, file := range files {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Code") {
				return true
			}
			if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				v, _ := strconv.Unquote(lit.Value)
				out[f.Name.Name+"."+vs.Names[0].Name] = v
			}
			return true
		})
	}
	if len(out) < len(protocol.Codes) {
		t.Fatalf("found only %d code constants", len(out))
	}
	return out
}

// codeLike is what an error code looks like.
var codeLike = regexp.MustCompile(`^[a-z]+(_[a-z]+)+$`)

// serverCodeUses reads the non-test Go files of the packages that emit
// errors and returns the codes they reference through a constant outside
// the constants' own declarations, and the code-like string literals they
// pass as a code (first argument of errf/Errorf, Code field) with where.
func serverCodeUses(t *testing.T, consts map[string]string) (map[string]bool, map[string]string) {
	t.Helper()
	used, literals := map[string]bool{}, map[string]string{}
	fset := token.NewFileSet()
	for _, dir := range []string{"gateway", "cluster", "queue"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
				filepath.Base(path) == "errors.go" && dir == "queue" {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			inspectCodes(f, fset, consts, used, literals)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return used, literals
}

func inspectCodes(f *ast.File, fset *token.FileSet, consts map[string]string, used map[string]bool, literals map[string]string) {
	literal := func(e ast.Expr) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if v, _ := strconv.Unquote(lit.Value); codeLike.MatchString(v) {
				literals[v] = fset.Position(lit.Pos()).String()
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if pkg, ok := n.X.(*ast.Ident); ok {
				if v, ok := consts[pkg.Name+"."+n.Sel.Name]; ok {
					used[v] = true
				}
			}
		case *ast.Ident:
			if v, ok := consts[f.Name.Name+"."+n.Name]; ok {
				used[v] = true
			}
		case *ast.CallExpr:
			if name := callName(n.Fun); (name == "errf" || name == "Errorf") && len(n.Args) > 0 {
				literal(n.Args[0])
			}
		case *ast.KeyValueExpr:
			if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Code" {
				literal(n.Value)
			}
		}
		return true
	})
}

func callName(fun ast.Expr) string {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}
