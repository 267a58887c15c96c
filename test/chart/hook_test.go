package chart

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	clustertest "github.com/carriermq/carrier/test/cluster"
)

// The helm test pod's steps work: each container's arguments, with its
// environment pointed at a real carrier node instead of the client
// Service, run in the pod's order (init containers, then the container)
// with the carrier binary, and each exits 0. Run twice, as `helm test`
// may be: the second run must pass too (the queue exists by then).
func TestHelmTestHookRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "carrier")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/carrier")
	build.Dir = filepath.Join("..", "..") // in Carrier's module, with its go.sum
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build carrier: %v\n%s", err, out)
	}
	cl, err := clustertest.New(clustertest.Options{Bin: bin, Dir: t.TempDir(), Size: 1, LogLevel: "info"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	pod := render(t, "", nil).find(t, "Pod", "carrier-test-roundtrip")
	steps := append(containers(pod, "spec.initContainers"), containers(pod, "spec.containers")...)
	if len(steps) != 4 {
		t.Fatalf("the test pod has %d steps, want create, publish, consume and clean up", len(steps))
	}
	for run := 1; run <= 2; run++ {
		for _, s := range steps {
			if s.env["CARRIER_SERVER"] != "http://carrier:7420" {
				t.Fatalf("step %s: CARRIER_SERVER %q, want the client Service", s.name, s.env["CARRIER_SERVER"])
			}
			sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
			cmd := exec.CommandContext(sctx, bin, s.args...)
			cmd.Env = append(os.Environ(), "CARRIER_SERVER="+cl.Nodes()[0].URL())
			out, err := cmd.CombinedOutput()
			scancel()
			if err != nil {
				t.Fatalf("run %d, step %s (carrier %s): %v\n%s", run, s.name, strings.Join(s.args, " "), err, out)
			}
		}
	}
}

type container struct {
	name string
	args []string
	env  map[string]string
}

func containers(pod *unstructured.Unstructured, path string) []container {
	var out []container
	list, _ := field(pod, path).([]any)
	for _, c := range list {
		m := c.(map[string]any)
		ct := container{name: fmt.Sprint(m["name"]), args: strs(m["args"]), env: map[string]string{}}
		envs, _ := m["env"].([]any)
		for _, e := range envs {
			em := e.(map[string]any)
			ct.env[fmt.Sprint(em["name"])] = fmt.Sprint(em["value"])
		}
		out = append(out, ct)
	}
	return out
}
