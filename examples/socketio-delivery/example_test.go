// Package example_test runs the socket.io delivery example (vendor.mjs and
// driver.mjs, unchanged socket.io-client apps) against a real carrier
// node, as docs/socketio.md tells a reader to.
package example_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	clustertest "github.com/carriermq/carrier/test/cluster"
	"github.com/carriermq/carrier/test/nodejs"
)

func TestExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if why := nodejs.Missing(ctx); why != "" {
		t.Skip(why + ": the socket.io example did not run")
	}
	url := startCarrier(ctx, t)
	if err := nodejs.CI(ctx, "."); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "CARRIER_URL="+url, "RUN=test")
	driver := startNode(ctx, t, env, "driver.mjs", "3")
	driver.waitLine(t, "driver Dana connected")
	vendor := startNode(ctx, t, env, "vendor.mjs", "3")
	for _, p := range []*program{vendor, driver} {
		if err := p.wait(); err != nil {
			t.Fatalf("%s: %v\n%s", p.name, err, p.output())
		}
	}
	for _, want := range []string{"pickup for order test-1 stored as #", "order test-2 is on its way with Dana", "order test-3 delivered", "all orders delivered"} {
		if !strings.Contains(vendor.output(), want) {
			t.Errorf("vendor did not print %q:\n%s", want, vendor.output())
		}
	}
	if !strings.Contains(driver.output(), "3 pickups done") {
		t.Errorf("driver did not finish:\n%s", driver.output())
	}
}

// startCarrier builds carrier and runs one node on loopback until t ends.
func startCarrier(ctx context.Context, t *testing.T) string {
	t.Helper()
	bin, err := clustertest.Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := clustertest.New(clustertest.Options{Bin: bin, Dir: t.TempDir(), Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return c.Nodes()[0].URL()
}

// program is a running node script whose output is kept.
type program struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once Wait returned, with err set
	err    error

	mu  sync.Mutex
	out bytes.Buffer
}

func startNode(ctx context.Context, t *testing.T, env []string, script string, args ...string) *program {
	t.Helper()
	p := &program{name: script, exited: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	p.cmd.Env = env
	r, w := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() { p.err = p.cmd.Wait(); w.Close(); close(p.exited) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.exited })
	return p
}

func (p *program) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitLine polls the output for line, within 30 s.
func (p *program) waitLine(t *testing.T, line string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.output(), line) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within 30 s:\n%s", p.name, line, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait waits for the program's exit, within a minute.
func (p *program) wait() error {
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	return p.err
}
