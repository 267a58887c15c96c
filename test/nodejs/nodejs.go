// Package nodejs is what the Go tests that run Node.js programs share (the
// socket.io cluster tests, the socket.io example, the reference socket.io
// server of the benchmark): whether Node.js 20+ and npm are here, saying
// why not, and "npm ci" in a directory with a lock file.
package nodejs

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Missing returns why Node.js programs cannot run here — node or npm not on
// PATH, or a node older than 20 — or "" when they can.
func Missing(ctx context.Context) string {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not found on PATH: install Node.js 20 or newer"
		}
	}
	out, err := exec.CommandContext(ctx, "node", "--version").Output()
	if v := strings.TrimSpace(string(out)); err != nil || !atLeast20(v) {
		return fmt.Sprintf("node %q (%v) is not Node.js 20 or newer", v, err)
	}
	return ""
}

func atLeast20(version string) bool {
	m := regexp.MustCompile(`^v(\d+)\.`).FindStringSubmatch(version)
	if m == nil {
		return false
	}
	major, err := strconv.Atoi(m[1])
	return err == nil && major >= 20
}

// CI runs "npm ci" in dir (the packages its package-lock.json locks, from
// the npm registry or npm's cache); the error carries npm's output.
func CI(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out.String())
	}
	return nil
}
