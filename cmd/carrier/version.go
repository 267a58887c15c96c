package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and revision are stamped at build time by scripts/build.sh:
//
//	go build -ldflags "-X main.version=0.1.0 -X main.revision=<git commit>"
//
// version is what "carrier --version" prints and what a node carries in
// its gossip metadata (GET /v1/cluster shows it per member; the operator
// reports it). An unstamped build ("go run", "go build") says 0.1.0-dev.
var (
	version  = "0.1.0-dev"
	revision = ""
)

// buildRevision is the stamped revision, else the commit Go recorded in the
// binary when it was built inside a git checkout ("-modified" when the tree
// had changes), else "unknown".
func buildRevision() string {
	if revision != "" {
		return revision
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "-modified"
			}
		}
	}
	if rev == "" {
		return "unknown"
	}
	return rev + modified
}

// versionLine is the text of "carrier --version".
func versionLine() string {
	return fmt.Sprintf("carrier %s (revision %s, %s, %s/%s)", version, buildRevision(),
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
