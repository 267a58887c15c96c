package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Back-off between restarts of a crashing container, as the kubelet's: the
// first restart comes at once, then 10 s, doubling up to 5 min; a container
// that ran 10 min starts the count again.
const (
	backoffBase  = 10 * time.Second
	backoffMax   = 5 * time.Minute
	backoffReset = 10 * time.Minute
)

// ctrRun is one container of a pod, across its restarts. Its status is
// guarded by the pod's mutex.
type ctrRun struct {
	r    *podRun
	spec corev1.Container
	kill chan string // a failed liveness or startup probe asks for a restart

	status  corev1.ContainerStatus
	final   bool // stopped for good (restart policy, or the pod stopped)
	everRan bool
}

func newCtrRun(r *podRun, c corev1.Container) *ctrRun {
	no := false
	return &ctrRun{r: r, spec: c, kill: make(chan string, 1), status: corev1.ContainerStatus{
		Name: c.Name, Image: c.Image, Started: &no,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
	}}
}

// run starts the container, restarts it as the pod's restart policy says,
// and returns when it stops for good.
func (c *ctrRun) run() {
	defer c.setFinal()
	crashes := 0
	for {
		ran, code, ok := c.once()
		if !ok {
			return // the pod stopped
		}
		if !restarts(c.r.podSpec().Spec.RestartPolicy, code) {
			return
		}
		if ran >= backoffReset {
			crashes = 0
		}
		crashes++
		if d := backoff(crashes); d > 0 {
			c.setWaiting("CrashLoopBackOff", fmt.Sprintf("back-off %v restarting failed container %s in pod %s", d, c.spec.Name, c.r.key))
			if !c.r.sleep(d) {
				return
			}
		}
		c.r.mu.Lock()
		c.status.RestartCount++
		c.r.mu.Unlock()
	}
}

func backoff(crashes int) time.Duration {
	if crashes <= 1 {
		return 0
	}
	d := backoffBase << (crashes - 2)
	if d > backoffMax || d <= 0 {
		return backoffMax
	}
	return d
}

func restarts(policy corev1.RestartPolicy, code int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	return true
}

// once runs the container one time: how long it ran and its exit code, or
// ok false when the pod stopped. A container that cannot be created counts
// as one that failed at once.
func (c *ctrRun) once() (ran time.Duration, code int32, ok bool) {
	select {
	case <-c.r.stopping:
		return 0, 0, false
	default:
	}
	proc, err := c.start()
	if err != nil {
		slog.Warn("container not started", "pod", c.r.key, "container", c.spec.Name, "err", err)
		c.setTerminatedErr(err)
		return 0, 1, c.stillRunning()
	}
	began := time.Now()
	c.setRunning(proc, began)
	ctx, cancel := context.WithCancel(context.Background())
	var probes sync.WaitGroup
	probes.Go(func() { c.probe(ctx, proc) })
	reason := c.wait(proc)
	cancel()
	probes.Wait()
	code = c.setTerminated(proc, began, reason)
	return time.Since(began), code, c.stillRunning()
}

func (c *ctrRun) stillRunning() bool {
	select {
	case <-c.r.stopping:
		return false
	default:
		return true
	}
}

// wait returns when the process has exited: by itself, stopped with the
// pod, or killed for a failed probe (the reason is then what it says).
func (c *ctrRun) wait(proc *process) string {
	select {
	case <-proc.done:
		return ""
	case <-c.r.stopping:
		terminate(proc, c.r.stopGrace())
		return ""
	case why := <-c.kill:
		slog.Info("container killed", "pod", c.r.key, "container", c.spec.Name, "why", why)
		terminate(proc, probeGrace(c.r.podSpec(), c.spec))
		return why
	}
}

// terminate sends SIGTERM, then SIGKILL after grace, and waits until the
// process is gone.
func terminate(proc *process, grace time.Duration) {
	if grace <= 0 {
		proc.signal(syscall.SIGKILL)
		<-proc.done
		return
	}
	proc.signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-proc.done:
	case <-t.C:
		proc.signal(syscall.SIGKILL)
		<-proc.done
	}
}

func probeGrace(pod *corev1.Pod, c corev1.Container) time.Duration {
	if p := c.LivenessProbe; p != nil && p.TerminationGracePeriodSeconds != nil {
		return time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
	}
	return gracePeriod(pod)
}

// start starts the container's process from its image.
func (c *ctrRun) start() (*process, error) {
	pod := c.r.podSpec()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img, err := c.r.p.images.get(ctx, c.spec.Image)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	spec, err := c.initSpec(pod, img)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(c.r.dir, "logs", c.spec.Name+".log")
	out, err := newLogWriter(logPath, fmt.Sprintf("[%s/%s] ", c.r.key, c.spec.Name))
	if err != nil {
		return nil, err
	}
	return startProcess(c.r.p.self, spec, out)
}

// initSpec is what the helper needs: command and args as the kubelet
// makes them from the spec and the image, the environment, mounts and user.
func (c *ctrRun) initSpec(pod *corev1.Pod, img *image) (*initSpec, error) {
	env, err := c.r.p.env.env(pod, &c.spec, c.r.ip.String(), c.r.hostIP())
	if err != nil {
		return nil, err
	}
	vars := make(map[string]string, len(env))
	for _, e := range env {
		vars[e.Name] = e.Value
	}
	args := commandLine(c.spec, img.config, vars)
	if len(args) == 0 {
		return nil, fmt.Errorf("no command: neither the container nor its image %s names one", img.name)
	}
	uid, gid, err := user(pod, c.spec, img.config)
	if err != nil {
		return nil, err
	}
	mounts, err := c.mounts(pod)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(c.r.dir, "containers", c.spec.Name)
	if err := os.RemoveAll(dir); err != nil { // a new container: a new writable layer
		return nil, err
	}
	sc := c.spec.SecurityContext
	return &initSpec{
		Image: img.root, Dir: dir, Mounts: mounts,
		ReadOnlyRoot: sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem,
		Hostname:     hostname(pod),
		Args:         args,
		Env:          mergeEnv(img.config.Env, env, hostname(pod)),
		WorkDir:      firstNonEmpty(c.spec.WorkingDir, img.config.WorkingDir),
		UID:          uid, GID: gid, Groups: groups(pod),
		NoNewPrivs: sc != nil && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation,
	}, nil
}

// commandLine is the container's argv: command (else the image's
// entrypoint) and args (else, when command is not set, the image's cmd),
// with $(VAR) expanded from the container's variables.
func commandLine(c corev1.Container, img imageConfig, vars map[string]string) []string {
	cmd, args := img.Entrypoint, img.Cmd
	if len(c.Command) > 0 {
		cmd, args = c.Command, nil
	}
	if len(c.Args) > 0 {
		args = c.Args
	}
	out := make([]string, 0, len(cmd)+len(args))
	for _, s := range append(append([]string{}, cmd...), args...) {
		out = append(out, expand(s, vars))
	}
	return out
}

// mergeEnv is the image's variables overridden by the container's.
func mergeEnv(image []string, ctr []corev1.EnvVar, host string) []string {
	order := []string{}
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	set("HOSTNAME", host)
	for _, kv := range image {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	if _, ok := vals["PATH"]; !ok {
		set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	for _, e := range ctr {
		set(e.Name, e.Value)
	}
	out := make([]string, len(order))
	for i, k := range order {
		out[i] = k + "=" + vals[k]
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// user is the container's uid and gid: its security context's, else the
// pod's, else the image's numeric USER, else root. runAsNonRoot with root
// is refused, as by the kubelet.
func user(pod *corev1.Pod, c corev1.Container, img imageConfig) (uint32, uint32, error) {
	var uid, gid *int64
	var nonRoot *bool
	if psc := pod.Spec.SecurityContext; psc != nil {
		uid, gid, nonRoot = psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot
	}
	if sc := c.SecurityContext; sc != nil {
		uid, gid = firstSet(sc.RunAsUser, uid), firstSet(sc.RunAsGroup, gid)
		if sc.RunAsNonRoot != nil {
			nonRoot = sc.RunAsNonRoot
		}
	}
	iu, ig, err := imageUser(img.User)
	if err != nil {
		return 0, 0, err
	}
	u, g := iu, ig
	if uid != nil {
		u = uint32(*uid)
	}
	if gid != nil {
		g = uint32(*gid)
	}
	if nonRoot != nil && *nonRoot && u == 0 {
		return 0, 0, fmt.Errorf("container has runAsNonRoot and image will run as root")
	}
	return u, g, nil
}

func firstSet(a, b *int64) *int64 {
	if a != nil {
		return a
	}
	return b
}

// imageUser parses USER "uid[:gid]"; names are not looked up.
func imageUser(s string) (uint32, uint32, error) {
	if s == "" {
		return 0, 0, nil
	}
	us, gs, _ := strings.Cut(s, ":")
	u, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("image user %q: only numeric users are served", s)
	}
	g := u
	if gs != "" {
		if g, err = strconv.ParseUint(gs, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("image group %q: only numeric groups are served", s)
		}
	}
	return uint32(u), uint32(g), nil
}

func groups(pod *corev1.Pod) []uint32 {
	var out []uint32
	if sc := pod.Spec.SecurityContext; sc != nil {
		if sc.FSGroup != nil {
			out = append(out, uint32(*sc.FSGroup))
		}
		for _, g := range sc.SupplementalGroups {
			out = append(out, uint32(g))
		}
	}
	return out
}

// mounts are the container's volume mounts, then resolv.conf, hosts and
// hostname where the container does not mount something there itself.
func (c *ctrRun) mounts(pod *corev1.Pod) ([]initMount, error) {
	c.r.mu.Lock()
	vols := c.r.volumes
	c.r.mu.Unlock()
	var out []initMount
	taken := map[string]bool{}
	for _, m := range c.spec.VolumeMounts {
		src, ok := vols[m.Name]
		if !ok {
			return nil, fmt.Errorf("volume mount %s: no volume %q in the pod", m.MountPath, m.Name)
		}
		if m.SubPath != "" {
			if strings.Contains(m.SubPath, "..") || filepath.IsAbs(m.SubPath) {
				return nil, fmt.Errorf("volume mount %s: subPath %q leaves the volume", m.MountPath, m.SubPath)
			}
			src = filepath.Join(src, m.SubPath)
			if err := os.MkdirAll(src, 0o755); err != nil {
				return nil, err
			}
		}
		out = append(out, initMount{Source: src, Target: m.MountPath, ReadOnly: m.ReadOnly})
		taken[filepath.Clean(m.MountPath)] = true
	}
	for _, f := range []string{"resolv.conf", "hosts", "hostname"} {
		if t := "/etc/" + f; !taken[t] {
			out = append(out, initMount{Source: filepath.Join(c.r.dir, "etc", f), Target: t, ReadOnly: true})
		}
	}
	return out, nil
}

func (c *ctrRun) setRunning(proc *process, began time.Time) {
	c.r.mu.Lock()
	c.status.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(began)}}
	c.status.ContainerID = fmt.Sprintf("carrier-nodeagent://%d", proc.pid())
	c.status.Ready = false
	no := false
	c.status.Started = &no
	c.everRan = true
	c.r.mu.Unlock()
	slog.Info("container started", "pod", c.r.key, "container", c.spec.Name, "pid", proc.pid())
	c.r.changed()
}

// setTerminated records how the process ended and returns its exit code.
func (c *ctrRun) setTerminated(proc *process, began time.Time, why string) int32 {
	code, signaled := proc.exitStatus()
	reason := "Completed"
	switch {
	case why != "":
		reason = "Error"
	case code != 0:
		reason = "Error"
	}
	c.r.mu.Lock()
	started := c.status.State.Running
	t := &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: why,
		FinishedAt: metav1.Now(), ContainerID: c.status.ContainerID}
	if started != nil {
		t.StartedAt = started.StartedAt
	}
	if signaled {
		t.Signal = code - 128
	}
	c.status.State = corev1.ContainerState{Terminated: t}
	c.status.LastTerminationState = corev1.ContainerState{Terminated: t.DeepCopy()}
	c.status.Ready = false
	c.r.mu.Unlock()
	slog.Info("container exited", "pod", c.r.key, "container", c.spec.Name, "code", code, "ran", time.Since(began).Round(time.Millisecond))
	c.r.changed()
	return code
}

func (c *ctrRun) setTerminatedErr(err error) {
	c.r.mu.Lock()
	reason := "CreateContainerError"
	if strings.HasPrefix(err.Error(), "image:") {
		reason = "ErrImagePull"
	}
	c.status.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: err.Error()}}
	c.r.mu.Unlock()
	c.r.changed()
}

func (c *ctrRun) setWaiting(reason, msg string) {
	c.r.mu.Lock()
	c.status.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	c.r.mu.Unlock()
	c.r.changed()
}

func (c *ctrRun) setFinal() {
	c.r.mu.Lock()
	c.final = true
	if c.status.State.Terminated == nil {
		// Never ran, or stopped while waiting: terminated as the kubelet
		// reports a container it will not start again.
		c.status.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 137, Reason: "ContainerStatusUnknown", FinishedAt: metav1.Now()}}
	}
	c.r.mu.Unlock()
}

func (c *ctrRun) setStarted() {
	c.r.mu.Lock()
	yes := true
	c.status.Started = &yes
	c.r.mu.Unlock()
	c.r.changed()
}

func (c *ctrRun) setReady(ready bool) {
	c.r.mu.Lock()
	changed := c.status.Ready != ready
	c.status.Ready = ready
	c.r.mu.Unlock()
	if changed {
		c.r.changed()
	}
}
