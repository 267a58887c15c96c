package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/carriermq/carrier/cluster"
	"github.com/carriermq/carrier/gateway"
)

type serveFlags struct {
	data          string
	listen        string
	raftBind      string
	raftAdvertise string
	nodeID        string
	autoCreate    bool
	maxStoreBytes int64
	logLevel      string
}

// nodeIDFile keeps the node id in the data dir, so a restart is the same
// Raft server even if the hostname changed.
const nodeIDFile = "node-id"

func (a *app) serveCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Carrier server (one node, data on local disk)",
		Long: `Run a Carrier node. With no flags it is a single-node server: data in
./carrier-data, HTTP and WebSocket API on 127.0.0.1:7420, Raft on
127.0.0.1:7421. The first start creates the cluster; later starts on the same
data dir recover every confirmed message.

The node id is kept in DATA/node-id (first set from --node-id or the
hostname) and must not change for a data dir. Every flag can also be set
with an environment variable CARRIER_<FLAG>, e.g. CARRIER_DATA or
CARRIER_LISTEN. SIGINT or SIGTERM stops the server cleanly.`,
		Example: `  carrier serve
  carrier serve --data /var/lib/carrier --listen 0.0.0.0:7420
  CARRIER_LOG_LEVEL=debug carrier serve`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", "carrier-data", "data directory (Raft log, snapshots, node id)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:7420", "host:port of the HTTP and WebSocket API")
	fl.StringVar(&f.raftBind, "raft-bind", "127.0.0.1:7421", "host:port the Raft transport listens on")
	fl.StringVar(&f.raftAdvertise, "raft-advertise", "", "host:port other nodes dial for Raft (default: --raft-bind)")
	fl.StringVar(&f.nodeID, "node-id", "", "stable node name (default: from DATA/node-id, else the hostname)")
	fl.BoolVar(&f.autoCreate, "auto-create", true, "create a queue on its first publish or subscribe")
	fl.Int64Var(&f.maxStoreBytes, "max-store-bytes", gateway.DefaultConfig().MaxStoreBytes,
		"bytes all queues may store together (messages are held in memory; keep it under the node's memory limit)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func (a *app) serve(ctx context.Context, f *serveFlags) error {
	log, err := newLogger(a, f.logLevel)
	if err != nil {
		return err
	}
	id, err := resolveNodeID(f.data, f.nodeID)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.listen, err)
	}
	node, err := openNode(f, id, log)
	if err != nil {
		ln.Close()
		return err
	}
	gcfg := gateway.DefaultConfig()
	gcfg.AutoCreate, gcfg.Logger = f.autoCreate, log
	gcfg.MaxStoreBytes = f.maxStoreBytes
	gw, err := gateway.New(node, gcfg)
	if err != nil {
		ln.Close()
		return errors.Join(fmt.Errorf("start gateway: %w", err), closeNode(node))
	}
	srv := gateway.NewHTTPServer(f.listen, gw, gcfg)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	err = a.awaitStop(ctx, node, served, publicURL(ln.Addr()), f.data, log)
	return errors.Join(err, shutdown(gw, srv, node, log))
}

func openNode(f *serveFlags, id string, log *slog.Logger) (*cluster.Node, error) {
	cfg := cluster.DefaultConfig()
	cfg.NodeID, cfg.DataDir, cfg.Logger = id, f.data, log
	cfg.RaftBind, cfg.RaftAdvertise = f.raftBind, f.raftAdvertise
	cfg.Bootstrap = true // only when the data dir has no Raft state yet
	node, err := cluster.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("start node %s: %w", id, err)
	}
	return node, nil
}

// awaitStop announces the server once the node is ready and returns when ctx
// ends (a signal) or the HTTP server fails.
func (a *app) awaitStop(ctx context.Context, node *cluster.Node, served <-chan error, url, data string, log *slog.Logger) error {
	ready := time.NewTicker(50 * time.Millisecond)
	defer ready.Stop()
	announced := false
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			return nil
		case err := <-served:
			return fmt.Errorf("http server: %w", err)
		case <-ready.C:
			if !announced && node.Ready() == nil {
				announced = true
				ready.Stop()
				log.Info("ready", "url", url, "node", node.ID(), "data", data)
				fmt.Fprintf(a.stdout, "Carrier is ready at %s (node %s, data in %s). Press Ctrl-C to stop.\n", url, node.ID(), data)
			}
		}
	}
}

// shutdown stops accepting, closes WebSockets (their group members leave),
// finishes HTTP requests, then closes the node, within 30 s.
func shutdown(gw *gateway.Gateway, srv *http.Server, node *cluster.Node, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if err := gw.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway shutdown: %w", err))
	}
	if err := srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := node.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("node close: %w", err))
	}
	log.Info("stopped")
	return errors.Join(errs...)
}

func closeNode(node *cluster.Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return node.Close(ctx)
}

func newLogger(a *app, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{err: fmt.Errorf("--log-level %q: want debug, info, warn or error", level), path: "carrier serve"}
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: l})), nil
}

// publicURL is the URL people type for the listener: an unspecified host
// (0.0.0.0, ::) is shown as 127.0.0.1.
func publicURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// resolveNodeID returns the data dir's node id, creating the dir and the
// id file on first start (from flag, else the hostname). A flag that
// contradicts the stored id is an error: Raft knows the node by it.
func resolveNodeID(dataDir, flag string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dataDir, nodeIDFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		stored := strings.TrimSpace(string(b))
		if flag != "" && flag != stored {
			return "", fmt.Errorf("data dir %s belongs to node %q, not %q (use that id or another data dir)", dataDir, stored, flag)
		}
		return stored, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read node id: %w", err)
	}
	id := flag
	if id == "" {
		id = hostnameID()
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o640); err != nil {
		return "", fmt.Errorf("write node id: %w", err)
	}
	return id, nil
}

var badIDChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func hostnameID() string {
	h, err := os.Hostname()
	h = strings.Trim(badIDChars.ReplaceAllString(h, "-"), "-.")
	if err != nil || h == "" {
		return "carrier-1"
	}
	return h
}
