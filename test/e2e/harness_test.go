package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clustertest "github.com/carriermq/carrier/test/cluster"
	"github.com/carriermq/carrier/test/testlog"
)

// carrierBin is the carrier binary built once by TestMain.
var carrierBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "carrier-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if carrierBin, err = clustertest.Build(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// server is one "carrier serve" process with its own data dir and ports,
// which stay the same across restarts.
type server struct {
	t        *testing.T
	data     string
	httpAddr string
	raftAddr string
	logPath  string

	cmd    *exec.Cmd
	exited chan struct{}
}

// startServer starts a node on free loopback ports and waits until it is
// ready. t.Cleanup kills it.
func startServer(t *testing.T) *server {
	t.Helper()
	s := &server{t: t, data: filepath.Join(t.TempDir(), "data"),
		httpAddr: freeAddr(t), raftAddr: freeAddr(t), logPath: filepath.Join(t.TempDir(), "server.log")}
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			s.dumpLog()
		}
	})
	s.start()
	return s
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// URL is the server's HTTP base URL.
func (s *server) URL() string { return "http://" + s.httpAddr }

// start runs the process and waits for /readyz.
func (s *server) start() {
	s.t.Helper()
	log, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatalf("open server log: %v", err)
	}
	defer log.Close()
	fmt.Fprintf(log, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	s.cmd = exec.Command(carrierBin, "serve", "--data", s.data, "--listen", s.httpAddr,
		"--raft-bind", s.raftAddr, "--node-id", "e2e-1", "--log-level", "debug")
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.Env = cleanEnv()
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start carrier serve: %v", err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(s.cmd, s.exited)
	s.waitReady(30 * time.Second)
}

// waitReady polls /readyz until it answers 200, the process exits or the
// deadline passes.
func (s *server) waitReady(within time.Duration) {
	s.t.Helper()
	hc := &http.Client{Timeout: time.Second}
	err := poll(within, 50*time.Millisecond, func() error {
		select {
		case <-s.exited:
			return errStop{Err: errors.New("carrier serve exited before it was ready")}
		default:
		}
		resp, err := hc.Get(s.URL() + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: HTTP %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("server not ready: %v", err)
	}
}

// kill9 kills the process with SIGKILL (no clean shutdown) and waits for it.
func (s *server) kill9() {
	s.t.Helper()
	s.kill()
}

func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// stop sends SIGTERM and waits (bounded) for a clean exit; it returns the
// process's exit error.
func (s *server) stop() error {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.kill()
		return errors.New("carrier serve did not exit within 30s of SIGTERM")
	}
	err := s.cmd.ProcessState.ExitCode()
	s.cmd = nil
	if err != 0 {
		return fmt.Errorf("carrier serve exited with status %d", err)
	}
	return nil
}

func (s *server) dumpLog() {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return
	}
	const tail = 8000
	if len(b) > tail {
		b = b[len(b)-tail:]
	}
	s.t.Logf("server log (tail):\n%s", b)
}

// cleanEnv is the environment without CARRIER_* variables, so that a
// developer's settings do not leak into the processes under test.
func cleanEnv() []string { return clustertest.CleanEnv() }

// errStop makes poll give up at once.
type errStop = clustertest.ErrStop

// poll calls fn every interval until it returns nil, returns errStop, or
// within has passed; it returns fn's last error.
func poll(within, interval time.Duration, fn func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	return clustertest.Poll(ctx, interval, fn)
}

// cli runs the carrier binary with args against s and returns its stdout.
// It fails the test when the command fails.
func (s *server) cli(args ...string) string {
	s.t.Helper()
	out, errOut, err := s.tryCLI(args...)
	if err != nil {
		s.t.Fatalf("carrier %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// tryCLI runs the carrier binary with CARRIER_SERVER pointing at s, with a
// 60 s limit.
func (s *server) tryCLI(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, carrierBin, args...)
	cmd.Env = append(cleanEnv(), "CARRIER_SERVER="+s.URL())
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// background is a CLI process running while the test does other things.
type background struct {
	cmd    *exec.Cmd
	stdout *testlog.Buffer
	stderr *testlog.Buffer
	done   chan struct{}
	err    error
}

// startCLI starts the carrier binary with args against s; t.Cleanup kills it.
func (s *server) startCLI(args ...string) *background {
	s.t.Helper()
	b := &background{stdout: &testlog.Buffer{}, stderr: &testlog.Buffer{}, done: make(chan struct{})}
	b.cmd = exec.Command(carrierBin, args...)
	b.cmd.Env = append(cleanEnv(), "CARRIER_SERVER="+s.URL())
	b.cmd.Stdout, b.cmd.Stderr = b.stdout, b.stderr
	if err := b.cmd.Start(); err != nil {
		s.t.Fatalf("start carrier %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	s.t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-b.done
	})
	return b
}

// wait waits (bounded) for the process to exit and returns its stdout.
func (b *background) wait(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(within):
		t.Fatalf("carrier did not exit within %v\nstdout:\n%s\nstderr:\n%s", within, b.stdout, b.stderr)
	}
	if b.err != nil {
		t.Fatalf("carrier failed: %v\nstdout:\n%s\nstderr:\n%s", b.err, b.stdout, b.stderr)
	}
	return b.stdout.String()
}
