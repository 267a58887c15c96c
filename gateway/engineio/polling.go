package engineio

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// servePoll holds a GET until the writer hands it a batch (or the session
// closes). A second GET while one is pending breaks the protocol: the
// first is answered with a close packet, the second with 400, and the
// session ends. During an upgrade a GET is answered with a noop at once,
// so the client can pause polling and send the upgrade packet.
func (c *Conn) servePoll(w http.ResponseWriter, r *http.Request) {
	g := &poll{payload: make(chan pollPayload, 1), done: make(chan error, 1)}
	c.mu.Lock()
	switch {
	case c.mode == modeClosed:
		c.mu.Unlock()
		writeError(w, r, errUnknownSID)
		return
	case c.get != nil:
		c.mu.Unlock()
		c.fail(errPollOverlap) // answers the pending GET with a close packet
		w.WriteHeader(http.StatusBadRequest)
		return
	case c.mode == modeUpgrading:
		c.mu.Unlock()
		writePayload(w, []byte{typeNoop}, time.Now().Add(c.srv.cfg.WriteTimeout))
		return
	}
	c.get = g
	c.signal()
	c.mu.Unlock()
	// A poll lasts up to a ping interval, which may exceed the server's ReadTimeout.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	select {
	case p := <-g.payload:
		g.done <- writePayload(w, p.data, p.deadline)
	case <-r.Context().Done():
		c.pollGone(g)
	}
}

// pollGone ends the session of a client that closed its pending GET. If
// the writer took the GET meanwhile, its payload is awaited and reported.
func (c *Conn) pollGone(g *poll) {
	c.mu.Lock()
	taken := c.get != g
	if !taken {
		c.get = nil
	}
	c.mu.Unlock()
	if taken {
		<-g.payload
		g.done <- errPollGone
	}
	c.fail(errPollGone)
}

// writePayload answers a poll.
func writePayload(w http.ResponseWriter, payload []byte, deadline time.Time) error {
	_ = http.NewResponseController(w).SetWriteDeadline(deadline)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(payload)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(payload)
	return err
}

// servePost reads a POST's payload (at most MaxPayload bytes) and hands its
// packets to the session's reader, answering "ok" once they are handled.
// A second POST while one is being read ends the session, as does a body
// over the limit (413), one that does not parse, or a binary body (Engine.IO
// v4 sends binary as base64 text).
func (c *Conn) servePost(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Content-Type") == "application/octet-stream" {
		c.fail(errors.New("engine.io: a binary POST body (v4 sends base64)"))
		writeError(w, r, errBadRequest)
		return
	}
	if !c.startPost() {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	defer c.endPost()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.srv.cfg.MaxPayload))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		c.deliver(&post{tooLarge: true, done: make(chan error, 1)})
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		c.fail(err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	packets, err := decodePayload(body)
	if err != nil {
		c.fail(err)
		writeError(w, r, errBadRequest)
		return
	}
	if !c.deliver(&post{packets: packets, done: make(chan error, 1)}) {
		writeError(w, r, errUnknownSID)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, "ok")
}

// startPost marks a POST as being read; false (and the session closed) if one was.
func (c *Conn) startPost() bool {
	c.mu.Lock()
	busy := c.posting
	c.posting = true
	c.mu.Unlock()
	if busy {
		c.fail(errPostOverlap)
	}
	return !busy
}

func (c *Conn) endPost() {
	c.mu.Lock()
	c.posting = false
	c.mu.Unlock()
}

// deliver hands p to the reader and waits until it is handled; false when
// the session closed first.
func (c *Conn) deliver(p *post) bool {
	select {
	case c.inbox <- p:
	case <-c.dead:
		return false
	}
	select {
	case <-p.done:
	case <-c.dead:
	}
	return true
}
