package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/carriermq/carrier/protocol"
)

// conn is one carrier.v1 WebSocket connection.
//
// Goroutines: the reader (the HTTP handler's goroutine) reads and decodes
// frames and starts request handlers; the writer drains the outbound queue;
// request handlers, publish lanes and tails run as spawned goroutines,
// counted in wg. Everything ends in teardown, which the reader runs when it
// stops: group members are left, spawned goroutines are waited for, the
// writer stops and the socket is closed.
type conn struct {
	g   *Gateway
	num uint64
	log *slog.Logger
	out *outbound
	ws  *websocket.Conn // set by serve before any goroutine uses it
	fc  *flushConn      // the socket under ws

	ctx        context.Context // ends when the connection ends
	cancel     context.CancelFunc
	reqs       chan struct{} // a token per outstanding request (MaxRequests)
	readerDone chan struct{}
	writers    sync.WaitGroup // the writer goroutine, while one runs
	pingTimer  *time.Timer    // set by serve; marks a ping due every PingInterval

	spawnMu  sync.Mutex
	stopping bool           // no more spawns: teardown is waiting for wg
	wg       sync.WaitGroup // spawned goroutines

	mu      sync.Mutex // guards subs, lanes and nextSub
	subs    map[string]subscription
	lanes   map[string]*lane
	nextSub uint64
}

// subscription is a tail (*tailSub) or a group member (*groupSub).
type subscription interface {
	// stop ends the subscription; a group member leaves its group.
	stop(ctx context.Context) error
}

func (g *Gateway) newConn() *conn {
	ctx, cancel := context.WithCancel(g.baseCtx)
	num := g.nextConn.Add(1)
	c := &conn{g: g, num: num, log: g.log.With("conn", num), out: newOutbound(g.cfg.OutboundBytes),
		ctx: ctx, cancel: cancel, reqs: make(chan struct{}, g.cfg.MaxRequests),
		readerDone: make(chan struct{}), subs: map[string]subscription{}, lanes: map[string]*lane{}}
	c.out.startWriter = c.startWriter
	return c
}

// handleWebSocket upgrades GET /v1/ws to a carrier.v1 connection.
func (g *Gateway) handleWebSocket(w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(websocket.Subprotocols(r), protocol.Subprotocol) {
		writeError(w, errf(protocol.CodeBadRequest, "offer the WebSocket subprotocol %q", protocol.Subprotocol))
		return
	}
	c := g.newConn()
	if err := g.register(c); err != nil {
		writeError(w, err)
		return
	}
	hj := &hijacker{ResponseWriter: w}
	ws, err := g.upgrader.Upgrade(hj, r, nil)
	if err != nil {
		c.cancel()
		g.unregister(c)
		return // the upgrader has answered
	}
	// The connection gets its own reader goroutine and the handler returns,
	// so the HTTP server's per-connection state (its 4 KiB write buffer,
	// the request, a handler stack grown by the handshake) is freed.
	go func() {
		defer g.unregister(c)
		c.serve(ws, hj.fc)
	}()
}

// upgradeError answers a failed upgrade with a JSON error.
func (g *Gateway) upgradeError(w http.ResponseWriter, _ *http.Request, status int, reason error) {
	code := protocol.CodeBadRequest
	if status == http.StatusMethodNotAllowed {
		code = protocol.CodeMethodNotAllowed
	}
	writeJSON(w, status, protocol.ErrorResponse{Error: protocol.ErrorBody{Code: code, Message: reason.Error()}})
}

// serve runs the connection until it ends.
func (c *conn) serve(ws *websocket.Conn, fc *flushConn) {
	c.ws, c.fc = ws, fc
	c.log.Debug("websocket open", "remote", ws.RemoteAddr().String())
	c.pingTimer = time.AfterFunc(c.g.cfg.PingInterval, c.out.pingDue)
	c.out.enable()
	c.readLoop()
	close(c.readerDone)
	c.teardown()
}

// teardown ends everything the connection started. Run by the reader.
func (c *conn) teardown() {
	c.cancel()
	c.stopSubs()
	c.spawnMu.Lock()
	c.stopping = true
	c.spawnMu.Unlock()
	c.wg.Wait()
	c.fc.limit(time.Now().Add(c.g.cfg.CloseGrace)) // a write blocked on a gone client ends soon
	c.pingTimer.Stop()
	c.out.stop()
	c.writers.Wait()
	_ = c.ws.Close() // may be closed already
	c.log.Debug("websocket closed")
}

// goAway leaves every group member and closes the connection with 1001
// (server shutdown). The reader then ends and runs teardown.
func (c *conn) goAway() {
	c.stopSubs()
	c.out.close(false, nil, websocket.CloseGoingAway, "server shutting down")
}

// stopSubs ends every subscription; group members leave their groups with
// a fresh context, since the connection's own may be cancelled.
func (c *conn) stopSubs() {
	c.mu.Lock()
	subs := make([]subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	clear(c.subs)
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() {
			if err := s.stop(c.g.baseCtx); err != nil {
				c.log.Warn("leave on disconnect failed; the member stays until its node resets", "err", err)
			}
		})
	}
	wg.Wait()
}

// spawn runs fn in a goroutine that teardown waits for; false once the
// connection is stopping.
func (c *conn) spawn(fn func()) bool {
	c.spawnMu.Lock()
	defer c.spawnMu.Unlock()
	if c.stopping {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

// goRequest runs fn as a request handler, waiting for a free request slot
// first (backpressure on the reader).
func (c *conn) goRequest(fn func()) {
	if !c.acquire() {
		return
	}
	if !c.spawn(func() { defer c.release(); fn() }) {
		c.release()
	}
}

func (c *conn) acquire() bool {
	select {
	case c.reqs <- struct{}{}:
		return true
	case <-c.ctx.Done():
		return false
	}
}

func (c *conn) release() { <-c.reqs }

// readLoop reads frames until the connection fails or closes.
func (c *conn) readLoop() {
	idle := c.g.cfg.PingInterval + c.g.cfg.PongWait
	var dl readDeadline
	c.ws.SetPongHandler(func(string) error { return dl.extend(c.ws, idle) })
	for {
		if err := dl.extend(c.ws, idle); err != nil {
			return
		}
		typ, r, err := c.ws.NextReader()
		if err != nil {
			c.logReadEnd(err)
			return
		}
		if !c.readMessage(typ, r) {
			return
		}
	}
}

// readDeadline moves a connection's read deadline to now+idle, but at most
// every idle/16: resetting the socket's timer for every frame cost ~4% of
// the publish path's CPU. A connection is therefore cut after between
// 15/16 of idle and idle without a frame. Reader goroutine only.
type readDeadline struct{ set time.Time }

func (d *readDeadline) extend(ws *websocket.Conn, idle time.Duration) error {
	now := time.Now()
	if now.Sub(d.set) < idle/16 {
		return nil
	}
	d.set = now
	return ws.SetReadDeadline(now.Add(idle))
}

// readBuffers hold frames being read; pooled so that an idle connection
// holds none.
var readBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readMessage reads and handles one message; false ends the reader.
func (c *conn) readMessage(typ int, r io.Reader) bool {
	buf := readBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 { // do not keep a large frame's buffer
			readBuffers.Put(buf)
		}
	}()
	tooLarge, err := c.readFrame(r, buf)
	switch {
	case err != nil:
		c.logReadEnd(err)
		return false
	case tooLarge:
		c.frameTooLarge()
		return false
	case typ != websocket.TextMessage:
		c.sendError("", "", errf(protocol.CodeBadFrame, "binary frames are not part of carrier.v1: send JSON text frames"))
	default:
		c.handle(buf.Bytes()) // keeps no reference to the bytes
	}
	return true
}

// readFrame reads one message into buf, at most MaxFrameBytes of it.
func (c *conn) readFrame(r io.Reader, buf *bytes.Buffer) (tooLarge bool, err error) {
	max := c.g.cfg.MaxFrameBytes
	buf.Reset()
	n, err := buf.ReadFrom(io.LimitReader(r, max+1))
	if err != nil {
		return false, err
	}
	return n > max, nil
}

// frameTooLarge says why and closes with 1009, then drains what the client
// still sends until it answers the close or CloseGrace passes.
func (c *conn) frameTooLarge() {
	f := errorFrame("", "", errf(protocol.CodeFrameTooLarge, "frames are limited to %d bytes", c.g.cfg.MaxFrameBytes))
	c.out.close(false, f, websocket.CloseMessageTooBig, "frame too large")
	// While draining, gorilla's own limit ends the drain at the next frame
	// that is too large; the rest of the current one is bounded by the deadline.
	c.ws.SetReadLimit(c.g.cfg.MaxFrameBytes)
	_ = c.ws.SetReadDeadline(time.Now().Add(c.g.cfg.CloseGrace))
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			return
		}
	}
}

func (c *conn) logReadEnd(err error) {
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
		return
	}
	c.log.Debug("websocket read ended", "err", err)
}

// handle decodes one text frame and dispatches it.
func (c *conn) handle(b []byte) {
	req, werr := decodeFrame(b, decodeLimits{maxMessageBytes: c.g.cfg.MaxMessageBytes, maxBatch: c.g.cfg.MaxBatch})
	if werr != nil {
		id := ""
		if req != nil {
			id = req.ID
		}
		c.sendError(id, "", werr)
		return
	}
	switch req.Type {
	case protocol.TypePing:
		c.reply(&protocol.Frame{Type: protocol.TypePong, ID: req.ID})
	case protocol.TypePublish:
		c.publish(req)
	case protocol.TypeSubscribe:
		c.subscribe(req)
	case protocol.TypeUnsubscribe:
		c.goRequest(func() { c.unsubscribe(req) })
	case protocol.TypeAck, protocol.TypeNack:
		c.goRequest(func() { c.ack(req) })
	}
}

// reply queues a frame; a client too slow to take it is disconnected.
func (c *conn) reply(f *protocol.Frame) {
	if errors.Is(c.out.push(frameItem(f)), errOverflow) {
		c.slow()
	}
}

// sendError queues an error frame for request id and/or subscription sub.
func (c *conn) sendError(id, sub string, e *wireError) {
	c.reply(errorFrame(id, sub, e))
}

func errorFrame(id, sub string, e *wireError) *protocol.Frame {
	return &protocol.Frame{Type: protocol.TypeError, ID: id, Sub: sub, Code: e.Code, Message: e.Message}
}

// slow disconnects a client whose outbound budget overflowed: what is queued
// is dropped, a slow_consumer error and a 1008 close are queued, and writes
// are cut after CloseGrace however blocked they are.
func (c *conn) slow() {
	f := errorFrame("", "", errf(protocol.CodeSlowConsumer,
		"the client did not read its frames: more than %d bytes were waiting", c.g.cfg.OutboundBytes))
	if c.out.close(true, f, websocket.ClosePolicyViolation, "slow consumer") {
		c.fc.limit(time.Now().Add(c.g.cfg.CloseGrace))
		c.log.Info("slow consumer disconnected", "outboundBytes", c.g.cfg.OutboundBytes)
	}
}

// startWriter starts the writer goroutine. The outbound queue calls it
// (with its lock held) when work arrives and no writer runs: an idle
// connection has no writer goroutine, only its reader.
func (c *conn) startWriter() {
	c.writers.Add(1)
	go c.writeLoop()
}

// writeLoop writes queued frames in batches, and the ping when one is due,
// until the queue is empty; a write error or the close frame ends it for
// good (the queue then starts no other writer).
func (c *conn) writeLoop() {
	defer c.writers.Done()
	var batch []outItem
	for {
		var ping, ok bool
		batch, ping, ok = c.out.take(batch[:0])
		if !ok {
			return
		}
		if ping {
			if err := c.ping(); err != nil {
				c.abort()
				return
			}
			c.pingTimer.Reset(c.g.cfg.PingInterval)
		}
		closing, err := c.writeBatch(batch)
		clear(batch)
		if err != nil {
			c.log.Debug("websocket write failed", "err", err)
			c.abort()
			return
		}
		if closing {
			c.awaitClose()
			return
		}
	}
}

// writeBatch writes items as one flush; closing is true once the close
// frame is written (later items are dropped).
func (c *conn) writeBatch(items []outItem) (closing bool, err error) {
	if len(items) == 0 {
		return false, nil
	}
	c.fc.begin()
	enc := encoders.Get().(*frameEncoder)
	defer enc.release()
	var n int64
	for i := range items {
		n += items[i].size
		if items[i].closeCode != 0 {
			msg := websocket.FormatCloseMessage(items[i].closeCode, items[i].closeText)
			err = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.g.cfg.WriteTimeout))
			closing = true
			break
		}
		if err = c.writeFrame(enc, &items[i]); err != nil {
			break
		}
	}
	ferr := c.fc.flush(time.Now().Add(c.g.cfg.WriteTimeout))
	c.out.release(n)
	return closing, errors.Join(err, ferr)
}

// writeFrame encodes one item (message frames are built here, off the
// apply goroutine) and writes it as a text frame.
func (c *conn) writeFrame(enc *frameEncoder, it *outItem) error {
	var b []byte
	var err error
	if it.msg != nil {
		b, err = enc.encodeMsg(&c.g.msgs, it.msg)
	} else {
		b, err = enc.encode(it.frame)
	}
	if err != nil {
		return err
	}
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// frameEncoder encodes the frames of one batch. Encoders are pooled, so
// an idle connection holds no encoding buffers. Not safe for concurrent use.
type frameEncoder struct {
	buf  bytes.Buffer
	enc  *json.Encoder // into buf
	fast []byte        // a frame written by appendPublishedFast
}

var encoders = sync.Pool{New: func() any {
	e := &frameEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// encode returns f's JSON, valid until the next call.
func (e *frameEncoder) encode(f *protocol.Frame) ([]byte, error) {
	var ok bool
	if e.fast, ok = appendPublishedFast(e.fast[:0], f); ok {
		return e.fast, nil
	}
	e.buf.Reset()
	if err := e.enc.Encode(f); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(e.buf.Bytes(), []byte("\n")), nil
}

// release returns e to the pool unless a large frame grew its buffers.
func (e *frameEncoder) release() {
	if e.buf.Cap() <= 64<<10 && cap(e.fast) <= 64<<10 {
		encoders.Put(e)
	}
}

// messageFrame renders a delivery; data is shared with the stored message.
func messageFrame(r *msgRef) *protocol.Frame {
	m := r.m
	f := &protocol.Frame{Type: protocol.TypeMessage, Sub: r.sub, Queue: r.queue, Group: r.group,
		Seq: m.Seq, MsgID: m.ID, Event: m.Event, Headers: m.Headers, Time: formatTime(m.Time),
		DeliverAt: formatTime(m.DeliverAt), Attempt: r.attempt}
	if m.Binary {
		f.Binary = m.Data
	} else if len(m.Data) > 0 {
		f.Data = m.Data
	}
	return f
}

func (c *conn) ping() error {
	c.fc.begin()
	err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.g.cfg.WriteTimeout))
	return errors.Join(err, c.fc.flush(time.Now().Add(c.g.cfg.WriteTimeout)))
}

// awaitClose gives the client CloseGrace to answer the close frame, then
// closes the socket (which ends the reader).
func (c *conn) awaitClose() {
	t := time.NewTimer(c.g.cfg.CloseGrace)
	defer t.Stop()
	select {
	case <-c.readerDone:
	case <-t.C:
	}
	c.abort()
}

// abort cuts the connection: requests are cancelled and the reader fails.
func (c *conn) abort() {
	c.cancel()
	_ = c.ws.Close() // may be closed already
}
