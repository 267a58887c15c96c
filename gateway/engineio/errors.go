package engineio

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gorilla/websocket"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/protocol"
)

// protocolError is an Engine.IO error answer: the reference server's codes
// and messages, as {"code":N,"message":"…"} with HTTP 400 on a poll and as
// text on a WebSocket handshake.
type protocolError struct {
	status  int
	code    int
	message string
}

// The reference server's errors (engine.io's Server.errors and errorMessages).
var (
	errUnknownTransport    = &protocolError{http.StatusBadRequest, 0, "Transport unknown"}
	errUnknownSID          = &protocolError{http.StatusBadRequest, 1, "Session ID unknown"}
	errBadHandshakeMethod  = &protocolError{http.StatusBadRequest, 2, "Bad handshake method"}
	errBadRequest          = &protocolError{http.StatusBadRequest, 3, "Bad request"}
	errUnsupportedProtocol = &protocolError{http.StatusBadRequest, 5, "Unsupported protocol version"}
)

// codeForbidden is the reference's code for a handshake the server refuses
// (its allowRequest hook), with the server's reason as the message.
const codeForbidden = 4

// refused answers a handshake the session core did not admit (the
// connection limit, shutdown) with its status (503) and reason.
func refused(e *apierr.Error) *protocolError {
	status := http.StatusServiceUnavailable
	for _, c := range protocol.Codes {
		if c.Code == e.Code {
			status = c.Status
		}
	}
	return &protocolError{status, codeForbidden, e.Message}
}

func tooMany(n int) *protocolError {
	return &protocolError{http.StatusServiceUnavailable, codeForbidden,
		"this node serves " + strconv.Itoa(n) + " socket.io sessions, its limit"}
}

func (e *protocolError) Error() string {
	return fmt.Sprintf("engine.io error %d: %s", e.code, e.message)
}

// writeError answers r with e.
func writeError(w http.ResponseWriter, r *http.Request, e *protocolError) {
	if websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Connection", "close")
		w.WriteHeader(e.status)
		_, _ = io.WriteString(w, e.message)
		return
	}
	body, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{e.code, e.message})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}
