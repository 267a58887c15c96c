package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
)

// snapshotsRetained is how many snapshots the file snapshot store keeps.
const snapshotsRetained = 2

// group is one Raft group: its stores, transport, raft instance, FSM over a
// queue.State, group commit and leader-only work. A Node hosts one group
// now; sharding queues over several groups will give a Node several (each
// with its own directory under DataDir/raft and, once a transport can be
// multiplexed, a shared listener).
//
// Goroutines: raft's own; the batcher's two; watchLeadership and, while
// leader, lead. close stops all of them.
type group struct {
	nodeID  string
	session string
	log     *slog.Logger

	logs       *countingLogStore
	wal        *walStore
	snaps      *raft.FileSnapshotStore
	transport  *raft.NetworkTransport
	rtrans     *raftTransport // transport as raft sees it: the relay with the heartbeat, commit and vote rules (rafttransport.go)
	guard      *voteGuard
	peers      *peerNet // the node-to-node transport: raft's stream layer and forwarding's dialer and listener
	fsm        *fsm
	raft       *raft.Raft
	batcher    *batcher
	fwd        *forwarder                      // a follower's proposals to the leader (forward.go)
	fwdServer  *fwdServer                      // the leader's end of forwarding
	appliedSig *appliedSignal                  // wakes proposers waiting for their entry to apply here
	gone       *goneWorker                     // nodes to clean up after (forward_gone.go)
	deadNodes  atomic.Pointer[func() []string] // gossip's dead nodes, once membership runs

	failed    chan error            // the log store's or message store's failure, after raft stopped (capacity 1)
	storeErr  atomic.Pointer[error] // the message store's failure (Ready reports it)
	notify    chan bool             // raft's leadership notifications
	kick      chan struct{}         // wakes the timers after an apply (capacity 1)
	stop      chan struct{}         // closed by close
	wg        sync.WaitGroup
	resetDone atomic.Bool // ResetNode of this session applied
	// quarantined: this data dir once held Raft state that had to be moved
	// aside (damaged.go); the node re-syncs from its peers and never
	// bootstraps. Set before start, read-only afterwards.
	quarantined bool
	closeOnce   sync.Once
	closeErr    error
}

// openGroup opens the stores under dir, starts raft, bootstraps a
// single-voter configuration when asked and there is no Raft state, and
// starts the group's goroutines. On error everything opened is closed.
func openGroup(cfg Config, session, dir string) (*group, error) {
	log := cfg.logger().With("node", cfg.NodeID)
	g := &group{
		nodeID: cfg.NodeID, session: session, log: log,
		failed: make(chan error, 1), notify: make(chan bool, 1), kick: make(chan struct{}, 1), stop: make(chan struct{}),
		appliedSig: newAppliedSignal(), gone: newGoneWorker(),
	}
	if err := g.open(cfg, dir); err != nil {
		if g.raft != nil {
			_ = g.raft.Shutdown().Error()
		}
		if g.fsm != nil {
			_ = g.fsm.close()
		}
		_ = g.closeStores() // the open error is the one worth reporting
		return nil, err
	}
	g.start(cfg)
	return g, nil
}

// open opens the stores and starts raft, bootstrapping when asked.
func (g *group) open(cfg Config, dir string) error {
	if err := g.openStores(cfg, dir); err != nil {
		return err
	}
	stores, err := cfg.stateStores(dir)
	if err != nil {
		return err
	}
	fsm, err := newFSM(stores, g.log, g.afterApply)
	if err != nil {
		return err
	}
	g.fsm = fsm
	cached, err := raft.NewLogCache(logCacheEntries, g.logs)
	if err != nil {
		return fmt.Errorf("log cache: %w", err)
	}
	hasState, err := raft.HasExistingState(cached, g.wal, g.snaps)
	if err != nil {
		return fmt.Errorf("check raft state: %w", err)
	}
	if g.wal.tailDamaged {
		g.log.Warn("the Raft log's tail was damaged on disk: not voting or campaigning until caught up with a leader")
	}
	g.guard = newVoteGuard(cached, g.log, !hasState || g.wal.tailDamaged)
	g.rtrans = newRaftTransport(g.transport, g.guard, cfg.NodeID)
	g.raft, err = raft.NewRaft(cfg.raftConfig(g.notify, g.log), g.fsm, cached, g.wal, g.snaps, g.rtrans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	g.rtrans.setRaft(g.raft)
	return g.bootstrap(cfg.Bootstrap, hasState)
}

// openStores opens the log, stable and snapshot stores and the transport.
// Damaged Raft state (ErrDamagedState) is moved aside when the node has
// peers to re-sync from (gossip on); a single node refuses to start on it.
func (g *group) openStores(cfg Config, dir string) error {
	hclogger := newHCLogger(g.log, cfg.RaftLogLevel, "raft")
	err := g.openDisk(cfg, dir, hclogger)
	if errors.Is(err, ErrDamagedState) && cfg.GossipBind != "" {
		err = g.quarantineAndReopen(cfg, dir, hclogger, err)
	}
	if err != nil {
		return err
	}
	g.quarantined = g.quarantined || wasQuarantined(dir)
	if g.peers, err = listenPeers(cfg, g.log); err != nil {
		return err
	}
	g.transport = g.peers.raftNetwork(hclogger.Named("transport"))
	return nil
}

// openDisk opens the log and snapshot stores and checks that the log
// continues from the snapshot raft will restore.
func (g *group) openDisk(cfg Config, dir string, hclogger hclog.Logger) error {
	w, err := openLogStore(filepath.Join(dir, "wal"), cfg.SegmentBytes, hclogger.Named("wal"))
	if err != nil {
		return err
	}
	g.wal = w
	g.logs = newCountingLogStore(w)
	g.snaps, err = raft.NewFileSnapshotStoreWithLogger(dir, snapshotsRetained, hclogger.Named("snapshots"))
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	if err := checkContinuity(g.wal, g.snaps, g.log); err != nil {
		return fmt.Errorf("%w; data dir %s", err, cfg.DataDir)
	}
	return nil
}

// quarantineAndReopen moves the damaged Raft directory aside and opens an
// empty one: the node comes back like one whose volume was lost, is demoted
// by the leader until it has caught up, and never bootstraps.
func (g *group) quarantineAndReopen(cfg Config, dir string, hclogger hclog.Logger, damage error) error {
	if err := g.closeStores(); err != nil {
		return errors.Join(damage, err)
	}
	g.wal = nil
	to, err := quarantine(dir)
	if err != nil {
		return errors.Join(damage, err)
	}
	g.log.Error("Raft state damaged: moved aside, re-syncing from the cluster (remove the moved dir once inspected)",
		"err", damage, "movedTo", to)
	g.quarantined = true
	return g.openDisk(cfg, dir, hclogger)
}

// bootstrap forms a single-voter cluster of this node, only when asked and
// when the node has no Raft state: a node that has state never bootstraps again.
func (g *group) bootstrap(want, hasState bool) error {
	if !want || hasState || g.quarantined {
		g.log.Info("starting raft", "bootstrap", false, "existingState", hasState)
		return nil
	}
	g.log.Info("bootstrapping a single-voter cluster", "address", g.transport.LocalAddr())
	conf := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter,
		ID:       raft.ServerID(g.nodeID),
		Address:  g.transport.LocalAddr(),
	}}}
	if err := g.raft.BootstrapCluster(conf).Error(); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	g.guard.lift("bootstrapped a single-voter cluster")
	return nil
}

// start launches the group commit, forwarding (both ends), the leadership
// watcher, the reset of this node's previous runs and the gone-node clean-up.
func (g *group) start(cfg Config) {
	g.batcher = newBatcher(g.raft, cfg, g.log)
	g.batcher.start()
	g.fwd = newForwarder(g, cfg)
	g.fwd.start()
	g.fwdServer = newFwdServer(g)
	g.peers.setForwardHandler(g.fwdServer.handle)
	g.fsm.observe(restoreSignal{g.appliedSig})
	for _, run := range []func(){g.watchLeadership, g.resetOwnRuns, g.cleanUpGone, g.failStop} {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			run()
		}()
	}
}

// propose sends cmd through the group commit when this node is the leader,
// and forwards it to the leader otherwise (forward.go).
func (g *group) propose(ctx context.Context, cmd queue.Command) (queue.Result, error) {
	select {
	case <-g.stop:
		return queue.Result{}, ErrClosed
	default:
	}
	if g.raft.State() == raft.Leader {
		return g.batcher.propose(ctx, cmd)
	}
	return g.fwd.propose(ctx, cmd)
}

// close stops the leader work and the group commit (proposals in flight
// finish or fail, queued ones get ErrClosed), shuts raft down and closes the
// stores. Later calls return the first call's result.
func (g *group) close(ctx context.Context) error {
	g.closeOnce.Do(func() { g.closeErr = g.doClose(ctx) })
	return g.closeErr
}

func (g *group) doClose(ctx context.Context) error {
	close(g.stop)
	g.wg.Wait()
	g.fwd.close()
	errs := []error{g.batcher.close(ctx)}
	g.fwdServer.close()
	if err := g.raft.Shutdown().Error(); err != nil {
		errs = append(errs, fmt.Errorf("shut raft down: %w", err))
	}
	errs = append(errs, g.fsm.close(), g.closeStores())
	return errors.Join(errs...)
}

// failStop stops raft at the first failed log write (countingLogStore), so
// that the node neither campaigns nor votes with a log it cannot extend
// (its uncommitted tail would win it elections it cannot serve), or at the
// first failure of the message store (the state is half applied), then
// reports the failure on failed.
func (g *group) failStop() {
	var err error
	select {
	case <-g.stop:
		return
	case err = <-g.logs.failed:
		g.log.Error("the Raft log cannot be written: Raft stopped on this node; start it again once the disk is fixed", "err", err)
		err = fmt.Errorf("%w: %w", ErrLogStoreFailed, err)
	case err = <-g.fsm.failed:
		g.storeErr.Store(&err)
		err = fmt.Errorf("%w: %w", ErrStoreFailed, err)
	}
	if serr := g.raft.Shutdown().Error(); serr != nil {
		err = errors.Join(err, fmt.Errorf("shut raft down: %w", serr))
	}
	g.failed <- err
}

// closeStores closes the transport and the log store (whichever are open).
// Raft must be shut down (or never started).
func (g *group) closeStores() error {
	var errs []error
	if g.rtrans != nil {
		g.rtrans.closeRelay()
	}
	if g.transport != nil {
		g.transport.CloseStreams() // pooled outgoing connections; Close leaves them open
		if err := g.transport.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close transport: %w", err))
		}
	}
	if g.wal != nil {
		if err := g.wal.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close log store: %w", err))
		}
	}
	return errors.Join(errs...)
}
