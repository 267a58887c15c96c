package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/carriermq/carrier/cluster"
	"github.com/carriermq/carrier/gateway"
)

// testServer is a real single-node Carrier: a cluster.Node with Raft on
// disk in t.TempDir() and a gateway served on a fixed loopback address, so
// that the HTTP side can be stopped and started again on the same port.
type testServer struct {
	t    testing.TB
	node *cluster.Node
	addr string
	gw   *gateway.Gateway
	srv  *http.Server
	done chan error
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	ts := &testServer{t: t, node: newNode(t)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	ts.serve(ln)
	t.Cleanup(func() {
		if ts.srv != nil {
			ts.stopHTTP()
		}
	})
	return ts
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newNode(t testing.TB) *cluster.Node {
	t.Helper()
	cfg := cluster.DefaultConfig()
	cfg.NodeID, cfg.DataDir, cfg.Bootstrap, cfg.Logger = "client-test", t.TempDir(), true, quietLogger()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RaftBind = ln.Addr().String()
	ln.Close()
	n, err := cluster.New(cfg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	if err := poll(10*time.Second, n.Ready); err != nil {
		t.Fatalf("node not ready: %v", err)
	}
	return n
}

// URL is the server's HTTP base URL.
func (ts *testServer) URL() string { return "http://" + ts.addr }

func (ts *testServer) serve(ln net.Listener) {
	ts.t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.Logger = quietLogger()
	gw, err := gateway.New(ts.node, cfg)
	if err != nil {
		ts.t.Fatalf("gateway: %v", err)
	}
	ts.gw, ts.srv, ts.done = gw, gateway.NewHTTPServer(ts.addr, gw, cfg), make(chan error, 1)
	go func(srv *http.Server, done chan<- error) { done <- srv.Serve(ln) }(ts.srv, ts.done)
}

// stopHTTP shuts the gateway down (WebSockets close with 1001) and the HTTP
// server with it; the node keeps running.
func (ts *testServer) stopHTTP() {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.gw.Shutdown(ctx); err != nil {
		ts.t.Errorf("gateway shutdown: %v", err)
	}
	if err := ts.srv.Shutdown(ctx); err != nil {
		ts.t.Errorf("http shutdown: %v", err)
	}
	if err := <-ts.done; !errors.Is(err, http.ErrServerClosed) {
		ts.t.Errorf("serve: %v", err)
	}
	ts.srv = nil
}

// startHTTP serves a new gateway on the same address again.
func (ts *testServer) startHTTP() {
	ts.t.Helper()
	var ln net.Listener
	err := poll(10*time.Second, func() (err error) {
		ln, err = net.Listen("tcp", ts.addr)
		return err
	})
	if err != nil {
		ts.t.Fatalf("listen again on %s: %v", ts.addr, err)
	}
	ts.serve(ln)
}

// poll calls fn every 20 ms until it returns nil or within passes.
func poll(within time.Duration, fn func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
