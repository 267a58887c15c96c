package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
)

// Forwarding settings.
const (
	// forwardWindow is how many forward requests one connection keeps in
	// flight (pipelining); the sender blocks beyond it.
	forwardWindow = 64
	// forwardDialTimeout bounds one connection attempt to the leader.
	forwardDialTimeout = time.Second
	// forwardRetry is the pause between attempts to find and reach a leader.
	forwardRetry = 20 * time.Millisecond
)

// errConnDead: the request was not written because the connection had
// already failed; it may be sent again on a new one.
var errConnDead = errors.New("forward connection closed")

// forwarder sends the proposals of a follower to the leader. Proposers
// enqueue on pack (a batcher used only as a packing queue: it is never
// started, it has no raft); one goroutine (run) packs every proposal
// waiting into one forward request, up to the batch limits, and writes it
// on a persistent connection to the leader; the connection's reader answers
// each proposal with the leader's outcome. Many requests are in flight per
// connection (forwardWindow), and requests keep their order on the wire, so
// the commands of one connection enter the leader's batcher in order.
//
// When this node is the leader by the time a batch is sent, the batch goes
// to the local batcher instead. With no leader known, a batch waits up to
// leaderWait for one, then fails with ErrNotLeader.
//
// Lifetime: start launches run; close stops it, closes the connection
// (requests in flight get ErrClosed and ErrUnknownOutcome), answers the
// queued proposals with ErrClosed and waits for every goroutine.
type forwarder struct {
	g          *group
	log        *slog.Logger
	pack       *batcher
	leaderWait time.Duration
	grace      time.Duration           // how long a connection to a former leader may still answer
	conn       *fwdConn                // owned by run
	current    atomic.Pointer[fwdConn] // conn, for watchLeader
	observer   *raft.Observer          // leader changes, for watchLeader
	changes    chan raft.Observation   // observer's channel
	retiring   chan *fwdConn           // connections to former leaders, closed after grace by watchLeader
	loops      sync.WaitGroup          // run and watchLeader
	readers    sync.WaitGroup          // the connections' readLoops

	requests atomic.Uint64 // forward requests written
	commands atomic.Uint64 // commands in those requests
}

func newForwarder(g *group, cfg Config) *forwarder {
	return &forwarder{
		g:          g,
		log:        g.log.With("part", "forward"),
		pack:       newBatcher(nil, cfg, g.log),
		leaderWait: cfg.HeartbeatTimeout + 2*cfg.ElectionTimeout,
		grace:      cfg.ElectionTimeout,
		retiring:   make(chan *fwdConn, 16),
	}
}

func (f *forwarder) start() {
	f.changes = make(chan raft.Observation, 8)
	f.observer = raft.NewObserver(f.changes, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	f.g.raft.RegisterObserver(f.observer)
	for _, run := range []func(){f.run, f.watchLeader} {
		f.loops.Add(1)
		go func() {
			defer f.loops.Done()
			run()
		}()
	}
}

// close stops the forwarder; it must be called once, before the local
// batcher is closed (batches handed to it must still be answered).
func (f *forwarder) close() {
	close(f.pack.stop)
	f.g.raft.DeregisterObserver(f.observer)
	f.loops.Wait()
	for len(f.retiring) > 0 { // retired after watchLeader returned
		(<-f.retiring).close(errNodeClosing)
	}
	f.readers.Wait()
	f.pack.failQueued()
	close(f.pack.dead)
}

// propose forwards cmd and waits for its outcome, then, once it succeeded,
// until this node has applied the entry that carried it, so that a read on
// this node right after sees the write. If ctx ends during that last wait
// the command is committed: its result is returned all the same.
//
// A command the node named leader refused without proposing it (it was
// handing leadership over, or closing) is sent again, for up to leaderWait:
// a graceful leader change then costs the client a pause, not an error.
func (f *forwarder) propose(ctx context.Context, cmd queue.Command) (queue.Result, error) {
	deadline := time.Now().Add(f.leaderWait)
	for {
		p, err := f.pack.enqueue(ctx, cmd)
		if err != nil {
			return queue.Result{}, err
		}
		o := f.g.batcher.await(ctx, p)
		if errors.Is(o.err, errLeaderRefused) && time.Now().Before(deadline) {
			sleepCtx(ctx, forwardRetry)
			continue
		}
		if o.err != nil {
			return o.res, o.err
		}
		f.g.waitApplied(ctx, o.index)
		return o.res, nil
	}
}

// errNodeClosing answers requests in flight when the node closes.
var errNodeClosing = fmt.Errorf("%w (%w): node closing", ErrClosed, ErrUnknownOutcome)

// run packs and dispatches batches until stop is closed.
func (f *forwarder) run() {
	defer f.dropConn(errNodeClosing)
	for {
		first := f.pack.next()
		if first == nil {
			return
		}
		if batch := f.pack.collect(first); len(batch) > 0 {
			f.dispatch(batch)
		}
	}
}

// dispatch sends batch to the leader, retrying while no leader is known or
// reachable, up to leaderWait. Every proposal of batch is answered: by the
// connection, by the local batcher, or here.
func (f *forwarder) dispatch(batch []*proposal) {
	deadline := time.Now().Add(f.leaderWait)
	batch, data := f.pack.encode(0, batch) // answers the commands that cannot be encoded
	for len(batch) > 0 {
		if kept := dropExpired(batch); len(kept) != len(batch) {
			if batch = kept; len(batch) == 0 {
				return
			}
			_, data = f.pack.encode(0, batch) // cannot fail: each command encoded above
		}
		err := f.tryDispatch(batch, data)
		if err == nil {
			return
		}
		if f.stopping() {
			f.pack.fail(batch, ErrClosed)
			return
		}
		if time.Now().After(deadline) {
			f.pack.fail(batch, fmt.Errorf("%w: %w", ErrNotLeader, err))
			return
		}
		f.pause(forwardRetry)
	}
}

// tryDispatch makes one attempt; an error means batch was not sent. data
// is batch encoded as an entry.
func (f *forwarder) tryDispatch(batch []*proposal, data []byte) error {
	addr, id := f.g.raft.LeaderWithID()
	switch {
	case id == "":
		return errors.New("no leader known")
	case string(id) == f.g.nodeID:
		if f.g.raft.State() != raft.Leader {
			return errors.New("this node is named leader but is not leading yet")
		}
		f.proposeLocally(batch)
		return nil
	}
	c, err := f.connect(string(id), string(addr))
	if err != nil {
		return err
	}
	return c.send(batch, data, f.pack.stop)
}

// proposeLocally hands batch, in order, to this node's batcher, which
// answers each proposal.
func (f *forwarder) proposeLocally(batch []*proposal) {
	b := f.g.batcher
	for _, p := range batch {
		select {
		case b.queue <- p:
		case <-b.stop:
			p.done <- outcome{err: ErrClosed}
		}
	}
}

// connect returns the connection to leader id, dialing a new one when there
// is none or it failed, or the leader changed (the old connection is
// retired: it may answer its requests in flight for grace, then it is
// closed and those left end with ErrUnknownOutcome).
func (f *forwarder) connect(id, addr string) (*fwdConn, error) {
	if c := f.conn; c != nil {
		if c.leader == id && !c.isDead() {
			return c, nil
		}
		f.conn = nil
		f.current.Store(nil)
		f.retire(c)
	}
	nc, err := f.g.peers.dial(addr, forwardDialTimeout)
	if err != nil {
		return nil, fmt.Errorf("dial leader %s at %s: %w", id, addr, err)
	}
	if _, err := nc.Write([]byte{forwardStreamByte, forwardVersion}); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("open forward stream to %s: %w", id, err)
	}
	f.conn = newFwdConn(nc, id, f.log, &f.requests, &f.commands)
	f.current.Store(f.conn)
	f.readers.Add(1)
	go func(c *fwdConn) {
		defer f.readers.Done()
		c.readLoop()
	}(f.conn)
	return f.conn, nil
}

// dropConn closes the current connection, answering its requests in
// flight with err.
func (f *forwarder) dropConn(err error) {
	if f.conn != nil {
		f.conn.close(err)
		f.conn = nil
		f.current.Store(nil)
	}
}

// retire hands c, a connection to a former leader, to watchLeader, which
// closes it after grace (at once if too many are retiring).
func (f *forwarder) retire(c *fwdConn) {
	select {
	case f.retiring <- c:
	default:
		c.close(fmt.Errorf("%w: the leader changed from %s", ErrUnknownOutcome, c.leader))
	}
}

// retiree is a connection to a former leader and when to close it.
type retiree struct {
	c  *fwdConn
	at time.Time
}

// watchLeader closes connections to former leaders grace after raft names
// another leader, so that requests held by a deposed leader that no longer
// answers (paused, partitioned) end with ErrUnknownOutcome then, instead of
// at their deadline, even when no new batch comes to notice the change. The
// grace lets a leader that handed over gracefully answer what it committed.
// A leader that is only unknown for a while keeps its connection.
func (f *forwarder) watchLeader() {
	var draining []retiree
	timer := time.NewTimer(time.Hour)
	defer func() {
		timer.Stop()
		for _, r := range draining {
			r.c.close(errNodeClosing)
		}
	}()
	for {
		select {
		case <-f.pack.stop:
			return
		case <-f.changes:
			_, id := f.g.raft.LeaderWithID()
			if c := f.current.Load(); c != nil && id != "" && string(id) != c.leader {
				draining = append(draining, retiree{c: c, at: time.Now().Add(f.grace)})
			}
		case c := <-f.retiring:
			draining = append(draining, retiree{c: c, at: time.Now().Add(f.grace)})
		case <-timer.C:
		}
		draining = closeDue(draining)
		resetTimer(timer, draining)
	}
}

// closeDue closes the connections whose grace has passed and returns the others.
func closeDue(draining []retiree) []retiree {
	kept := draining[:0]
	now := time.Now()
	for _, r := range draining {
		if now.Before(r.at) {
			kept = append(kept, r)
			continue
		}
		r.c.close(fmt.Errorf("%w: the leader changed from %s", ErrUnknownOutcome, r.c.leader))
	}
	return kept
}

// resetTimer sets t to fire at the earliest close time of draining (never
// when it is empty).
func resetTimer(t *time.Timer, draining []retiree) {
	t.Stop()
	if len(draining) == 0 {
		return
	}
	next := draining[0].at
	for _, r := range draining[1:] {
		if r.at.Before(next) {
			next = r.at
		}
	}
	t.Reset(time.Until(next))
}

func (f *forwarder) stopping() bool {
	select {
	case <-f.pack.stop:
		return true
	default:
		return false
	}
}

// pause sleeps for d or until stop.
func (f *forwarder) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-f.pack.stop:
	}
}

// dropExpired answers the proposals whose context ended (their proposers
// have returned, not proposed) and returns the others in a new slice.
func dropExpired(batch []*proposal) []*proposal {
	kept := make([]*proposal, 0, len(batch))
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.done <- outcome{err: fmt.Errorf("propose: %w", err)}
			continue
		}
		kept = append(kept, p)
	}
	return kept
}
