package build

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// The arguments and variables the builders write must be flags `carrier
// serve` has: this builds the server and reads its --help.
func TestServeFlagsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: builds cmd/carrier (-short)")
	}
	bin := filepath.Join(t.TempDir(), "carrier")
	build := exec.Command("go", "build", "-o", bin, "./cmd/carrier")
	build.Dir = filepath.Join("..", "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/carrier: %v\n%s", err, out)
	}
	help, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("carrier serve --help: %v\n%s", err, help)
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`--([a-z][a-z0-9-]*)`).FindAllStringSubmatch(string(help), -1) {
		flags[m[1]] = true
	}
	for _, arg := range ServeArgs(newCluster(), 0)[1:] {
		name := strings.TrimPrefix(strings.SplitN(arg, "=", 2)[0], "--")
		if !flags[name] {
			t.Errorf("argument %q: carrier serve has no flag --%s", arg, name)
		}
	}
	for env := range ConfigData(everyConfigField()) {
		name := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "CARRIER_")), "_", "-")
		if !flags[name] {
			t.Errorf("ConfigMap variable %s: carrier serve has no flag --%s", env, name)
		}
	}
}

func everyConfigField() *v1alpha1.QueueCluster {
	qc := newCluster()
	d := ptr(v1alpha1.Duration("1s"))
	qc.Spec.Config = v1alpha1.ServerConfig{LogLevel: "warn", AutoCreate: ptr(true), MaxStoreBytes: ptr(resource.MustParse("1Gi")),
		HeartbeatTimeout: d, ElectionTimeout: d, SnapshotInterval: d, SnapshotThreshold: ptr(int64(1)),
		TrailingLogs: ptr(int64(1)), RaftSegmentBytes: ptr(resource.MustParse("8Mi"))}
	return qc
}
