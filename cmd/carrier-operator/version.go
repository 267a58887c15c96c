package main

import (
	"fmt"
	"runtime"
)

// version and revision are stamped by scripts/build.sh (-ldflags -X
// main.version=… -X main.revision=…), as in cmd/carrier.
var (
	version  = "0.1.0-dev"
	revision = "unknown"
)

// versionLine is the text of "carrier-operator --version".
func versionLine() string {
	return fmt.Sprintf("carrier-operator %s (revision %s, %s, %s/%s)", version, revision,
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
