package imagetest

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// noImage is scripts/image.sh's exit status when buildah is missing and
// cannot be installed.
const noImage = 3

// nonRoot is the image's user and group (distroless' nonroot, as the
// operator's pod security context sets it).
const nonRoot = 65532

// entry is one file of the image's root filesystem.
type entry struct {
	mode     fs.FileMode // type and permission bits
	uid, gid uint32
}

// wantFiles is everything the image holds, and nothing else.
var wantFiles = map[string]entry{
	"carrier":          {0o755, 0, 0},
	"carrier-operator": {0o755, 0, 0},
	"var":              {fs.ModeDir | 0o755, 0, 0},
	"var/lib":          {fs.ModeDir | 0o755, 0, 0},
	"var/lib/carrier":  {fs.ModeDir | 0o755, nonRoot, nonRoot},
}

// maxImageBytes bounds the files' total size: both binaries are about 50 MB
// today, and anything like a Go toolchain or a base system caught in the
// image would be far more.
const maxImageBytes = 80 << 20

// TestImage builds the image with scripts/image.sh (buildah, from the
// Dockerfile) and checks it: its configuration (non-root numeric user,
// entrypoint, command, OCI labels), its root filesystem through
// buildah mount (exactly the expected files, owners and modes, static
// binaries, total size), and "carrier --version" and
// "carrier-operator --version" run from that root filesystem printing the
// version the build stamped. Every buildah
// container and mount it makes, and the image, are removed at the end.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the container image with buildah (minutes when cold)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	want := stampedVersion(t, root)
	image := fmt.Sprintf("localhost/carrier-image-test:%d", os.Getpid())
	build(t, root, image)
	t.Cleanup(func() { buildah(t, "rmi", image) })

	checkConfig(t, image, want)
	mnt := mountImage(t, image)
	checkFiles(t, mnt)
	checkVersion(t, mnt, want)
}

// stamp is what scripts/build.sh stamps into the binaries and labels.
type stamp struct{ version, revision string }

func stampedVersion(t *testing.T, root string) stamp {
	t.Helper()
	out, err := exec.Command(filepath.Join(root, "scripts", "build.sh"), "--print-version").Output()
	if err != nil {
		t.Fatalf("scripts/build.sh --print-version: %v", err)
	}
	var s stamp
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "VERSION":
			s.version = v
		case "REVISION":
			s.revision = v
		}
	}
	if s.version == "" || s.revision == "" {
		t.Fatalf("scripts/build.sh --print-version printed %q, want VERSION= and REVISION=", out)
	}
	return s
}

// build runs scripts/image.sh, or skips the test when buildah cannot be had.
func build(t *testing.T, root, image string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "image.sh"), image)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == noImage {
		t.Skipf("no buildah, so no image to check: %s", lastLine(stderr.String()))
	}
	if err != nil {
		t.Fatalf("scripts/image.sh %s: %v\n%s%s", image, err, stdout.String(), stderr.String())
	}
	if got := lastLine(stdout.String()); got != image {
		t.Fatalf("scripts/image.sh printed %q last, want the image name %q", got, image)
	}
	t.Logf("scripts/image.sh built %s in %v", image, time.Since(start).Round(time.Second))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// buildah runs buildah with args and returns its stdout; a failure fails
// the test (from a cleanup too).
func buildah(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("buildah", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("buildah %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// imageConfig is the part of "buildah inspect --type image" checked here.
type imageConfig struct {
	OCIv1 struct {
		Config struct {
			User       string            `json:"User"`
			Entrypoint []string          `json:"Entrypoint"`
			Cmd        []string          `json:"Cmd"`
			Labels     map[string]string `json:"Labels"`
		} `json:"config"`
	} `json:"OCIv1"`
}

func checkConfig(t *testing.T, image string, want stamp) {
	t.Helper()
	var ic imageConfig
	if err := json.Unmarshal([]byte(buildah(t, "inspect", "--type", "image", image)), &ic); err != nil {
		t.Fatalf("buildah inspect %s: %v", image, err)
	}
	c := ic.OCIv1.Config
	if wantUser := fmt.Sprintf("%d:%d", nonRoot, nonRoot); c.User != wantUser {
		t.Errorf("user %q, want %q (numeric, not root)", c.User, wantUser)
	}
	if !slices.Equal(c.Entrypoint, []string{"/carrier"}) {
		t.Errorf("entrypoint %q, want [/carrier]", c.Entrypoint)
	}
	if len(c.Cmd) == 0 || c.Cmd[0] != "serve" || !slices.Contains(c.Cmd, "--data=/var/lib/carrier/data") {
		t.Errorf("cmd %q, want serve with --data=/var/lib/carrier/data", c.Cmd)
	}
	labels := map[string]string{
		"org.opencontainers.image.source":   "https://github.com/carriermq/carrier",
		"org.opencontainers.image.version":  want.version,
		"org.opencontainers.image.revision": want.revision,
	}
	for k, v := range labels {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if c.Labels["org.opencontainers.image.licenses"] == "" {
		t.Errorf("no org.opencontainers.image.licenses label (labels %v)", c.Labels)
	}
}

// mountImage makes a working container of image and mounts its root
// filesystem; both go when the test ends.
func mountImage(t *testing.T, image string) string {
	t.Helper()
	ctr := buildah(t, "from", "--pull=never", "--name", fmt.Sprintf("carrier-image-test-%d", os.Getpid()), image)
	if ctr == "" {
		t.FailNow()
	}
	t.Cleanup(func() {
		buildah(t, "rm", ctr) // also unmounts
		if left := buildah(t, "containers", "--quiet", "--filter", "name="+ctr); left != "" {
			t.Errorf("container %s still there after buildah rm: %s", ctr, left)
		}
	})
	mnt := buildah(t, "mount", ctr)
	if mnt == "" {
		t.FailNow()
	}
	return mnt
}

// checkFiles walks the root filesystem: exactly wantFiles, with their
// owners and modes, both binaries static, and the total size within bounds.
func checkFiles(t *testing.T, mnt string) {
	t.Helper()
	got := map[string]entry{}
	var total int64
	err := filepath.WalkDir(mnt, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == mnt {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(mnt, path)
		st := info.Sys().(*syscall.Stat_t)
		got[rel] = entry{mode: info.Mode() & (fs.ModeType | fs.ModePerm), uid: st.Uid, gid: st.Gid}
		if info.Mode().IsRegular() {
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk the image's root filesystem: %v", err)
	}
	for name, w := range wantFiles {
		if g, ok := got[name]; !ok {
			t.Errorf("/%s missing from the image", name)
		} else if g != w {
			t.Errorf("/%s: mode %v owner %d:%d, want mode %v owner %d:%d", name, g.mode, g.uid, g.gid, w.mode, w.uid, w.gid)
		}
	}
	for name := range got {
		if _, ok := wantFiles[name]; !ok {
			t.Errorf("/%s is in the image and should not be", name)
		}
	}
	for _, bin := range []string{"carrier", "carrier-operator"} {
		checkStatic(t, filepath.Join(mnt, bin))
	}
	t.Logf("image files: %d bytes (%.1f MiB) in %d entries", total, float64(total)/(1<<20), len(got))
	if total > maxImageBytes {
		t.Errorf("image files total %d bytes, over the %d bound", total, maxImageBytes)
	}
}

// checkStatic fails the test when the ELF file at path asks for a dynamic
// loader: the image has no libc.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (has an interpreter); the image has no libc", filepath.Base(path))
		}
	}
}

// checkVersion runs the image's own binaries from its root filesystem (no
// container runtime needed: they are static): each prints the version the
// build stamped.
func checkVersion(t *testing.T, mnt string, want stamp) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, bin := range []string{"carrier", "carrier-operator"} {
		out, err := exec.CommandContext(ctx, filepath.Join(mnt, bin), "--version").CombinedOutput()
		wantPrefix := fmt.Sprintf("%s %s (revision %s, ", bin, want.version, want.revision)
		if err != nil || !strings.HasPrefix(string(out), wantPrefix) {
			t.Errorf("<image>/%s --version = %q, %v; want it to start %q", bin, out, err, wantPrefix)
		}
	}
}
