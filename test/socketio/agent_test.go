package socketio_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// event is one line agent.mjs wrote.
type event struct {
	Ev        string            `json:"ev"`
	Name      string            `json:"name"`
	SID       string            `json:"sid"`
	ID        string            `json:"id"`
	Recovered bool              `json:"recovered"`
	Transport string            `json:"transport"`
	Reason    string            `json:"reason"`
	Message   string            `json:"message"`
	Event     string            `json:"event"`
	Key       string            `json:"key"`
	Args      []json.RawMessage `json:"args"`
	Ackable   bool              `json:"ackable"`
	Offset    *string           `json:"offset"`
	Err       *string           `json:"err"`
	Res       json.RawMessage   `json:"res"`
	Raw       string            `json:"-"`
}

// agent is one running agent.mjs: the Go side sends commands and waits for
// the events the sockets report. Methods are safe for concurrent use.
type agent struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}

	mu     sync.Mutex
	events []event
	stderr strings.Builder
}

// startAgent runs node agent.mjs; t.Cleanup stops it.
func startAgent(t *testing.T) *agent {
	t.Helper()
	a := &agent{t: t, done: make(chan struct{})}
	a.cmd = exec.Command("node", "agent.mjs")
	a.cmd.Stderr = &lockedWriter{mu: &a.mu, w: &a.stderr}
	var err error
	if a.stdin, err = a.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("start node agent.mjs: %v", err)
	}
	go a.read(stdout)
	t.Cleanup(a.stop)
	a.wait("agent ready", 30*time.Second, func(e event) bool { return e.Ev == "ready" })
	return a
}

func (a *agent) read(r io.Reader) {
	defer close(a.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			e = event{Ev: "garbage"}
		}
		e.Raw = sc.Text()
		a.mu.Lock()
		a.events = append(a.events, e)
		a.mu.Unlock()
	}
}

// stop ends the agent (its sockets close with it) and waits for it; on a
// failed test it logs what the agent said.
func (a *agent) stop() {
	_ = a.stdin.Close()
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
	_ = a.cmd.Wait()
	if a.t.Failed() {
		a.mu.Lock()
		defer a.mu.Unlock()
		var b strings.Builder
		for _, e := range a.events {
			b.WriteString(e.Raw + "\n")
		}
		a.t.Logf("agent events:\n%s\nagent stderr:\n%s", b.String(), a.stderr.String())
	}
}

// send writes one command.
func (a *agent) send(cmd map[string]any) {
	a.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.stdin.Write(append(b, '\n')); err != nil {
		a.t.Fatalf("agent: %v", err)
	}
}

// since is the number of events so far, a mark for wait and all.
func (a *agent) since() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.events)
}

// all returns the events from mark on that match.
func (a *agent) all(mark int, match func(event) bool) []event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []event
	for _, e := range a.events[mark:] {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// wait polls until an event matches (from the start), within d, and
// returns the first; a "fail" event from the agent fails the test at once.
func (a *agent) wait(what string, d time.Duration, match func(event) bool) event {
	a.t.Helper()
	return a.waitFrom(0, what, d, match)
}

// waitFrom is wait over the events from mark on.
func (a *agent) waitFrom(mark int, what string, d time.Duration, match func(event) bool) event {
	a.t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, e := range a.all(mark, func(event) bool { return true }) {
			if e.Ev == "fail" {
				a.t.Fatalf("agent: %s", e.Raw)
			}
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("waited %v for %s", d, what)
		}
		select {
		case <-a.done:
			a.t.Fatalf("agent exited while waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitN polls until n events from mark on match, within d.
func (a *agent) waitN(mark, n int, what string, d time.Duration, match func(event) bool) []event {
	a.t.Helper()
	var got []event
	a.waitFrom(mark, fmt.Sprintf("%d × %s", n, what), d, func(event) bool {
		got = a.all(mark, match)
		return len(got) >= n
	})
	return got
}

// is matches events of kind ev on socket name.
func is(ev, name string) func(event) bool {
	return func(e event) bool { return e.Ev == ev && e.Name == name }
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
