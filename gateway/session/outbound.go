package session

import (
	"context"
	"errors"
	"sync"
)

var (
	// errOverflow: the item does not fit in the session's outbound budget.
	errOverflow = errors.New("outbound queue full")
	// errOutClosed: the session is closing; nothing more is sent.
	errOutClosed = errors.New("outbound queue closed")
)

// Size assumed for an item's envelope on top of a message's own bytes.
const itemOverhead = 256

// item is one entry of the outbound queue: a reply (encoded by the writer),
// a delivery (likewise, so that OnApply does no encoding), or the final
// close.
type item struct {
	reply *Reply
	msg   *Delivery
	close CloseReason
	size  int64
	ack   *groupSub // acked by the writer once written (AutoAck, or filtered out)
	skip  bool      // filtered out: nothing is written
}

func replyItem(r *Reply) item { return item{reply: r, size: itemOverhead} }

func deliveryItem(d *Delivery) item {
	return item{msg: d, size: d.Msg.Size() + itemOverhead}
}

// outbound is a session's bounded queue of items for its writer. Its
// budget counts bytes queued and being written; a push that does not fit
// fails (push) or waits (pushWait). An item always fits into an empty queue,
// so one large message never blocks a session forever.
//
// The queue starts its consumer, the session's writer goroutine, only
// while there is work: when an item (or a due ping) arrives and no writer
// runs, it calls startWriter; the writer takes work until take finds none,
// which marks it stopped in the same critical section, so no item is ever
// left without a writer. Before enable and after stop, no writer is started.
//
// All methods are safe for concurrent use. Lock order: callers may hold the
// hub's and a subscription's lock; outbound's lock is the innermost
// (startWriter, called with it held, takes no lock).
type outbound struct {
	mu          sync.Mutex
	items       []item
	used        int64
	limit       int64
	closed      bool          // a close item is queued: nothing more is accepted
	ping        bool          // a ping is due
	writer      writerState   // whether a writer runs or may be started
	startWriter func()        // set before enable; called with mu held
	room        chan struct{} // closed (and replaced) when bytes are released
}

type writerState uint8

const (
	writerOff     writerState = iota // not enabled yet, or stopped
	writerIdle                       // enabled, no writer runs
	writerRunning                    // a writer runs (or ended on an error)
)

func newOutbound(limit int64) *outbound {
	return &outbound{limit: limit, room: make(chan struct{})}
}

// enable allows writers from now on and starts one if work is waiting.
func (o *outbound) enable() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writer = writerIdle
	if len(o.items) > 0 || o.ping {
		o.kick()
	}
}

// stop starts no more writers; one that runs finishes what is queued.
func (o *outbound) stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writer = writerOff
}

// pingDue asks the writer to send a ping.
func (o *outbound) pingDue() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ping = true
	o.kick()
}

// kick starts a writer unless one runs or writers are off. o.mu held.
func (o *outbound) kick() {
	if o.writer == writerIdle {
		o.writer = writerRunning
		o.startWriter()
	}
}

// push queues it unless the session is closing (errOutClosed) or it does
// not fit (errOverflow). It never blocks.
func (o *outbound) push(it item) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return errOutClosed
	}
	if !o.fits(it.size) {
		return errOverflow
	}
	o.add(it)
	return nil
}

// pushWait queues it, waiting for room while the writer drains the queue.
func (o *outbound) pushWait(ctx context.Context, it item) error {
	return o.await(ctx, func() bool {
		if !o.fits(it.size) {
			return false
		}
		o.add(it)
		return true
	})
}

// waitRoom waits until at most half the budget is used (tails page while
// it is), the queue closes, or ctx ends.
func (o *outbound) waitRoom(ctx context.Context) error {
	return o.await(ctx, func() bool { return o.used <= o.limit/2 })
}

// await waits until ready returns true (it runs with mu held and may change
// the queue), the queue closes (errOutClosed), or ctx ends.
func (o *outbound) await(ctx context.Context, ready func() bool) error {
	for {
		o.mu.Lock()
		if o.closed {
			o.mu.Unlock()
			return errOutClosed
		}
		if ready() {
			o.mu.Unlock()
			return nil
		}
		room := o.room
		o.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (o *outbound) fits(size int64) bool { return o.used == 0 || o.used+size <= o.limit }

// add appends it and wakes the writer. o.mu must be held.
func (o *outbound) add(it item) {
	o.items = append(o.items, it)
	o.used += it.size
	o.kick()
}

// close queues the final items: the optional error r and the close for
// reason. With drop, items still queued are discarded first (the client is
// not reading them anyway). Only the first close counts; it returns false
// for later ones.
func (o *outbound) close(drop bool, r *Reply, reason CloseReason) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	o.closed = true
	if drop {
		for _, it := range o.items {
			o.used -= it.size
		}
		o.items = nil
	}
	if r != nil {
		o.add(replyItem(r))
	}
	o.add(item{close: reason})
	o.signalRoom()
	return true
}

// take moves the queued items into buf for the writer, and says whether a
// ping is due; their bytes stay counted until release. With nothing to do
// it returns ok false, and the writer must exit: the next item starts a new
// one.
func (o *outbound) take(buf []item) (_ []item, ping, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.items) == 0 && !o.ping {
		if o.writer == writerRunning {
			o.writer = writerIdle
		}
		return buf, false, false
	}
	buf = append(buf, o.items...)
	clear(o.items)
	if cap(o.items) > 64 {
		o.items = nil // do not keep a burst's backing array while idle
	} else {
		o.items = o.items[:0]
	}
	ping, o.ping = o.ping, false
	return buf, ping, true
}

// release returns n written bytes to the budget.
func (o *outbound) release(n int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.used -= n
	if o.used < 0 {
		o.used = 0
	}
	o.signalRoom()
}

// signalRoom wakes every waiter. o.mu must be held.
func (o *outbound) signalRoom() {
	close(o.room)
	o.room = make(chan struct{})
}
