package kubetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/carriermq/carrier/test/testlog"
)

// Node is a node agent (test/kube/nodeagent): a virtual-kubelet whose
// pods' containers run as local processes chrooted into the image's root
// filesystem, each pod on a loopback address of the node's range. See
// DESIGN.md.
type Node struct {
	// Name is the Node object's name.
	Name string
	// CIDR is the node's loopback range: its first address is the node's
	// InternalIP, the pods get the next ones.
	CIDR netip.Prefix

	bin, kubeconfig, state string
	dns                    netip.Addr
	out                    *testlog.Buffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
}

// StartNodes starts n node agents, "node-1" … "node-n", whose pods use the
// DNS server at dns (StartDNS), until t ends. It skips t when the agents
// cannot run here: not root, or no buildah (see NodeAgent).
func (cp *ControlPlane) StartNodes(t testing.TB, n int, dns netip.Addr) []*Node {
	t.Helper()
	bin := NodeAgent(t)
	kubeconfig := cp.adminKubeconfig(t)
	nodes := make([]*Node, n)
	for i := range nodes {
		nodes[i] = &Node{
			Name: fmt.Sprintf("node-%d", i+1), CIDR: nodeRange(), bin: bin, kubeconfig: kubeconfig,
			state: filepath.Join(t.TempDir(), "node"), dns: dns, out: &testlog.Buffer{},
		}
		nodes[i].Start(t)
		nd := nodes[i]
		t.Cleanup(func() {
			nd.Stop(t)
			if t.Failed() {
				t.Logf("node agent %s output:\n%s", nd.Name, tail(nd.out.String(), 256<<10))
			}
		})
	}
	return nodes
}

// Start runs the agent (again, after Stop: with the same name, range and
// folder, so that it takes back its pods as a node that comes back does).
func (n *Node) Start(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		t.Fatalf("kubetest: node %s is running already", n.Name)
	}
	cmd := exec.Command(n.bin, "--kubeconfig="+n.kubeconfig, "--name="+n.Name, "--pod-cidr="+n.CIDR.String(),
		"--state-dir="+n.state, "--cluster-dns="+n.dns.String())
	cmd.Stdout, cmd.Stderr = n.out, n.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // and its containers with it
	if err := cmd.Start(); err != nil {
		t.Fatalf("kubetest: starting node agent %s: %v", n.Name, err)
	}
	n.cmd, n.exited = cmd, make(chan error, 1)
	go func(exited chan<- error) { exited <- cmd.Wait() }(n.exited)
	t.Logf("kubetest: node agent %s (pid %d, pods on %s)", n.Name, cmd.Process.Pid, n.CIDR)
}

// Stop stops the agent and, at once, every container it runs, as a node
// that loses power; its pods stay in the API server. It returns once the
// agent and its containers are gone. Stopping a stopped node does nothing.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	select {
	case err := <-n.exited:
		t.Errorf("kubetest: node agent %s exited early: %v\n%s", n.Name, err, tail(n.out.String(), 32<<10))
	default:
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		select {
		case err := <-n.exited:
			if err != nil {
				t.Errorf("kubetest: node agent %s: %v", n.Name, err)
			}
		case <-ctx.Done():
			_ = n.cmd.Process.Kill()
			<-n.exited
			t.Errorf("kubetest: node agent %s did not stop in %v", n.Name, stopTimeout)
		}
	}
	n.cmd = nil
}

// Output is what the agent and its containers wrote so far.
func (n *Node) Output() string { return n.out.String() }

var (
	rangesMu sync.Mutex
	ranges   = map[netip.Prefix]bool{}
)

// nodeRange picks a /24 of 127.64.0.0/10 no other node of this process
// has; another process's nodes are unlikely to pick the same one.
func nodeRange() netip.Prefix {
	rangesMu.Lock()
	defer rangesMu.Unlock()
	for {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{127, byte(64 + rand.IntN(64)), byte(rand.IntN(256)), 0}), 24)
		if !ranges[p] {
			ranges[p] = true
			return p
		}
	}
}

var agent struct {
	once sync.Once
	bin  string
	err  error
	skip string
}

// NodeAgent returns the node agent's binary, built from test/kube/nodeagent
// (a module of its own) into the cache, once per source version: a warm
// run only hashes the sources. It skips t when the agent cannot run here:
// not root (containers need namespaces, mounts and chroot) or no buildah
// (the images come from its local storage; scripts/install-test-deps.sh
// installs it).
func NodeAgent(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("SKIP %s: the node agent needs root (namespaces, mounts, chroot)", t.Name())
	}
	if _, err := exec.LookPath("buildah"); err != nil {
		t.Skipf("SKIP %s: the node agent needs buildah for the images (scripts/install-test-deps.sh buildah): %v", t.Name(), err)
	}
	agent.once.Do(func() { agent.bin, agent.err = buildAgent() })
	if agent.err != nil {
		t.Fatalf("kubetest: building the node agent: %v", agent.err)
	}
	return agent.bin
}

func buildAgent() (string, error) {
	src := filepath.Join(repoRoot(), "test", "kube", "nodeagent")
	sum, err := sourceHash(src)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "carrier", "nodeagent", sum)
	bin := filepath.Join(dir, "carrier-nodeagent")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.%d", bin, os.Getpid())
	cmd := exec.Command("go", "build", "-mod=readonly", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build in %s: %w\n%s", src, err, out.String())
	}
	fmt.Fprintf(os.Stderr, "kubetest: built the node agent in %v\n", time.Since(start).Round(time.Second))
	return bin, os.Rename(tmp, bin) // atomic: a concurrent build of the same sources wins or loses whole
}

// sourceHash hashes the agent's Go files, go.mod, go.sum and the Go version.
func sourceHash(dir string) (string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	io.WriteString(h, runtime.Version())
	for _, name := range names {
		base := filepath.Base(name)
		if !strings.HasSuffix(base, ".go") && base != "go.mod" && base != "go.sum" {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", base, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var carrierImage struct {
	once      sync.Once
	name, err string
	skip      bool
}

// noImage is scripts/image.sh's exit status when buildah cannot be had.
const noImage = 3

// Image returns the Carrier image built from the Dockerfile by
// scripts/image.sh (buildah; about 10 s warm), built once per test process.
// It skips t when buildah cannot build here.
func Image(t testing.TB) string {
	t.Helper()
	carrierImage.once.Do(func() {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "image.sh"))
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit) && exit.ExitCode() == noImage:
			carrierImage.skip, carrierImage.err = true, strings.TrimSpace(stderr.String())
		case err != nil:
			carrierImage.err = fmt.Sprintf("scripts/image.sh: %v\n%s", err, stderr.String())
		default:
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			carrierImage.name = lines[len(lines)-1]
		}
	})
	if carrierImage.skip {
		t.Skipf("SKIP %s: no image: %s", t.Name(), carrierImage.err)
	}
	if carrierImage.err != "" {
		t.Fatalf("kubetest: %s", carrierImage.err)
	}
	return carrierImage.name
}

// ShellImage returns the image scripts/image.sh builds the Carrier image
// on (its stand-in for the Go build image: bash, coreutils and Go, from
// this machine's toolchain), for test pods that need a shell. It builds the
// Carrier image first (Image) when needed.
func ShellImage(t testing.TB) string {
	t.Helper()
	Image(t)
	out, err := exec.Command("buildah", "images", "--format", "{{.Name}}:{{.Tag}}", "--filter", "reference=localhost/carrier-go-base").Output()
	if err != nil {
		t.Fatalf("kubetest: buildah images: %v", err)
	}
	names := strings.Fields(string(out))
	if len(names) == 0 {
		t.Fatalf("kubetest: no localhost/carrier-go-base image after scripts/image.sh")
	}
	sort.Strings(names)
	return names[len(names)-1]
}
