package v1alpha1_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestGeneratedFilesUpToDate regenerates the deepcopy code and the CRDs into
// a temporary folder with scripts/generate.sh and fails when they differ from
// the committed ones: a change to the API types needs scripts/generate.sh.
func TestGeneratedFilesUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: builds controller-gen (-short)")
	}
	root := filepath.Join("..", "..", "..")
	readInputs(t, root)
	out := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "generate.sh"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/generate.sh: %v\n%s", err, b)
	}
	compareFile(t, filepath.Join(out, "deepcopy", "zz_generated.deepcopy.go"), "zz_generated.deepcopy.go")
	compareDir(t, filepath.Join(out, "crd"), filepath.Join(root, "operator", "config", "crd"))
}

// readInputs reads what the generated files are made from, so that go test's
// cache, which records the files a test opens, reruns this test when one of
// them changes (a comment-only change leaves the test binary as it was).
func readInputs(t *testing.T, root string) {
	t.Helper()
	inputs, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	inputs = append(inputs, filepath.Join(root, "scripts", "generate.sh"),
		filepath.Join(root, "operator", "tools", "go.mod"), filepath.Join(root, "operator", "tools", "go.sum"))
	for _, f := range inputs {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
}

// compareDir fails unless folders fresh and committed hold the same YAML
// files with the same contents.
func compareDir(t *testing.T, fresh, committed string) {
	t.Helper()
	freshNames, committedNames := yamlNames(t, fresh), yamlNames(t, committed)
	if !slices.Equal(freshNames, committedNames) {
		t.Errorf("CRD files: generated %v, committed %v; run scripts/generate.sh", freshNames, committedNames)
	}
	for _, name := range freshNames {
		compareFile(t, filepath.Join(fresh, name), filepath.Join(committed, name))
	}
}

func yamlNames(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	slices.Sort(names)
	return names
}

func compareFile(t *testing.T, fresh, committed string) {
	t.Helper()
	want, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatalf("generated file: %v", err)
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Errorf("committed file: %v; run scripts/generate.sh", err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: it differs from what scripts/generate.sh makes now; run scripts/generate.sh and commit the result", committed)
	}
}
