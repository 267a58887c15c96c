package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// sioConn is the least of a socket.io v4 client the benchmark needs, over
// WebSocket only (Engine.IO v4, Socket.IO v5, text packets): one namespace,
// emits with ack ids, events in, acks out, pongs. It is written in Go so
// that one driver measures Carrier and the reference server alike; it is
// not a client for apps (those use socket.io-client).
type sioConn struct {
	ws     *websocket.Conn
	prefix string        // "42/nsp," without the type digit: "/nsp,"
	events chan sioEvent // nil: events are dropped (a publisher's)

	wmu sync.Mutex // one writer at a time

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan error
	err     error // set once the reader stopped
}

// sioEvent is one EVENT packet: its first argument (a string) and its ack
// id (0: none).
type sioEvent struct {
	data  []byte
	ackID uint64
}

// dialSocketIO connects to base (an HTTP URL) and joins namespace nsp with
// auth (nil: none); it returns once the server accepted the CONNECT. With
// receive false the events the socket gets are dropped.
func dialSocketIO(ctx context.Context, base, nsp string, auth any, receive bool) (*sioConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("socket.io url %q: %w", base, err)
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path, u.RawQuery = "/socket.io/", "EIO=4&transport=websocket"
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, u.String(), http.Header{})
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("socket.io dial %s: %w", base, err)
	}
	c := &sioConn{ws: ws, prefix: nspPrefix(nsp), pending: map[uint64]chan error{}}
	if receive {
		c.events = make(chan sioEvent, 1024)
	}
	if err := c.join(ctx, auth); err != nil {
		ws.Close()
		return nil, err
	}
	go c.read()
	return c, nil
}

// nspPrefix is what follows the packet type for nsp: "" for "/".
func nspPrefix(nsp string) string {
	if nsp == "" || nsp == "/" {
		return ""
	}
	return nsp + ","
}

// join reads the open packet, sends CONNECT and waits for its answer.
func (c *sioConn) join(ctx context.Context, auth any) error {
	if d, ok := ctx.Deadline(); ok {
		_ = c.ws.SetReadDeadline(d)
		defer c.ws.SetReadDeadline(time.Time{})
	}
	if _, msg, err := c.ws.ReadMessage(); err != nil || len(msg) == 0 || msg[0] != '0' {
		return fmt.Errorf("socket.io open: %q, %v", msg, err)
	}
	body := []byte{}
	if auth != nil {
		b, err := json.Marshal(auth)
		if err != nil {
			return fmt.Errorf("socket.io auth: %w", err)
		}
		body = b
	}
	if err := c.write("40" + c.prefix + string(body)); err != nil {
		return err
	}
	for {
		_, msg, err := c.ws.ReadMessage()
		switch {
		case err != nil:
			return fmt.Errorf("socket.io connect: %w", err)
		case string(msg) == "2":
			if err := c.write("3"); err != nil {
				return err
			}
		case bytes.HasPrefix(msg, []byte("40"+c.prefix)):
			return nil
		case bytes.HasPrefix(msg, []byte("44"+c.prefix)):
			return fmt.Errorf("socket.io connect refused: %s", msg[2+len(c.prefix):])
		}
	}
}

func (c *sioConn) write(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		return fmt.Errorf("socket.io write: %w", err)
	}
	return nil
}

// emit sends event with arg (base64 in one string argument, so that any
// bytes travel as JSON text on both servers alike) and an ack id; the
// channel gets nil once the server acked it with {seq}, or the error.
func (c *sioConn) emit(event string, arg []byte) (<-chan error, error) {
	done := make(chan error, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = done
	c.mu.Unlock()
	ev, _ := json.Marshal(event)
	str, _ := json.Marshal(base64.StdEncoding.EncodeToString(arg))
	return done, c.write("42" + c.prefix + strconv.FormatUint(id, 10) + "[" + string(ev) + "," + string(str) + "]")
}

// ack acknowledges a delivery that carried ack id id.
func (c *sioConn) ack(id uint64) error {
	return c.write("43" + c.prefix + strconv.FormatUint(id, 10) + "[]")
}

// next returns the next event of the namespace (a socket dialled to
// receive).
func (c *sioConn) next(ctx context.Context) (sioEvent, error) {
	select {
	case e, ok := <-c.events:
		if !ok {
			c.mu.Lock()
			defer c.mu.Unlock()
			return sioEvent{}, c.err
		}
		return e, nil
	case <-ctx.Done():
		return sioEvent{}, ctx.Err()
	}
}

// read is the connection's reader: pongs, acks and events until the
// socket ends; then every pending emit fails.
func (c *sioConn) read() {
	err := c.readLoop()
	c.mu.Lock()
	c.err = err
	for id, ch := range c.pending {
		ch <- err
		delete(c.pending, id)
	}
	c.mu.Unlock()
	if c.events != nil {
		close(c.events)
	}
}

func (c *sioConn) readLoop() error {
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("socket.io read: %w", err)
		}
		if err := c.handle(msg); err != nil {
			return err
		}
	}
}

// handle dispatches one Engine.IO packet.
func (c *sioConn) handle(msg []byte) error {
	switch {
	case string(msg) == "2":
		return c.write("3")
	case bytes.HasPrefix(msg, []byte("43"+c.prefix)):
		c.acked(msg[2+len(c.prefix):])
	case bytes.HasPrefix(msg, []byte("42"+c.prefix)) && c.events != nil:
		e, err := parseEvent(msg[2+len(c.prefix):])
		if err != nil {
			return err
		}
		c.events <- e
	case bytes.HasPrefix(msg, []byte("41"+c.prefix)), bytes.HasPrefix(msg, []byte("1")):
		return errors.New("socket.io: the server closed the socket")
	}
	return nil
}

// acked settles the emit whose id starts body: nil for {seq}, else the error.
func (c *sioConn) acked(body []byte) {
	id, rest := splitID(body)
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ch == nil {
		return
	}
	var res []struct {
		Seq     uint64 `json:"seq"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	switch err := json.Unmarshal(rest, &res); {
	case err != nil || len(res) == 0:
		ch <- fmt.Errorf("socket.io ack %q: want [{seq}]", rest)
	case res[0].Seq == 0:
		ch <- fmt.Errorf("socket.io emit failed: %s: %s", res[0].Code, res[0].Message)
	default:
		ch <- nil
	}
}

// parseEvent reads `[<ackid>]["name", "<base64>", …]`.
func parseEvent(body []byte) (sioEvent, error) {
	id, rest := splitID(body)
	var args []json.RawMessage
	if err := json.Unmarshal(rest, &args); err != nil || len(args) < 2 {
		return sioEvent{}, fmt.Errorf("socket.io event %q: want [name, arg, …]", body)
	}
	var s string
	if err := json.Unmarshal(args[1], &s); err != nil {
		return sioEvent{}, fmt.Errorf("socket.io event: the benchmark's argument is a string: %w", err)
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return sioEvent{}, fmt.Errorf("socket.io event: the benchmark's argument is base64: %w", err)
	}
	return sioEvent{data: data, ackID: id}, nil
}

// splitID splits the leading ack id (digits) off body.
func splitID(body []byte) (uint64, []byte) {
	i := 0
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
	}
	id, _ := strconv.ParseUint(string(body[:i]), 10, 64)
	return id, body[i:]
}

func (c *sioConn) Close() error { return c.ws.Close() }
