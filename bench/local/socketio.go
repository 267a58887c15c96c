package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/carriermq/carrier/bench"
	"github.com/carriermq/carrier/test/nodejs"
)

// Targets of the socket.io workloads (carrier-bench --target).
const (
	SysCarrierSocketIO = "carrier-socketio" // a Carrier cluster, driven over /socket.io/
	SysSocketIORef     = "socketio-ref"     // the reference socket.io server from npm, one process
)

// DefaultSocketIODir holds refserver.mjs and the package.json that pins the
// reference socket.io server (relative to the module root, where
// carrier-bench runs).
const DefaultSocketIODir = "test/socketio"

// StartCarrierSocketIO starts a 3-node Carrier cluster (as StartCarrier) to
// be measured over socket.io.
func StartCarrierSocketIO(ctx context.Context, bin, dir string) (*bench.CarrierSocketIO, error) {
	c, err := StartCarrier(ctx, bin, dir)
	if err != nil {
		return nil, err
	}
	return bench.NewCarrierSocketIO(c.CarrierTarget, c.pids, c.Close), nil
}

// StartSocketIORef runs the reference socket.io server (node refserver.mjs
// in dir, after "npm ci" there when its node_modules is missing) on a free
// loopback port, as a bench target; Close stops it. It needs Node.js 20+.
func StartSocketIORef(ctx context.Context, dir string) (*bench.SocketIOTarget, error) {
	if dir == "" {
		dir = DefaultSocketIODir
	}
	if err := npmCI(ctx, dir); err != nil {
		return nil, err
	}
	cmd := exec.Command("node", "refserver.mjs", "127.0.0.1:0")
	cmd.Dir, cmd.Stderr = dir, os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("socket.io reference server: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("socket.io reference server: node: %w", err)
	}
	stop := func() error { return stopNode(cmd) }
	url, err := listeningURL(ctx, out)
	if err != nil {
		_ = stop()
		return nil, fmt.Errorf("socket.io reference server: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return bench.NewSocketIOTarget(bench.SocketIOOptions{Name: SysSocketIORef, URLs: []string{url},
		PIDs: func() []int { return []int{cmd.Process.Pid} }, Close: stop}), nil
}

// npmCI installs dir's locked packages unless node_modules is there.
func npmCI(ctx context.Context, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io")); err == nil {
		return nil
	}
	if why := nodejs.Missing(ctx); why != "" {
		return fmt.Errorf("the reference socket.io server: %s", why)
	}
	return nodejs.CI(ctx, dir)
}

// listeningURL reads the server's "listening <url>" line, within 30 s.
func listeningURL(ctx context.Context, out io.Reader) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		url, ok := strings.CutPrefix(strings.TrimSpace(s), "listening ")
		if !ok {
			return "", fmt.Errorf("started without saying where it listens (%q)", s)
		}
		return url, nil
	case <-ctx.Done():
		return "", errors.New("did not start listening within 30 s")
	}
}

// stopNode sends SIGTERM, then SIGKILL after 5 s, and waits.
func stopNode(cmd *exec.Cmd) error {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	return nil
}

// socketIOIdler is a socket.io target that can open idle sockets
// (bench.SocketIOTarget, bench.CarrierSocketIO).
type socketIOIdler interface {
	IdleSockets(ctx context.Context, stream string, k int) (func(), error)
	PIDs() []int
}

// IdleSocketIOMemory is IdleConnMemory with socket.io sockets: k sockets
// (WebSocket transport, each joined to the namespace /bench-idle as a tail)
// to the first server of t, whose process is t.PIDs()[0].
func IdleSocketIOMemory(ctx context.Context, t socketIOIdler, k int) (bench.ConnMemory, error) {
	pids := t.PIDs()
	if len(pids) == 0 {
		return bench.ConnMemory{}, errors.New("idle sockets: the server's process is not known")
	}
	return idleMemory(ctx, pids[0], k, func(ctx context.Context) (func(), error) {
		return t.IdleSockets(ctx, "bench-idle", k)
	})
}
