package clustertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
)

// Node is one "carrier serve" process with its own data dir and addresses,
// which stay the same across restarts. Methods are safe for concurrent use;
// mu serialises process changes.
type Node struct {
	ID      string
	Addrs   addrs
	DataDir string
	LogPath string

	args   []string // serve flags, fixed at creation
	bin    string
	admin  *client.Admin
	scheme string // http, or https with TLS
	tls    *TLS   // nil: plain

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	paused bool
}

// URL is the node's HTTP base URL.
func (n *Node) URL() string { return n.scheme + "://" + n.Addrs.API }

// Admin is an HTTP admin client of this node.
func (n *Node) Admin() *client.Admin { return n.admin }

// Running reports whether the process is alive (paused counts as alive).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.runningLocked()
}

func (n *Node) runningLocked() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// ExitCode is the exit status of the node's last process once it has
// exited (-1 for a signal), and false while it runs or was never started.
func (n *Node) ExitCode() (int, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.runningLocked() {
		return 0, false
	}
	return n.cmd.ProcessState.ExitCode(), true
}

// Start runs the process on its data dir; it does not wait for readiness
// (WaitReady does). Starting a running node is an error.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.runningLocked() {
		return fmt.Errorf("node %s is already running", n.ID)
	}
	log, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open node log: %w", err)
	}
	defer log.Close()
	fmt.Fprintf(log, "=== start %s: carrier %v\n", time.Now().Format(time.RFC3339Nano), n.args)
	cmd := exec.Command(n.bin, n.args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = log, log, append(CleanEnv(), "GOTRACEBACK=all")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start node %s: %w", n.ID, err)
	}
	n.cmd, n.exited, n.paused = cmd, make(chan struct{}), false
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(cmd, n.exited)
	return nil
}

// Kill sends SIGKILL (no clean shutdown) and waits for the process. Killing
// a stopped node does nothing.
func (n *Node) Kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
	n.paused = false
}

// Dump sends SIGQUIT: the Go runtime writes every goroutine's stack to the
// node's log and exits. For a failed test, to see what a hung node was
// doing. It waits up to 10 s for the exit, then kills the node.
func (n *Node) Dump() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGCONT)
	_ = n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		<-n.exited
	}
	n.paused = false
}

// Stop sends SIGTERM (resuming a paused node first) and waits for a clean
// exit until ctx ends, then kills it. It returns an error when the exit was
// not clean.
func (n *Node) Stop(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return nil
	}
	if n.paused {
		_ = n.cmd.Process.Signal(syscall.SIGCONT)
		n.paused = false
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("sigterm node %s: %w", n.ID, err)
	}
	select {
	case <-n.exited:
	case <-ctx.Done():
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		<-n.exited
		return fmt.Errorf("node %s did not exit after SIGTERM: %w", n.ID, ctx.Err())
	}
	if code := n.cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("node %s exited with status %d after SIGTERM", n.ID, code)
	}
	return nil
}

// Paused reports whether the node runs but is stopped by Pause (not yet
// resumed).
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused && n.runningLocked()
}

// Pause stops the process with SIGSTOP; Resume continues it.
func (n *Node) Pause() error { return n.signalPause(syscall.SIGSTOP, true) }

// Resume continues a paused process with SIGCONT.
func (n *Node) Resume() error { return n.signalPause(syscall.SIGCONT, false) }

func (n *Node) signalPause(sig syscall.Signal, paused bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return fmt.Errorf("node %s is not running", n.ID)
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to node %s: %w", sig, n.ID, err)
	}
	n.paused = paused
	return nil
}

// Restart kills the node if it runs and starts it again on the same data.
func (n *Node) Restart() error {
	n.Kill()
	return n.Start()
}

// Wipe kills the node if it runs, deletes its data dir (a lost volume) and
// starts it again with the same flags.
func (n *Node) Wipe() error {
	n.Kill()
	if err := os.RemoveAll(n.DataDir); err != nil {
		return fmt.Errorf("wipe node %s: %w", n.ID, err)
	}
	return n.Start()
}

// exitedEarly returns an ErrStop when the process is not running.
func (n *Node) exitedEarly() error {
	if n.Running() {
		return nil
	}
	return ErrStop{Err: fmt.Errorf("node %s is not running (see %s)", n.ID, n.LogPath)}
}

// WaitReady polls /readyz until it answers 200, the process exits or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	hc := n.tls.httpClient(time.Second)
	err := Poll(ctx, 50*time.Millisecond, func() error {
		if err := n.exitedEarly(); err != nil {
			return err
		}
		return n.readyOnce(ctx, hc)
	})
	if err != nil {
		return fmt.Errorf("node %s not ready: %w", n.ID, err)
	}
	return nil
}

func (n *Node) readyOnce(ctx context.Context, hc *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Status is the node's GET /v1/cluster, with a 2 s limit.
func (n *Node) Status(ctx context.Context) (protocol.ClusterStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := n.admin.Cluster(ctx)
	if err != nil {
		return st, fmt.Errorf("node %s: %w", n.ID, err)
	}
	return st, nil
}

// LogTail returns the last max bytes of the node's log.
func (n *Node) LogTail(max int) string {
	b, err := os.ReadFile(n.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", errors.Unwrap(err))
	}
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
