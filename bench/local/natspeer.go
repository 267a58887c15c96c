package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSServerVersion is the nats-server release the peer benchmarks run,
// pinned so that runs on different days compare the same peer.
const NATSServerVersion = "v2.15.2"

// natsModule is the Go module nats-server is installed from.
const natsModule = "github.com/nats-io/nats-server/v2"

// InstallNATSServer returns the path of nats-server NATSServerVersion,
// installing it with "go install" into the user's cache dir
// (<cache>/carrier-bench/nats-server-<version>/) unless it is already there.
func InstallNATSServer(ctx context.Context) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("nats-server install dir: %w", err)
	}
	gobin := filepath.Join(cache, "carrier-bench", "nats-server-"+NATSServerVersion)
	bin := filepath.Join(gobin, "nats-server")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", natsModule+"@"+NATSServerVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod")
	cmd.Dir = os.TempDir() // outside any module: install the pinned release as is
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install nats-server: %w\n%s", err, out)
	}
	return bin, nil
}

// NATSCluster is a 3-node nats-server JetStream cluster on 127.0.0.1 with
// file storage under one dir. Its methods are not safe for concurrent use.
type NATSCluster struct {
	URLs    []string // client URLs, one per node
	dir     string
	cleanup func()
	procs   []*exec.Cmd
	exited  []chan error
}

// StartNATS starts the cluster from bin in dir ("" = a temporary dir,
// removed by Stop). syncAlways sets JetStream's sync_interval to "always"
// (fsync before every ack); false keeps the server's default (periodic).
// It returns once a stream with 3 replicas can be created.
func StartNATS(ctx context.Context, bin, dir string, syncAlways bool) (_ *NATSCluster, err error) {
	dir, cleanup, err := workDir(dir)
	if err != nil {
		return nil, err
	}
	ports, err := freeLoopbackPorts(6)
	if err != nil {
		cleanup()
		return nil, err
	}
	n := &NATSCluster{dir: dir, cleanup: cleanup}
	defer func() {
		if err != nil {
			n.Stop()
		}
	}()
	for i := range 3 {
		if err := n.startNode(bin, i, ports, syncAlways); err != nil {
			return nil, err
		}
	}
	return n, n.waitStream(ctx)
}

func freeLoopbackPorts(k int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range k {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// natsConfig is node i's config: client port ports[i], route port ports[3+i].
func natsConfig(dir string, i int, ports []int, syncAlways bool) string {
	var routes []string
	for j := range 3 {
		if j != i {
			routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(ports[3+j]))
		}
	}
	sync := ""
	if syncAlways {
		sync = "\n  sync_interval: always"
	}
	return fmt.Sprintf(`server_name: n%d
listen: 127.0.0.1:%d
jetstream {
  store_dir: %q%s
}
cluster {
  name: carrier-bench
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, i+1, ports[i], filepath.Join(dir, fmt.Sprintf("n%d", i+1)), sync, ports[3+i], strings.Join(routes, ", "))
}

func (n *NATSCluster) startNode(bin string, i int, ports []int, syncAlways bool) error {
	conf := filepath.Join(n.dir, fmt.Sprintf("n%d.conf", i+1))
	if err := os.WriteFile(conf, []byte(natsConfig(n.dir, i, ports, syncAlways)), 0o600); err != nil {
		return fmt.Errorf("nats config: %w", err)
	}
	logf, err := os.Create(filepath.Join(n.dir, fmt.Sprintf("n%d.log", i+1)))
	if err != nil {
		return fmt.Errorf("nats log: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start nats-server n%d: %w", i+1, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	n.procs, n.exited = append(n.procs, cmd), append(n.exited, done)
	n.URLs = append(n.URLs, "nats://127.0.0.1:"+strconv.Itoa(ports[i]))
	return nil
}

// waitStream polls until a probe stream with 3 replicas can be created
// (meta leader elected, every peer known), then deletes it.
func (n *NATSCluster) waitStream(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last error
	for {
		if last = n.probe(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nats cluster not ready (logs in %s): %w (last: %w)", n.dir, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (n *NATSCluster) probe(ctx context.Context) error {
	nc, err := nats.Connect(strings.Join(n.URLs, ","), nats.Timeout(time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := js.CreateStream(pctx, streamConfig("carrier_bench_probe")); err != nil {
		return err
	}
	return js.DeleteStream(pctx, "carrier_bench_probe")
}

func streamConfig(name string) jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: name, Subjects: []string{name}, Replicas: 3, Storage: jetstream.FileStorage}
}

// PIDs are the nodes' process ids.
func (n *NATSCluster) PIDs() []int {
	pids := make([]int, 0, len(n.procs))
	for _, p := range n.procs {
		pids = append(pids, p.Process.Pid)
	}
	return pids
}

// Stop sends SIGTERM to every node, waits up to 10 s each, then SIGKILL;
// it removes a temporary dir. Safe to call twice.
func (n *NATSCluster) Stop() error {
	var errs []error
	for i, p := range n.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited[i]:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-n.exited[i]
			errs = append(errs, fmt.Errorf("nats-server n%d ignored SIGTERM", i+1))
		}
	}
	n.procs, n.exited = nil, nil
	if n.cleanup != nil {
		n.cleanup()
		n.cleanup = nil
	}
	return errors.Join(errs...)
}
