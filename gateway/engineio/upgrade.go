package engineio

import (
	"bytes"
	"errors"
	"net/http"
	"time"

	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/gateway/ws"
)

var errUpgrade = errors.New("engine.io upgrade failed")

// serveUpgrade takes a WebSocket for a polling session through the
// upgrade: the client sends "2probe" and gets "3probe"; the pending GET is
// released with a noop (and later GETs answered with one) so that the
// client can pause polling; its "5" makes the WebSocket the session's
// carrier, after which polls are refused. A WebSocket that does not finish
// within UpgradeTimeout is closed and the session goes on polling.
func (c *Conn) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.mode != modePolling || c.probing != nil {
		c.mu.Unlock()
		writeError(w, r, errBadRequest)
		return
	}
	c.mu.Unlock()
	t, err := c.srv.upgrader.Upgrade(w, r)
	if err != nil {
		return // the upgrader has answered
	}
	c.mu.Lock()
	if c.mode != modePolling || c.probing != nil {
		c.mu.Unlock()
		t.Abort()
		return
	}
	c.probing = t
	c.mu.Unlock()
	go c.probe(t)
}

// probe runs the upgrade's packets on t until "5" or a failure.
func (c *Conn) probe(t *ws.Transport) {
	timer := time.AfterFunc(c.srv.cfg.UpgradeTimeout, t.Abort)
	for {
		var typ byte
		var data []byte
		err := t.Receive(func(m session.Inbound) {
			if m.Kind == session.Text && len(m.Data) > 0 {
				typ, data = m.Data[0], bytes.Clone(m.Data[1:])
			}
		})
		switch {
		case err == nil && typ == typePing && string(data) == "probe":
			err = c.probed(t)
		case err == nil && typ == typeUpgrade:
			if timer.Stop() && c.upgraded(t) {
				return
			}
			err = errUpgrade
		case err == nil:
			err = errUpgrade
		}
		if err != nil {
			timer.Stop()
			c.upgradeFailed(t)
			return
		}
	}
}

// probed answers the probe and releases the pending GET with a noop.
func (c *Conn) probed(t *ws.Transport) error {
	t.Begin()
	if err := t.WriteFrame(session.Text, []byte("3probe")); err != nil {
		return err
	}
	if err := t.Flush(time.Now().Add(c.srv.cfg.WriteTimeout)); err != nil {
		return err
	}
	c.mu.Lock()
	if c.mode != modePolling {
		c.mu.Unlock()
		return errUpgrade
	}
	c.mode = modeUpgrading
	g := c.get
	c.get = nil
	c.signal()
	c.mu.Unlock()
	c.noop(g)
	return nil
}

// noop answers GET g (if any) with a noop packet.
func (c *Conn) noop(g *poll) {
	if g != nil {
		g.payload <- pollPayload{data: []byte{typeNoop}, deadline: time.Now().Add(c.srv.cfg.WriteTimeout)}
	}
}

// upgraded makes t the session's carrier; false if the session closed or
// the probe was skipped.
func (c *Conn) upgraded(t *ws.Transport) bool {
	c.mu.Lock()
	if c.mode != modeUpgrading {
		c.mu.Unlock()
		return false
	}
	c.mode, c.ws, c.probing = modeWebSocket, t, nil
	g := c.get
	c.get = nil
	limit := c.limit
	c.signal()
	c.mu.Unlock()
	if !limit.IsZero() {
		t.LimitWrites(limit)
	}
	c.noop(g)
	return true
}

// upgradeFailed closes t and goes back to polling.
func (c *Conn) upgradeFailed(t *ws.Transport) {
	t.Abort()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.probing == t {
		c.probing = nil
	}
	if c.mode == modeUpgrading {
		c.mode = modePolling
		c.signal()
	}
}
