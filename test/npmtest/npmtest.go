// Package npmtest runs a directory's Node tests (npm ci, then npm test)
// from go test, against a carrier binary built from this tree and given to
// them as CARRIER_BIN. It skips, saying why, only when Node 20+ or npm is
// missing (package nodejs decides, for every Node suite alike).
package npmtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/test/nodejs"
)

// Run runs `npm ci` and `npm test` in the test's directory; what names the
// suite in skip messages; root is the repository root relative to it.
func Run(t *testing.T, what, root string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if why := nodejs.Missing(ctx); why != "" {
		t.Skipf("%s: %s did not run", why, what)
	}
	bin := filepath.Join(t.TempDir(), "carrier")
	run(ctx, t, root, nil, "go", "build", "-o", bin, "./cmd/carrier")
	if err := nodejs.CI(ctx, "."); err != nil {
		t.Fatal(err)
	}
	out := run(ctx, t, ".", []string{"CARRIER_BIN=" + bin}, "npm", "test")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "# pass") || strings.HasPrefix(line, "# fail") || strings.HasPrefix(line, "# duration_ms") {
			t.Log(line)
		}
	}
}

// run runs name args in dir and returns its output; it fails the test with
// that output when the command fails.
func run(ctx context.Context, t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %s: %v", name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
