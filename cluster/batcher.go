package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
)

// batcher is the group commit of one Raft group. Proposers enqueue
// commands; one goroutine (run) packs as many as are waiting into one entry,
// stamps the leader's wall-clock time on it and hands it to raft, keeping up
// to maxInflight entries in flight; a second goroutine (complete) waits for
// those entries in order and gives each proposer its own result. Many
// commands then share one log append, that is one fsync.
//
// Lifetime: start launches both goroutines; stop makes them finish the
// entries already handed to raft, fail the queued proposals with ErrClosed,
// and exit; dead is closed once both have exited.
type batcher struct {
	raft     *raft.Raft
	log      *slog.Logger
	maxCmds  int
	maxBytes int

	queue    chan *proposal     // proposals not yet packed
	slots    chan struct{}      // one token per entry in flight
	inflight chan inflightEntry // entries handed to raft, in log order
	stop     chan struct{}      // closed by close
	dead     chan struct{}      // closed when both goroutines have exited
	carry    *proposal          // owned by run: the proposal that did not fit the last batch
}

// proposal is one command waiting for its result. done has room for the one
// outcome ever sent, so senders never block.
type proposal struct {
	ctx       context.Context
	cmd       queue.Command
	size      int
	forwarded bool // from a follower (enqueueForwarded): see nudgeFollowers
	done      chan outcome
	// early: already answered by confirmEarly (only in a binary built with
	// the carrier_unsafe_early_confirm tag); complete and fail skip it.
	early bool
}

type outcome struct {
	res   queue.Result
	index uint64 // the Raft index of the entry that carried the command; 0 when not applied
	err   error
}

// inflightEntry is an entry raft is replicating and the proposals packed in it.
type inflightEntry struct {
	future raft.ApplyFuture
	batch  []*proposal
}

// queueDepth bounds proposals waiting to be packed; proposers block beyond it.
const queueDepth = 4096

func newBatcher(r *raft.Raft, cfg Config, log *slog.Logger) *batcher {
	return &batcher{
		raft:     r,
		log:      log,
		maxCmds:  cfg.MaxBatchCommands,
		maxBytes: cfg.MaxBatchBytes,
		queue:    make(chan *proposal, queueDepth),
		slots:    make(chan struct{}, cfg.MaxInflightEntries),
		inflight: make(chan inflightEntry, cfg.MaxInflightEntries),
		stop:     make(chan struct{}),
		dead:     make(chan struct{}),
	}
}

// start launches the packing and completing goroutines.
func (b *batcher) start() {
	completed := make(chan struct{})
	go func() {
		defer close(completed)
		for e := range b.inflight {
			b.complete(e)
		}
	}()
	go func() {
		b.run()
		close(b.inflight)
		b.failQueued()
		<-completed
		close(b.dead)
	}()
}

// close stops the batcher and waits until its goroutines exit or ctx ends.
// It must be called once.
func (b *batcher) close(ctx context.Context) error {
	close(b.stop)
	select {
	case <-b.dead:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for proposals in flight: %w", ctx.Err())
	}
}

// propose enqueues cmd and waits for its outcome. See Node.Propose for the
// errors; it may be called from any goroutine.
func (b *batcher) propose(ctx context.Context, cmd queue.Command) (queue.Result, error) {
	p, err := b.enqueue(ctx, cmd)
	if err != nil {
		return queue.Result{}, err
	}
	o := b.await(ctx, p)
	return o.res, o.err
}

// enqueue queues cmd without waiting for its outcome (await does). Callers
// that enqueue from one goroutine get their commands into the log in order.
func (b *batcher) enqueue(ctx context.Context, cmd queue.Command) (*proposal, error) {
	return b.put(ctx, newProposal(ctx, cmd))
}

func (b *batcher) put(ctx context.Context, p *proposal) (*proposal, error) {
	select {
	case b.queue <- p:
		return p, nil
	case <-b.stop:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("propose: %w", ctx.Err())
	}
}

// enqueueForwarded is enqueue for a command a follower forwarded: once its
// entry is applied, the followers are told the new commit index at once
// (nudgeFollowers) rather than up to 2×CommitTimeout later, since the
// follower's proposer waits until its own node has applied the entry.
func (b *batcher) enqueueForwarded(ctx context.Context, cmd queue.Command) (*proposal, error) {
	p := newProposal(ctx, cmd)
	p.forwarded = true
	return b.put(ctx, p)
}

func newProposal(ctx context.Context, cmd queue.Command) *proposal {
	return &proposal{ctx: ctx, cmd: cmd, size: commandSize(cmd), done: make(chan outcome, 1)}
}

// await waits for the outcome of an enqueued proposal, or for ctx.
func (b *batcher) await(ctx context.Context, p *proposal) outcome {
	select {
	case o := <-p.done:
		return o
	case <-ctx.Done():
		return outcome{err: fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())}
	case <-b.dead:
		select {
		case o := <-p.done:
			return o
		default:
			return outcome{err: ErrClosed} // enqueued after the batcher drained its queue
		}
	}
}

// run packs and sends entries until stop is closed.
func (b *batcher) run() {
	for {
		first := b.next()
		if first == nil {
			return
		}
		select {
		case b.slots <- struct{}{}:
		case <-b.stop:
			first.done <- outcome{err: ErrClosed}
			return
		}
		batch := b.collect(first)
		b.send(batch)
	}
}

// next returns the carried-over proposal or waits for one; nil on stop.
func (b *batcher) next() *proposal {
	if p := b.carry; p != nil {
		b.carry = nil
		return p
	}
	select {
	case p := <-b.queue:
		return p
	case <-b.stop:
		return nil
	}
}

// collect packs first and every waiting proposal that fits the limits.
// Proposals whose context has ended are answered and dropped (their proposer
// has already returned).
func (b *batcher) collect(first *proposal) []*proposal {
	batch := make([]*proposal, 0, 16)
	size := 0
	add := func(p *proposal) bool {
		if err := p.ctx.Err(); err != nil {
			p.done <- outcome{err: fmt.Errorf("propose: %w", err)}
			return true
		}
		if len(batch) > 0 && (size+p.size > b.maxBytes || len(batch) >= b.maxCmds) {
			b.carry = p
			return false
		}
		batch = append(batch, p)
		size += p.size
		return true
	}
	add(first)
	for b.carry == nil && len(batch) < b.maxCmds {
		select {
		case p := <-b.queue:
			add(p)
		default:
			return batch
		}
	}
	return batch
}

// send encodes batch as one entry stamped with the current time and hands it
// to raft. It always releases the slot it was given: through complete, or at
// once when nothing was sent.
func (b *batcher) send(batch []*proposal) {
	now := time.Now().UnixNano()
	batch, data := b.encode(now, batch)
	if len(batch) == 0 {
		<-b.slots
		return
	}
	future := b.raft.Apply(data, 0)
	if unsafeEarlyConfirm {
		confirmEarly(batch)
	}
	b.inflight <- inflightEntry{future: future, batch: batch}
}

// encode encodes batch as one entry. A command that cannot be encoded is
// answered with a CodeBadCommand error and left out; the rest go ahead.
func (b *batcher) encode(now int64, batch []*proposal) ([]*proposal, []byte) {
	data, err := queue.EncodeEntry(entryOf(now, batch))
	if err == nil {
		return batch, data
	}
	kept := make([]*proposal, 0, len(batch))
	for _, p := range batch {
		if _, err := queue.EncodeEntry(entryOf(now, []*proposal{p})); err != nil {
			p.done <- outcome{err: queue.Errorf(queue.CodeBadCommand, "encode %T: %v", p.cmd, err)}
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) == 0 {
		return nil, nil
	}
	data, err = queue.EncodeEntry(entryOf(now, kept))
	if err != nil {
		b.fail(kept, queue.Errorf(queue.CodeBadCommand, "encode entry: %v", err))
		return nil, nil
	}
	return kept, data
}

func entryOf(now int64, batch []*proposal) queue.Entry {
	cmds := make([]queue.Command, len(batch))
	for i, p := range batch {
		cmds[i] = p.cmd
	}
	return queue.Entry{Time: now, Commands: cmds}
}

// complete waits for an entry to be applied locally and answers its proposers.
func (b *batcher) complete(e inflightEntry) {
	defer func() { <-b.slots }()
	if err := e.future.Error(); err != nil {
		b.fail(e.batch, raftError(err))
		return
	}
	if err, ok := e.future.Response().(error); ok { // the store failed applying it (fsm.storeFailed)
		b.fail(e.batch, fmt.Errorf("%w: entry %d was not applied on this node: %w", ErrUnknownOutcome, e.future.Index(), err))
		return
	}
	results, ok := e.future.Response().([]queue.Result)
	if !ok || len(results) != len(e.batch) {
		b.log.Error("entry applied with an unexpected response", "index", e.future.Index(),
			"commands", len(e.batch), "response", fmt.Sprintf("%T", e.future.Response()))
		b.fail(e.batch, fmt.Errorf("%w: entry %d applied with an unexpected response", ErrUnknownOutcome, e.future.Index()))
		return
	}
	index := e.future.Index()
	forwarded := false
	for i, p := range e.batch {
		if !p.early {
			p.done <- outcome{res: results[i], index: index}
		}
		forwarded = forwarded || p.forwarded
	}
	if forwarded {
		b.nudgeFollowers()
	}
}

// nudgeFollowers makes raft send the followers its commit index now, when
// nothing else would soon. hashicorp/raft sends the commit index only with
// the next entries or after a random 1–2×CommitTimeout; a follower whose
// proposer waits for its own apply (read-your-writes) would sit out that
// timeout whenever the leader goes idle — most of a lone forwarded
// publish's latency. A barrier is an empty entry (the FSM never sees it)
// whose replication carries the commit index. Only when no other entry is
// queued or in flight (this entry holds the one slot taken): under load the
// next entry carries the commit index anyway. It does not wait for the
// barrier, only (briefly) for raft to take it.
func (b *batcher) nudgeFollowers() {
	if len(b.queue) > 0 || len(b.slots) > 1 {
		return
	}
	_ = b.raft.Barrier(nudgeEnqueueTimeout) // its outcome does not matter
}

// nudgeEnqueueTimeout bounds how long complete waits for raft to take a
// nudge.
const nudgeEnqueueTimeout = 50 * time.Millisecond

func (b *batcher) fail(batch []*proposal, err error) {
	for _, p := range batch {
		if !p.early {
			p.done <- outcome{err: err}
		}
	}
}

// failQueued answers every proposal still queued with ErrClosed. Called once
// run has returned.
func (b *batcher) failQueued() {
	if b.carry != nil {
		b.carry.done <- outcome{err: ErrClosed}
		b.carry = nil
	}
	for {
		select {
		case p := <-b.queue:
			p.done <- outcome{err: ErrClosed}
		default:
			return
		}
	}
}

// raftError maps the error of an entry handed to raft onto the package's
// errors, keeping raft's error in the chain.
func raftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", ErrNotLeader, err) // refused before it reached the log
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, err) // maybe committed
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w (%w): %w", ErrClosed, ErrUnknownOutcome, err)
	default:
		return fmt.Errorf("%w: %w", ErrUnavailable, err) // e.g. the log store failed to write
	}
}

// Size estimate of a command in an encoded entry, for MaxBatchBytes.
const (
	commandOverhead = 64
	messageOverhead = 48
)

// commandSize estimates the encoded size of cmd. Only publishes and
// ack/nack lists can be large; the rest are small and fixed-ish.
func commandSize(cmd queue.Command) int {
	switch c := cmd.(type) {
	case queue.Publish:
		return publishSize(&c)
	case *queue.Publish:
		return publishSize(c)
	case queue.Ack:
		return commandOverhead + 10*len(c.Seqs)
	case queue.Nack:
		return commandOverhead + 10*len(c.Seqs)
	case queue.Redrive:
		return commandOverhead + 10*len(c.DLSeqs)
	default:
		return 4 * commandOverhead
	}
}

func publishSize(p *queue.Publish) int {
	n := commandOverhead + len(p.Queue)
	for _, m := range p.Messages {
		if m != nil { // refused by the encoder later, with CodeBadCommand
			n += messageOverhead + int(m.Size())
		}
	}
	return n
}
