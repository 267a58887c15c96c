package main

import (
	"context"
	"encoding/base64"
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
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

	gossipBind       string
	gossipAdvertise  string
	join             string
	bootstrapExpect  int
	gossipKeyFile    string
	heartbeatTimeout time.Duration
	electionTimeout  time.Duration
	gossipOn         bool // gossip runs: a cluster flag was given

	storage  storageFlags
	tls      tlsFlags
	socketIO gateway.SocketIOConfig
}

// storageFlags tune the Raft log and snapshots on disk.
type storageFlags struct {
	store             string
	segmentBytes      int
	snapshotInterval  time.Duration
	snapshotThreshold uint64
	trailingLogs      uint64
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
CARRIER_LISTEN; the gossip key can also be given base64 in CARRIER_GOSSIP_KEY.

Clustering: --bootstrap-expect N forms one cluster once N empty nodes see
each other through gossip (--join lists peers' gossip addresses or DNS names,
re-resolved until joined). A node with --join and no --bootstrap-expect waits
to be added to an existing cluster; new members join as nonvoters and are
promoted once caught up. Gossip runs only when --join, --bootstrap-expect or
--gossip-bind is given.

SIGINT or SIGTERM stops the server cleanly: it stops accepting connections,
hands leadership to another voter if it leads, drains, leaves gossip and
closes, staying a member of the cluster.

Exit codes: 0 after a clean stop, 2 for a usage error, 3 when the node
stopped because its Raft log could not be written (disk full, I/O error;
start it again once the disk is fixed: it reopens its log from disk and
catches up), 1 for any other error.`,
		Example: `  carrier serve
  carrier serve --data /var/lib/carrier --listen 0.0.0.0:7420
  carrier serve --node-id n1 --raft-advertise carrier-0.carrier:7421 \
      --gossip-bind 0.0.0.0:7422 --join carrier.default.svc:7422 --bootstrap-expect 3
  CARRIER_LOG_LEVEL=debug carrier serve`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.gossipOn = hasFlag(cmd.Flags(), "gossip-bind")
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
		"bytes of messages all queues may store together: on disk with --store disk, in memory with --store memory (then keep it under the node's memory limit)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	clusterFlags(fl, f)
	storageFlagSet(fl, &f.storage)
	tlsFlagSet(fl, &f.tls)
	socketIOFlagSet(fl, &f.socketIO)
	return cmd
}

// socketIOFlagSet are the flags of the socket.io endpoint (/socket.io/).
func socketIOFlagSet(fl *pflag.FlagSet, c *gateway.SocketIOConfig) {
	d := gateway.DefaultConfig().SocketIO
	fl.StringVar(&c.DefaultQueue, "socketio-default-queue", d.DefaultQueue, "queue of socket.io's main namespace \"/\"")
	fl.DurationVar(&c.PingInterval, "socketio-ping-interval", d.PingInterval, "socket.io: the server pings every client this often")
	fl.DurationVar(&c.PingTimeout, "socketio-ping-timeout", d.PingTimeout, "socket.io: a client that has not answered a ping after this long is disconnected")
	fl.Int64Var(&c.MaxPayload, "socketio-max-payload", d.MaxPayload, "socket.io: largest HTTP POST body or WebSocket message a client may send, in bytes")
	fl.IntVar(&c.MaxSessions, "socketio-max-sessions", d.MaxSessions, "socket.io sessions this node serves at most")
}

// storageFlagSet are the flags of the on-disk Raft state.
func storageFlagSet(fl *pflag.FlagSet, f *storageFlags) {
	def := cluster.DefaultConfig()
	fl.StringVar(&f.store, "store", cluster.StoreDisk, "where queue messages are kept: disk (segment files under DATA/raft/store) or memory")
	fl.IntVar(&f.segmentBytes, "raft-segment-bytes", 64<<20, "size of one Raft log segment file, preallocated (at least 2 MiB)")
	fl.DurationVar(&f.snapshotInterval, "snapshot-interval", def.SnapshotInterval, "how often to check whether a snapshot is due")
	fl.Uint64Var(&f.snapshotThreshold, "snapshot-threshold", def.SnapshotThreshold, "log entries since the last snapshot that make one due")
	fl.Uint64Var(&f.trailingLogs, "trailing-logs", def.TrailingLogs, "log entries kept after a snapshot for followers that lag")
}

// apply sets cfg's storage fields.
func (f storageFlags) apply(cfg *cluster.Config) {
	cfg.SegmentBytes = f.segmentBytes
	cfg.Store = f.store
	cfg.SnapshotInterval, cfg.SnapshotThreshold, cfg.TrailingLogs = f.snapshotInterval, f.snapshotThreshold, f.trailingLogs
}

// clusterFlags are the flags of the cluster contract (gossip, join,
// bootstrap, failover timers).
func clusterFlags(fl *pflag.FlagSet, f *serveFlags) {
	def := cluster.DefaultConfig()
	fl.StringVar(&f.gossipBind, "gossip-bind", "127.0.0.1:7422", "host:port gossip (memberlist, TCP and UDP) listens on")
	fl.StringVar(&f.gossipAdvertise, "gossip-advertise", "", "host:port other nodes reach gossip at (default: --gossip-bind)")
	fl.StringVar(&f.join, "join", "", "comma-separated gossip addresses or DNS names of peers (host:port), re-resolved until joined")
	fl.IntVar(&f.bootstrapExpect, "bootstrap-expect", 0, "form one cluster when this many empty nodes see each other (0: single node, or wait to be added with --join)")
	fl.StringVar(&f.gossipKeyFile, "gossip-key-file", "", "file holding the base64 gossip encryption key (16, 24 or 32 bytes; or $CARRIER_GOSSIP_KEY)")
	fl.DurationVar(&f.heartbeatTimeout, "heartbeat-timeout", def.HeartbeatTimeout, "Raft heartbeat timeout (a follower without contact this long starts an election)")
	fl.DurationVar(&f.electionTimeout, "election-timeout", def.ElectionTimeout, "Raft election timeout")
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
	log.Info("starting", "node", id, "version", version, "revision", buildRevision())
	if err := f.tls.checkListener(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.listen, err)
	}
	tln, err := f.tls.listener(ln, log)
	if err != nil {
		ln.Close()
		return err
	}
	ln = &onceCloseListener{Listener: tln}
	node, err := openNode(a, f, id, f.tls.scheme()+"://"+publicAddr(ln.Addr(), f.raftAdvertise), log)
	if err != nil {
		ln.Close()
		return err
	}
	gcfg := gateway.DefaultConfig()
	gcfg.AutoCreate, gcfg.Logger = f.autoCreate, log
	gcfg.MaxStoreBytes = f.maxStoreBytes
	if gcfg.LeaderClient, err = f.tls.leaderClient(); err != nil {
		ln.Close()
		return errors.Join(err, closeNode(node))
	}
	gcfg.SocketIO = f.socketIO
	gw, err := gateway.New(node, gcfg)
	if err != nil {
		ln.Close()
		return errors.Join(fmt.Errorf("start gateway: %w", err), closeNode(node))
	}
	srv := gateway.NewHTTPServer(f.listen, gw, gcfg)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	err = a.awaitStop(ctx, node, served, f.tls.scheme()+"://"+publicAddr(ln.Addr(), ""), f.data, log)
	return errors.Join(err, shutdown(ln, gw, srv, node, log))
}

func openNode(a *app, f *serveFlags, id, apiURL string, log *slog.Logger) (*cluster.Node, error) {
	cfg := cluster.DefaultConfig()
	cfg.NodeID, cfg.DataDir, cfg.Logger = id, f.data, log
	cfg.RaftBind, cfg.RaftAdvertise = f.raftBind, f.raftAdvertise
	f.storage.apply(&cfg)
	f.tls.applyPeer(&cfg)
	// Bootstrap a single node only when the data dir has no Raft state yet,
	// and only without --join or --bootstrap-expect.
	if err := clusterConfig(a, f, &cfg); err != nil {
		return nil, err
	}
	if err := f.tls.checkPeer(cfg.GossipBind != "", cfg.GossipKey); err != nil {
		return nil, err
	}
	cfg.APIAddress, cfg.Version = apiURL, version
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
	var watch removalWatch
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			return nil
		case err := <-served:
			return fmt.Errorf("http server: %w", err)
		case err := <-node.Failed():
			return fmt.Errorf("node stopped: %w", err)
		case <-ready.C:
			watch.check(node, log)
			if !announced && node.Ready() == nil {
				announced = true
				ready.Reset(time.Second) // from now on only the removal watch
				log.Info("ready", "url", url, "node", node.ID(), "data", data)
				fmt.Fprintf(a.stdout, "Carrier is ready at %s (node %s, data in %s). Press Ctrl-C to stop.\n", url, node.ID(), data)
			}
		}
	}
}

// removalWatch tells the operator, once, that this node was taken out of
// the Raft configuration (cluster remove or leave) while it keeps running.
type removalWatch struct {
	member, warned bool
}

func (w *removalWatch) check(node *cluster.Node, log *slog.Logger) {
	in := false
	for _, m := range node.Status().Members {
		if m.ID == node.ID() {
			in = m.Suffrage == "Voter" || m.Suffrage == "Nonvoter"
		}
	}
	switch {
	case in:
		w.member, w.warned = true, false
	case w.member && !w.warned:
		w.warned = true
		log.Warn("this node was removed from the cluster's Raft configuration: it no longer takes part in the cluster and is not ready; stop it, or add it back with POST /v1/cluster/members on a member (its data is kept)",
			"node", node.ID())
	}
}

// shutdown stops accepting connections, hands leadership over if this
// node leads, closes WebSockets (their group members leave), finishes HTTP
// requests, leaves gossip, then closes the node (which stays a Raft
// member), within 30 s.
func shutdown(ln net.Listener, gw *gateway.Gateway, srv *http.Server, node *cluster.Node, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if err := ln.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close listener: %w", err))
	}
	if err := transferLeadership(ctx, node); err != nil {
		log.Warn("leadership not transferred", "err", err) // closing anyway: an election follows
	}
	if err := gw.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway shutdown: %w", err))
	}
	if err := srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := node.LeaveGossip(); err != nil {
		errs = append(errs, fmt.Errorf("leave gossip: %w", err))
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

// publicAddr is the host:port people type for the listener: an
// unspecified host (0.0.0.0, ::) is shown as the host of advertise (a
// host:port other nodes reach this one at) when given, else as 127.0.0.1.
func publicAddr(addr net.Addr, advertise string) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
		if h, _, err := net.SplitHostPort(advertise); err == nil && h != "" {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
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

// clusterConfig sets cfg's membership fields from the cluster flags.
func clusterConfig(a *app, f *serveFlags, cfg *cluster.Config) error {
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = f.heartbeatTimeout, f.electionTimeout
	cfg.LeaderLeaseTimeout = min(cfg.LeaderLeaseTimeout, f.heartbeatTimeout)
	cfg.Join = splitList(f.join)
	cfg.BootstrapExpect = f.bootstrapExpect
	cfg.Bootstrap = len(cfg.Join) == 0 && f.bootstrapExpect == 0
	if !f.gossipOn && len(cfg.Join) == 0 && f.bootstrapExpect == 0 {
		return nil // a single node without gossip, as before clustering
	}
	cfg.GossipBind, cfg.GossipAdvertise = f.gossipBind, f.gossipAdvertise
	key, err := gossipKey(a, f.gossipKeyFile)
	if err != nil {
		return err
	}
	cfg.GossipKey = key
	return nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// gossipKey reads the base64 key from file, else from $CARRIER_GOSSIP_KEY;
// nil when neither is set.
func gossipKey(a *app, file string) ([]byte, error) {
	text, from := "", "$CARRIER_GOSSIP_KEY"
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read gossip key: %w", err)
		}
		text, from = string(b), file
	} else if v, ok := a.getenv("CARRIER_GOSSIP_KEY"); ok {
		text = v
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("gossip key in %s is not base64: %w", from, err)
	}
	return key, nil
}

// transferLeadership hands leadership over, bounded by 10 s within ctx.
func transferLeadership(ctx context.Context, node *cluster.Node) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return node.TransferLeadership(ctx)
}

// onceCloseListener lets shutdown stop accepting before http.Server.Shutdown
// closes the listener again.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
