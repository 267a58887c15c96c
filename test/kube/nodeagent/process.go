package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// process is a running container: the helper, which became the
// container's process (PID 1 of its PID namespace).
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited and been reaped
	err  error         // Wait's, once done is closed
	log  io.Closer
}

// startProcess starts the helper in new mount, PID and UTS namespaces with
// the spec written beside the container's other files; its output goes to
// out. The helper gets SIGKILL if the agent dies, and since it is PID 1 of
// its namespace, everything it started dies with it.
func startProcess(self string, s *initSpec, out io.WriteCloser) (*process, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	spec := filepath.Join(s.Dir, "spec.json")
	if err := os.WriteFile(spec, b, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(self, initCommand, spec)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = []string{} // the helper reads the container's environment from the spec
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS,
		Pdeathsig:  syscall.SIGKILL,
		Setpgid:    true,
	}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting the container helper: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), log: out}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// pid is the process's id in the agent's PID namespace.
func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// exitStatus is the container's exit code as a runtime reports it (128+n
// for a signal) and the signal, if one ended it.
func (p *process) exitStatus() (code int32, signaled bool) {
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return int32(p.cmd.ProcessState.ExitCode()), false
	}
	if ws.Signaled() {
		return 128 + int32(ws.Signal()), true
	}
	return int32(ws.ExitStatus()), false
}
