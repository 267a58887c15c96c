package lb

import (
	"bufio"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// backend is a TCP server on 127.0.0.1 that answers each line with
// "<name> <line>" and, when the client half-closes, "<name> bye".
type backend struct {
	name string
	ln   net.Listener
	wg   sync.WaitGroup
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, ln: ln}
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Go(func() { b.serve(c) })
		}
	})
	t.Cleanup(b.stop)
	return b
}

func (b *backend) serve(c net.Conn) {
	defer c.Close()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if _, err := io.WriteString(c, b.name+" "+sc.Text()+"\n"); err != nil {
			return
		}
	}
	_, _ = io.WriteString(c, b.name+" bye\n")
}

func (b *backend) stop() { b.ln.Close(); b.wg.Wait() }

func (b *backend) addr() string { return b.ln.Addr().String() }

func startProxy(t *testing.T, opts Options, bs ...*backend) *Proxy {
	t.Helper()
	var addrs []string
	for _, b := range bs {
		addrs = append(addrs, b.addr())
	}
	p, err := Start("127.0.0.1:0", addrs, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// ask opens a connection to p, sends line, and returns the answer's
// backend name.
func ask(t *testing.T, p *Proxy, line string) string {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("answer to %q: %v", line, err)
	}
	name, rest, _ := strings.Cut(strings.TrimSpace(got), " ")
	if rest != line {
		t.Errorf("answer %q, want the line back", got)
	}
	return name
}

func TestRoundRobin(t *testing.T) {
	p := startProxy(t, Options{}, startBackend(t, "b1"), startBackend(t, "b2"), startBackend(t, "b3"))
	var got []string
	for i := range 6 {
		got = append(got, ask(t, p, "GET /"+string(rune('a'+i))+" HTTP/1.1"))
	}
	if want := []string{"b1", "b2", "b3", "b1", "b2", "b3"}; !slices.Equal(got, want) {
		t.Errorf("backends %v, want %v", got, want)
	}
	conns := p.Conns()
	if len(conns) != 6 || conns[0].N != 1 || conns[0].FirstLine != "GET /a HTTP/1.1" || conns[5].FirstLine != "GET /f HTTP/1.1" {
		t.Errorf("record %+v, want 6 connections with their first lines", conns)
	}
}

func TestDeadBackendSkipped(t *testing.T) {
	b1, b2, b3 := startBackend(t, "b1"), startBackend(t, "b2"), startBackend(t, "b3")
	p := startProxy(t, Options{}, b1, b2, b3)
	b2.stop()
	var got []string
	for range 3 {
		got = append(got, ask(t, p, "x"))
	}
	if want := []string{"b1", "b3", "b3"}; !slices.Equal(got, want) {
		t.Errorf("backends with b2 down %v, want %v", got, want)
	}
	if c := p.Conns()[1]; c.Backend != b3.addr() {
		t.Errorf("second connection recorded at %q, want b3's %s", c.Backend, b3.addr())
	}
}

func TestPickAndSetBackends(t *testing.T) {
	b1, b2 := startBackend(t, "b1"), startBackend(t, "b2")
	first := func(n, count int) int {
		if n == 1 {
			return 0
		}
		return 1
	}
	p := startProxy(t, Options{Pick: first}, b1, b2)
	if got := []string{ask(t, p, "x"), ask(t, p, "x"), ask(t, p, "x")}; !slices.Equal(got, []string{"b1", "b2", "b2"}) {
		t.Errorf("first to b1, then b2: got %v", got)
	}
	p.SetBackends(nil)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("without backends: read %d bytes, want the connection closed", n)
	}
	c.Close()
	p.SetBackends([]string{b1.addr()})
	if got := ask(t, p, "x"); got != "b1" {
		t.Errorf("after SetBackends(b1): %s", got)
	}
}

func TestHalfClose(t *testing.T) {
	p := startProxy(t, Options{}, startBackend(t, "b1"))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "one\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(c)
	if err != nil || string(all) != "b1 one\nb1 bye\n" {
		t.Errorf("after a half-close: %q, %v; want the answer, the goodbye and EOF", all, err)
	}
}

func TestCloseEndsConnections(t *testing.T) {
	p := startProxy(t, Options{}, startBackend(t, "b1"))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "one\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Error("connection still open after Close")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("read after Close: %v, want the connection closed", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Error("proxy still accepts after Close")
	}
}
