package clustertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// knownCrashes are crashes of other components that a node can hit on
// restart, with what is known about them.
var knownCrashes = []struct{ signature, why string }{
	{"sealed segment has no index block", "raft-wal v0.4.0 cannot reopen a log whose uncommitted tail raft truncated " +
		"(hashicorp/raft-wal#31; the fix, #33, is in no tagged release): the log store in cluster/ must handle it"},
}

// KnownCrash looks for a known crash in the node logs under dir (the
// Options.Dir of a cluster) and describes the first one found, or returns "".
// Tests use it to skip, naming the bug, instead of failing on someone else's
// open bug.
func KnownCrash(dir string) string {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, k := range knownCrashes {
			if strings.Contains(string(b), k.signature) {
				return fmt.Sprintf("%s: %q: known bug: %s", filepath.Base(path), k.signature, k.why)
			}
		}
	}
	return ""
}

// Dir is the directory holding the nodes' data dirs and logs.
func (c *Cluster) Dir() string { return c.opts.Dir }
