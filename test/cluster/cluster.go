package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/carriermq/carrier/client"
)

// Options describe a cluster to start.
type Options struct {
	Bin  string // the carrier binary (Build, or os.Executable in the CLI)
	Dir  string // holds each node's data dir and log; the caller removes it
	Size int    // nodes started at once with --bootstrap-expect Size
	// Failover knobs passed to every node when set.
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	LogLevel         string   // default "debug"
	ExtraArgs        []string // more serve flags for every node
	// Prepare, when set, is called for each node New creates, before any
	// starts (for example to mount a size-limited disk on its directory).
	Prepare func(*Node) error
	// NodeID, when set, names the i-th node created (1 for the first), for
	// example "orders-0" as a StatefulSet names its pods; default "n<i>".
	NodeID func(i int) string
	// TLS, when set, turns on TLS on every node's client listener and
	// mutual TLS between nodes, with certificates of TLS.CA (tls.go).
	TLS *TLS
}

// Cluster is a set of nodes started together. Methods are safe for
// concurrent use. Close kills every process it started.
type Cluster struct {
	opts  Options
	mu    sync.Mutex
	alloc *allocator
	nodes []*Node
	seq   int // nodes ever created, for ids n1, n2, …
}

// New creates a cluster of opts.Size nodes and starts them all at once,
// each with --bootstrap-expect Size and --join naming the others. It does
// not wait for readiness (WaitReady).
func New(opts Options) (*Cluster, error) {
	if opts.LogLevel == "" {
		opts.LogLevel = "debug"
	}
	c := &Cluster{opts: opts, alloc: newAllocator()}
	var nodes []*Node
	for range opts.Size {
		n, err := c.newNode()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		n.args = c.serveArgs(n, joinList(nodes, n), opts.Size)
	}
	c.nodes = nodes
	for _, n := range nodes {
		if opts.Prepare == nil {
			continue
		}
		if err := opts.Prepare(n); err != nil {
			return nil, fmt.Errorf("prepare node %s: %w", n.ID, err)
		}
	}
	for _, n := range nodes {
		if err := n.Start(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// AddressesAreAliases reports whether nodes have their own loopback IPs
// (rather than ports on 127.0.0.1).
func (c *Cluster) AddressesAreAliases() bool { return c.alloc.aliases }

// newNode creates (not starts) the next node. c.mu not held.
func (c *Cluster) newNode() (*Node, error) { return c.newNodeWith(c.opts.TLS) }

// newNodeWith creates (not starts) the next node, with the certificates of
// t (nil: plain HTTP).
func (c *Cluster) newNodeWith(t *TLS) (*Node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, err := c.alloc.take()
	if err != nil {
		return nil, err
	}
	c.seq++
	id := fmt.Sprintf("n%d", c.seq)
	if c.opts.NodeID != nil {
		id = c.opts.NodeID(c.seq)
	}
	scheme := "http"
	if t != nil {
		scheme = "https"
		if _, err := t.Issue(id, a.IP); err != nil {
			return nil, fmt.Errorf("certificate of node %s: %w", id, err)
		}
	}
	admin, err := client.NewAdmin(scheme+"://"+a.API, t.httpClient(10*time.Second))
	if err != nil {
		return nil, err
	}
	return &Node{ID: id, Addrs: a, DataDir: filepath.Join(c.opts.Dir, id, "data"),
		LogPath: filepath.Join(c.opts.Dir, id+".log"), bin: c.opts.Bin, admin: admin,
		scheme: scheme, tls: t}, nil
}

func joinList(nodes []*Node, self *Node) []string {
	var out []string
	for _, n := range nodes {
		if n != self {
			out = append(out, n.Addrs.Gossip)
		}
	}
	return out
}

// serveArgs are the flags of the shared contract for n.
func (c *Cluster) serveArgs(n *Node, join []string, expect int) []string {
	args := []string{"serve", "--node-id", n.ID, "--data", n.DataDir,
		"--listen", n.Addrs.API, "--raft-bind", n.Addrs.Raft, "--gossip-bind", n.Addrs.Gossip,
		"--log-level", c.opts.LogLevel}
	if len(join) > 0 {
		args = append(args, "--join", strings.Join(join, ","))
	}
	if expect > 0 {
		args = append(args, "--bootstrap-expect", fmt.Sprint(expect))
	}
	if d := c.opts.HeartbeatTimeout; d > 0 {
		args = append(args, "--heartbeat-timeout", d.String())
	}
	if d := c.opts.ElectionTimeout; d > 0 {
		args = append(args, "--election-timeout", d.String())
	}
	if c.opts.TLS != nil {
		args = append(args, c.opts.TLS.args(n.ID)...)
	}
	return append(args, c.opts.ExtraArgs...)
}

// Nodes returns every node created, in creation order.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// Running returns the nodes whose process is alive.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes() {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

// URLs returns the HTTP URLs of the given nodes (all nodes when none given).
func (c *Cluster) URLs(nodes ...*Node) []string {
	if len(nodes) == 0 {
		nodes = c.Nodes()
	}
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.URL()
	}
	return out
}

// Add creates and starts a new empty node that joins the running cluster
// through gossip (no --bootstrap-expect: it must never form a cluster of
// its own). It does not wait for readiness.
func (c *Cluster) Add() (*Node, error) {
	join := make([]string, 0)
	for _, n := range c.Nodes() {
		join = append(join, n.Addrs.Gossip)
	}
	n, err := c.newNode()
	if err != nil {
		return nil, err
	}
	n.args = c.serveArgs(n, join, 0)
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	return n, n.Start()
}

// Close kills every running node and waits for them.
func (c *Cluster) Close() {
	for _, n := range c.Nodes() {
		n.Kill()
	}
}

// WaitReady waits until every given node (all running nodes when none
// given) answers /readyz with 200.
func (c *Cluster) WaitReady(ctx context.Context, nodes ...*Node) error {
	if len(nodes) == 0 {
		nodes = c.Running()
	}
	for _, n := range nodes {
		if err := n.WaitReady(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Leader polls the running nodes until they agree on one leader: exactly
// one claims to lead, and every other running node names it. It returns it.
func (c *Cluster) Leader(ctx context.Context) (*Node, error) {
	var leader *Node
	err := Poll(ctx, 50*time.Millisecond, func() error {
		var err error
		leader, err = c.agreedLeader(ctx)
		return err
	})
	return leader, err
}

func (c *Cluster) agreedLeader(ctx context.Context) (*Node, error) {
	running := c.Running()
	if len(running) == 0 {
		return nil, ErrStop{Err: errors.New("no node is running")}
	}
	byID := map[string]*Node{}
	var ids []string
	for _, n := range running {
		st, err := n.Status(ctx)
		if err != nil {
			return nil, err
		}
		byID[n.ID] = n
		ids = append(ids, st.Leader)
		if st.State == "Leader" && st.Leader != n.ID {
			return nil, fmt.Errorf("node %s leads but names leader %q", n.ID, st.Leader)
		}
	}
	for _, id := range ids {
		if id == "" || id != ids[0] {
			return nil, fmt.Errorf("nodes disagree on the leader: %v", ids)
		}
	}
	if l, ok := byID[ids[0]]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("leader %q is not a running node", ids[0])
}

// Node returns the node with id, or nil.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes() {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// Remove asks via (any running node) to remove member id from the Raft
// configuration: POST /v1/cluster/members/{id}/remove.
func (c *Cluster) Remove(ctx context.Context, via *Node, id string) error {
	return post(ctx, c.opts.TLS, via.URL()+"/v1/cluster/members/"+url.PathEscape(id)+"/remove", nil)
}

// Leave asks n to leave the cluster: POST /v1/cluster/leave.
func (c *Cluster) Leave(ctx context.Context, n *Node) error {
	return post(ctx, c.opts.TLS, n.URL()+"/v1/cluster/leave", nil)
}

// ReAdd explicitly adds a removed node back (as a non-voter, promoted once
// caught up): POST /v1/cluster/members.
func (c *Cluster) ReAdd(ctx context.Context, via, n *Node) error {
	body := map[string]string{"id": n.ID, "raftAddress": n.Addrs.Raft}
	return post(ctx, c.opts.TLS, via.URL()+"/v1/cluster/members", body)
}

func post(ctx context.Context, t *TLS, u string, in any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.httpClient(0).Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: HTTP %d: %s", u, resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

// DumpLogs writes the tail of every node's log to w.
func (c *Cluster) DumpLogs(w io.Writer, max int) {
	for _, n := range c.Nodes() {
		fmt.Fprintf(w, "----- node %s (%s) log tail -----\n%s\n", n.ID, n.Addrs.API, n.LogTail(max))
	}
}
