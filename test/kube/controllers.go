package kubetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/carriermq/carrier/test/testlog"
)

// ControllerManager and Scheduler name the binaries StartControllers runs
// from the assets folder (scripts/kube-assets.sh builds them with
// kube-apiserver, from the same Kubernetes version).
const (
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
)

// controllers are the kube-controller-manager controllers a Carrier cluster
// needs to run as in a real cluster: pods and claims of StatefulSets, the
// garbage collector (owned objects go with their owner), Service endpoints,
// claims bound, protected and grown, finished pods collected, and nodes'
// health from their leases (the node lifecycle controller: it lifts the
// not-ready taint a new node gets, and taints and evicts from a node whose
// agent stopped). The
// others (nodes' IP ranges, service account tokens, certificate signing,
// cloud routes, …) need credentials or infrastructure a test has no use for.
var controllers = []string{
	"statefulset-controller",
	"garbage-collector-controller",
	"endpointslice-controller",
	"endpoints-controller",
	"persistentvolume-binder-controller",
	"persistentvolume-expander-controller",
	"persistentvolumeclaim-protection-controller",
	"persistentvolume-protection-controller",
	"pod-garbage-collector-controller",
	"replicaset-controller",
	"deployment-controller",
	"job-controller",
	"namespace-controller",
	"node-lifecycle-controller",
}

// StartControllers runs kube-controller-manager (the controllers above) and
// kube-scheduler against cp, as an administrator, until t ends. Neither
// serves HTTPS (--secure-port=0) or elects a leader. It fails t when the
// binaries are missing (run scripts/kube-assets.sh) or do not start; their
// output is shown when t fails.
func (cp *ControlPlane) StartControllers(t testing.TB) {
	t.Helper()
	dir, err := Assets()
	if err != nil {
		t.Skipf("SKIP %s: no Kubernetes control plane: %v", t.Name(), err)
	}
	for _, name := range []string{ControllerManager, Scheduler} {
		if err := executable(filepath.Join(dir, name)); err != nil {
			t.Fatalf("kubetest: %v (scripts/kube-assets.sh builds it)", err)
		}
	}
	kubeconfig := cp.adminKubeconfig(t)
	common := []string{"--kubeconfig=" + kubeconfig, "--leader-elect=false", "--secure-port=0", "--v=1"}
	cp.startProcess(t, filepath.Join(dir, ControllerManager), append(common,
		"--controllers="+strings.Join(controllers, ","), "--use-service-account-credentials=false",
		"--cluster-name=carrier-test", "--concurrent-statefulset-syncs=5")...)
	cp.startProcess(t, filepath.Join(dir, Scheduler), common...)
}

// adminKubeconfig writes a kubeconfig of a user in system:masters.
func (cp *ControlPlane) adminKubeconfig(t testing.TB) string {
	t.Helper()
	user, err := cp.Env.AddUser(envtest.User{Name: "carrier-test-controllers", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatalf("kubetest: a user for the controllers: %v", err)
	}
	b, err := user.KubeConfig()
	if err != nil {
		t.Fatalf("kubetest: kubeconfig of the controllers: %v", err)
	}
	path := filepath.Join(t.TempDir(), "controllers.kubeconfig")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startProcess runs bin with args until t ends: SIGTERM, then SIGKILL after
// stopTimeout. An exit before that fails t, with the output.
func (cp *ControlPlane) startProcess(t testing.TB, bin string, args ...string) {
	t.Helper()
	out := &testlog.Buffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("kubetest: start %s: %v", filepath.Base(bin), err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case err := <-exited:
			t.Errorf("kubetest: %s exited early: %v\n%s", filepath.Base(bin), err, tail(out.String(), 16<<10))
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		select {
		case <-exited:
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), tail(out.String(), 32<<10))
		}
	})
	t.Logf("kubetest: started %s (pid %d) at %s", filepath.Base(bin), cmd.Process.Pid, time.Now().Format(time.TimeOnly))
}
