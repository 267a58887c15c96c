// Package js_test runs the JS/TS client's tests (clients/js, `npm test`)
// from `go test ./...`, and checks the client's copy of the error code
// catalogue against protocol.Codes.
package js_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/protocol"
)

// TestNPM runs `npm ci` and `npm test` in clients/js against a carrier
// binary built from this tree. It skips, saying why, only when node or npm
// is missing.
func TestNPM(t *testing.T) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found on PATH: the JS client's tests (clients/js) did not run; install Node.js 20 or newer", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "node", "--version").Output(); err != nil {
		t.Fatalf("node --version: %v", err)
	} else if v := strings.TrimSpace(string(out)); !nodeAtLeast20(v) {
		t.Skipf("node %s is older than 20: the JS client's tests (clients/js) did not run", v)
	}
	bin := filepath.Join(t.TempDir(), "carrier")
	run(ctx, t, "../..", nil, "go", "build", "-o", bin, "./cmd/carrier")
	run(ctx, t, ".", nil, "npm", "ci", "--no-audit", "--no-fund")
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

func nodeAtLeast20(version string) bool {
	m := regexp.MustCompile(`^v(\d+)\.`).FindStringSubmatch(version)
	if m == nil {
		return false
	}
	major, err := strconv.Atoi(m[1])
	return err == nil && major >= 20
}

// TestErrorCodes checks src/errors.ts's serverCodes against the catalogue:
// the same codes, in the same order, with the same retry column.
func TestErrorCodes(t *testing.T) {
	src, err := os.ReadFile("src/errors.ts")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)export const serverCodes = \{(.*?)\} as const`).FindSubmatch(src)
	if block == nil {
		t.Fatal("src/errors.ts: no serverCodes object")
	}
	var got []string
	for _, m := range regexp.MustCompile(`(\w+): "(\w+)"`).FindAllSubmatch(block[1], -1) {
		got = append(got, string(m[1])+" "+string(m[2]))
	}
	word := map[protocol.Retry]string{protocol.RetryNo: "no", protocol.RetryYes: "yes", protocol.RetryLater: "later"}
	var want []string
	for _, c := range protocol.Codes {
		want = append(want, c.Code+" "+word[c.Retry])
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("serverCodes in src/errors.ts:\n%s\nwant (protocol.Codes):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
