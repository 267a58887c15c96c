package kubetest

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// nodeEnv is a control plane with Kubernetes' controllers, a DNS server
// and n node agents, and a namespace.
func nodeEnv(t *testing.T, ns string, n int) (*ControlPlane, []*Node, context.Context) {
	t.Helper()
	NodeAgent(t) // skips before starting anything when agents cannot run
	cp, ctx := withNamespace(t, ns, 4*time.Minute, true)
	dns := netip.AddrFrom4([4]byte{127, 53, byte(os.Getpid() % 250), 1})
	cp.StartDNS(t, netip.AddrPortFrom(dns, 53).String())
	nodes := cp.StartNodes(t, n, dns)
	pollNodesReady(t, ctx, cp, len(nodes))
	return cp, nodes, ctx
}

func pollNodesReady(t *testing.T, ctx context.Context, cp *ControlPlane, n int) {
	t.Helper()
	poll(t, ctx, "nodes Ready", func() error {
		var nodes corev1.NodeList
		if err := cp.Client.List(ctx, &nodes); err != nil {
			return err
		}
		ready := 0
		for _, nd := range nodes.Items {
			for _, c := range nd.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready != n {
			return fmt.Errorf("%d of %d nodes Ready", ready, n)
		}
		return nil
	})
}

// carrierPod is one Carrier node from the real image, bound to its pod's
// address, with the operator's probes.
func carrierPod(ns, name, image string) *corev1.Pod {
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}},
			PeriodSeconds: 1, FailureThreshold: 30}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), FSGroup: ptr.To[int64](65532)},
			Containers: []corev1.Container{{
				Name: "carrier", Image: image,
				Args: []string{"serve", "--data=/var/lib/carrier/data", "--listen=$(POD_IP):7420",
					"--raft-bind=$(POD_IP):7421", "--gossip-bind=$(POD_IP):7422", "--node-id=$(POD_NAME)", "--bootstrap-expect=1"},
				Env:            []corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_IP", "status.podIP")},
				Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 7420}},
				StartupProbe:   probe("/healthz"),
				LivenessProbe:  probe("/healthz"),
				ReadinessProbe: probe("/readyz"),
				VolumeMounts:   []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/carrier"}},
				SecurityContext: &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(true),
					AllowPrivilegeEscalation: ptr.To(false)},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

// A pod of the real Carrier image starts on a node agent and becomes Ready
// through its probes; its address is the node's, and it answers there.
func TestNodeAgentCarrierPodReady(t *testing.T) {
	cp, nodes, ctx := nodeEnv(t, "agent", 1)
	image := Image(t)
	if err := cp.Client.Create(ctx, carrierPod("agent", "carrier-0", image)); err != nil {
		t.Fatal(err)
	}
	pod := pollPod(t, ctx, cp, "agent", "carrier-0", "Ready", func(p *corev1.Pod) error {
		if !podReady(p) {
			return fmt.Errorf("phase %s, conditions %v, containers %v", p.Status.Phase, p.Status.Conditions, p.Status.ContainerStatuses)
		}
		return nil
	})
	ip := netip.MustParseAddr(pod.Status.PodIP)
	if !nodes[0].CIDR.Contains(ip) || pod.Spec.NodeName != nodes[0].Name {
		t.Errorf("pod on %s at %s, want node %s and an address of %s", pod.Spec.NodeName, ip, nodes[0].Name, nodes[0].CIDR)
	}
	cs := pod.Status.ContainerStatuses[0]
	if cs.Started == nil || !*cs.Started || cs.State.Running == nil || cs.RestartCount != 0 {
		t.Errorf("container status %+v, want started and running, no restart", cs)
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/readyz", netip.AddrPortFrom(ip, 7420)))
	if err != nil {
		t.Fatalf("GET /readyz at the pod's address: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz: %s", resp.Status)
	}
}

// pollPod polls the pod until check passes, and returns it.
func pollPod(t *testing.T, ctx context.Context, cp *ControlPlane, ns, name, what string, check func(*corev1.Pod) error) *corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	poll(t, ctx, fmt.Sprintf("pod %s: %s", name, what), func() error {
		if err := cp.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pod); err != nil {
			return err
		}
		return check(&pod)
	})
	return &pod
}

// A container sees the pod's environment (downward API, ConfigMap and
// Secret keys, $(VAR) in its args), its volumes (ConfigMap and Secret
// files, emptyDir, hostPath), its user, hostname and resolv.conf, and is
// PID 1 of its own PID namespace. It writes them to a hostPath folder.
func TestNodeAgentEnvAndVolumes(t *testing.T) {
	cp, _, ctx := nodeEnv(t, "env", 1)
	image := ShellImage(t)
	out := t.TempDir()
	if err := os.Chmod(out, 0o777); err != nil { // the container runs as user 1234
		t.Fatal(err)
	}
	c := cp.Client
	objs := []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "env", Name: "cfg"}, Data: map[string]string{"colour": "blue", "file.txt": "from a ConfigMap"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "env", Name: "sec"}, Data: map[string][]byte{"password": []byte("hunter2")}},
		envPod(image, out),
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	pod := pollPod(t, ctx, cp, "env", "show", "finished", func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			return fmt.Errorf("phase %s, containers %v", p.Status.Phase, p.Status.ContainerStatuses)
		}
		return nil
	})
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("phase %s, containers %v", pod.Status.Phase, pod.Status.ContainerStatuses)
	}
	b, err := os.ReadFile(filepath.Join(out, "seen"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	want := map[string]string{
		"name": "show", "namespace": "env", "ip": pod.Status.PodIP, "arg": "pod show in env",
		"colour": "blue", "password": "hunter2", "file": "from a ConfigMap", "secretfile": "hunter2",
		"uid": "1234", "gid": "5678", "groups": "5678", "pid": "1", "hostname": "show",
		"nameserver": fmt.Sprintf("nameserver 127.53.%d.1", os.Getpid()%250), "scratch": "written",
		"rootfs": "read-only",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

func envPod(image, out string) *corev1.Pod {
	script := `set -u
{
echo "name=$POD_NAME"; echo "namespace=$POD_NAMESPACE"; echo "ip=$POD_IP"; echo "arg=$1"
echo "colour=$colour"; echo "password=$PASSWORD"
echo "file=$(cat /cfg/file.txt)"; echo "secretfile=$(cat /sec/password)"
echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "groups=$(id -G)"; echo "pid=$BASHPID"; echo "hostname=$(uname -n)"
echo "nameserver=$(grep nameserver /etc/resolv.conf)"
echo written > /scratch/f && echo "scratch=$(cat /scratch/f)"
if touch /rootfile 2>/dev/null; then echo rootfs=writable; else echo rootfs=read-only; fi
} > /out/seen`
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "env", Name: "show"},
		Spec: corev1.PodSpec{
			RestartPolicy:   corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1234), RunAsGroup: ptr.To[int64](5678), FSGroup: ptr.To[int64](5678)},
			Containers: []corev1.Container{{
				Name: "show", Image: image,
				Command: []string{"bash", "-c", script, "show"},
				Args:    []string{"pod $(POD_NAME) in $(POD_NAMESPACE)"},
				Env: []corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_NAMESPACE", "metadata.namespace"),
					fieldEnv("POD_IP", "status.podIP"),
					{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "password"}}}},
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}, {Name: "sec", MountPath: "/sec"},
					{Name: "scratch", MountPath: "/scratch"}, {Name: "out", MountPath: "/out"}},
				SecurityContext: &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(true)},
			}},
			Volumes: []corev1.Volume{
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", DefaultMode: ptr.To[int32](0o440)}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "out", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: out}}},
			},
		},
	}
}

// Deleting a pod sends its process SIGTERM, then SIGKILL once the grace
// period is over, and the pod object goes only after the process is gone.
// The container (bash as PID 1) records the SIGTERM and ignores it.
func TestNodeAgentDeleteTermThenKill(t *testing.T) {
	cp, nodes, ctx := nodeEnv(t, "stop", 1)
	image := ShellImage(t)
	out := t.TempDir()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "stop", Name: "stubborn"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			Containers: []corev1.Container{{Name: "stubborn", Image: image, Command: []string{"bash", "-c",
				`trap 'echo TERM >> /out/signals' TERM; echo started > /out/started; tail -f /dev/null & while :; do wait; done`},
				VolumeMounts: []corev1.VolumeMount{{Name: "out", MountPath: "/out"}}}},
			Volumes: []corev1.Volume{{Name: "out", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: out}}}},
		},
	}
	if err := cp.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	running := pollPod(t, ctx, cp, "stop", "stubborn", "running", func(p *corev1.Pod) error {
		if _, err := os.Stat(filepath.Join(out, "started")); err != nil || !podReady(p) {
			return fmt.Errorf("not started yet: %v, %v", err, p.Status.ContainerStatuses)
		}
		return nil
	})
	pid := containerPID(t, running)
	if err := cp.Client.Delete(ctx, pod); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "SIGTERM recorded", func() error {
		b, err := os.ReadFile(filepath.Join(out, "signals"))
		if err != nil || !strings.Contains(string(b), "TERM") {
			return fmt.Errorf("signals: %q, %v", b, err)
		}
		return nil
	})
	poll(t, ctx, "pod object gone", func() error {
		err := cp.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if processAlive(pid) {
			return fmt.Errorf("process %d still running (ignores SIGTERM until the SIGKILL)", pid)
		}
		return fmt.Errorf("pod still there: %v", err)
	})
	if processAlive(pid) {
		t.Errorf("pod deleted while its process %d still runs", pid)
	}
	if want := fmt.Sprintf(`container exited pod=stop/stubborn container=stubborn code=%d`, 128+int(syscall.SIGKILL)); !strings.Contains(nodes[0].Output(), want) {
		t.Errorf("the agent did not log %q (the process should end by SIGKILL)", want)
	}
}

// containerPID is the host PID of the pod's first container, from its
// container ID (carrier-nodeagent://PID).
func containerPID(t *testing.T, p *corev1.Pod) int {
	t.Helper()
	id := p.Status.ContainerStatuses[0].ContainerID
	pid, err := strconv.Atoi(strings.TrimPrefix(id, "carrier-nodeagent://"))
	if err != nil {
		t.Fatalf("container ID %q: %v", id, err)
	}
	return pid
}

// processAlive is whether pid runs (and is not a zombie).
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// kill -9 of a container's process is a crash: the container restarts at
// once the first time (restart count 1, last state SIGKILL's 137), then
// after a back-off (CrashLoopBackOff) the second time.
func TestNodeAgentCrashRestartBackoff(t *testing.T) {
	cp, _, ctx := nodeEnv(t, "crash", 1)
	image := ShellImage(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "crash", Name: "victim"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers:                    []corev1.Container{{Name: "victim", Image: image, Command: []string{"tail", "-f", "/dev/null"}}},
		},
	}
	if err := cp.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	seenBackoff := false
	for restarts := int32(1); restarts <= 2; restarts++ {
		p := pollPod(t, ctx, cp, "crash", "victim", "running", func(p *corev1.Pod) error {
			if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Running == nil {
				return fmt.Errorf("containers %v", p.Status.ContainerStatuses)
			}
			return nil
		})
		if err := syscall.Kill(containerPID(t, p), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p = pollPod(t, ctx, cp, "crash", "victim", fmt.Sprintf("restart %d", restarts), func(p *corev1.Pod) error {
			cs := p.Status.ContainerStatuses[0]
			if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
				seenBackoff = true
			}
			if cs.RestartCount != restarts || cs.State.Running == nil {
				return fmt.Errorf("restart count %d, state %+v", cs.RestartCount, cs.State)
			}
			return nil
		})
		last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated
		if last == nil || last.ExitCode != 137 || last.Signal != int32(syscall.SIGKILL) {
			t.Errorf("after kill -9 number %d: last state %+v, want exit code 137 by signal 9", restarts, last)
		}
		if restarts == 1 && seenBackoff {
			t.Errorf("the first restart waited in CrashLoopBackOff; the kubelet restarts at once the first time")
		}
	}
	if !seenBackoff {
		t.Errorf("the second restart was not seen waiting in CrashLoopBackOff")
	}
}
