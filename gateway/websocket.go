package gateway

import (
	"net/http"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/protocol"
)

// handleWebSocket upgrades GET /v1/ws to a carrier.v1 session over a
// WebSocket.
func (g *Gateway) handleWebSocket(w http.ResponseWriter, r *http.Request) {
	if !g.upgrader.Offered(r) {
		writeError(w, apierr.Errorf(protocol.CodeBadRequest, "offer the WebSocket subprotocol %q", protocol.Subprotocol))
		return
	}
	s, e := g.sessions.Open(g.v1)
	if e != nil {
		writeError(w, e)
		return
	}
	t, err := g.upgrader.Upgrade(w, r)
	if err != nil {
		s.Discard()
		return // the upgrader has answered
	}
	g.log.Debug("websocket open", "conn", s.Num(), "remote", r.RemoteAddr)
	// The session gets its own reader goroutine and the handler returns,
	// so the HTTP server's per-connection state (its 4 KiB write buffer,
	// the request, a handler stack grown by the handshake) is freed.
	go s.Serve(t)
}

// upgradeError answers a failed upgrade with a JSON error.
func (g *Gateway) upgradeError(w http.ResponseWriter, _ *http.Request, status int, reason error) {
	code := protocol.CodeBadRequest
	if status == http.StatusMethodNotAllowed {
		code = protocol.CodeMethodNotAllowed
	}
	writeJSON(w, status, protocol.ErrorResponse{Error: protocol.ErrorBody{Code: code, Message: reason.Error()}})
}
