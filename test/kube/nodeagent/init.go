package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	// initCommand is the helper's first argument: "carrier-nodeagent init SPEC".
	initCommand = "init"
	// initFailed is the helper's exit status when it could not start the
	// container's process (the agent reports it as the container's error).
	initFailed = 128
)

// initSpec is everything the helper needs to start one container, written
// by the agent as JSON into the container's folder.
type initSpec struct {
	Image        string      // the image's root filesystem (read only: the overlay's lower layer)
	Dir          string      // the container's folder: upper, work and rootfs below it
	Mounts       []initMount // in order, after /proc and /dev
	ReadOnlyRoot bool
	Hostname     string
	Args         []string // argv; Args[0] is looked up in the container's PATH when it has no slash
	Env          []string
	WorkDir      string
	UID, GID     uint32
	Groups       []uint32
	NoNewPrivs   bool
}

// initMount is a bind mount of Source (a folder or a file) at Target inside
// the container.
type initMount struct {
	Source, Target string
	ReadOnly       bool
}

// containerInit runs in the container's new mount, PID and UTS namespaces,
// as their first process: it builds the root filesystem (an overlay on the
// image, /proc, a small /dev, the volumes, resolv.conf and hosts), chroots,
// takes the container's user and execs its process, which so becomes PID 1
// of the namespace as in a container. It returns only on error.
func containerInit(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: carrier-nodeagent init SPEC")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var s initSpec
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("spec %s: %w", args[0], err)
	}
	root, err := buildRoot(&s)
	if err != nil {
		return err
	}
	if err := enter(&s, root); err != nil {
		return err
	}
	path, err := lookPath(s.Args[0], s.Env)
	if err != nil {
		return err
	}
	return fmt.Errorf("exec %s: %w", path, syscall.Exec(path, s.Args, s.Env))
}

// buildRoot mounts the container's root filesystem and returns its path.
// Nothing propagates out of the new mount namespace; every mount goes with
// the namespace when its last process exits.
func buildRoot(s *initSpec) (string, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return "", fmt.Errorf("making mounts private: %w", err)
	}
	root := filepath.Join(s.Dir, "rootfs")
	upper, work := filepath.Join(s.Dir, "upper"), filepath.Join(s.Dir, "work")
	for _, d := range []string{root, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", s.Image, upper, work)
	if err := unix.Mount("overlay", root, "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("overlay on the image %s: %w", s.Image, err)
	}
	if err := mountSystem(root); err != nil {
		return "", err
	}
	for _, m := range s.Mounts {
		if err := bindMount(root, m); err != nil {
			return "", err
		}
	}
	if s.ReadOnlyRoot {
		// Per mount point: the volumes below stay as they are.
		if err := unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return "", fmt.Errorf("read-only root: %w", err)
		}
	}
	return root, nil
}

// mountSystem mounts /proc (of the new PID namespace), and a /dev holding
// the usual character devices, /dev/shm and the fd links.
func mountSystem(root string) error {
	proc, dev := filepath.Join(root, "proc"), filepath.Join(root, "dev")
	for _, d := range []string{proc, dev} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return fmt.Errorf("mounting /dev: %w", err)
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if err := bindMount(root, initMount{Source: "/dev/" + d, Target: "/dev/" + d}); err != nil {
			return err
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.MkdirAll(shm, 0o1777); err != nil {
		return err
	}
	if err := unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return fmt.Errorf("mounting /dev/shm: %w", err)
	}
	links := map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
	for name, to := range links {
		if err := os.Symlink(to, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	return nil
}

// bindMount mounts m.Source at m.Target below root, making the target (a
// folder, or an empty file for a file) first.
func bindMount(root string, m initMount) error {
	target := filepath.Join(root, m.Target)
	info, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("volume source: %w", err)
	}
	if info.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else {
		err = touch(target)
	}
	if err != nil {
		return fmt.Errorf("mount point %s: %w", m.Target, err)
	}
	if err := unix.Mount(m.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mounting %s at %s: %w", m.Source, m.Target, err)
	}
	if m.ReadOnly {
		if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", m.Target, err)
		}
	}
	return nil
}

func touch(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// enter chroots into root, sets the hostname and takes the container's
// user and groups; the parent-death signal is set again after the user
// changes (a change of credentials clears it).
func enter(s *initSpec, root string) error {
	if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("chroot %s: %w", root, err)
	}
	wd := s.WorkDir
	if wd == "" {
		wd = "/"
	}
	if err := os.Chdir(wd); err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	groups := make([]int, len(s.Groups))
	for i, g := range s.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("groups: %w", err)
	}
	if err := syscall.Setgid(int(s.GID)); err != nil {
		return fmt.Errorf("group %d: %w", s.GID, err)
	}
	if err := syscall.Setuid(int(s.UID)); err != nil {
		return fmt.Errorf("user %d: %w", s.UID, err)
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("parent-death signal: %w", err)
	}
	if s.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	return nil
}

// lookPath finds name in the container's PATH, as a runtime does: a name
// with a slash is used as it is.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: executable file not found in $PATH", name)
}
