package sioroute

import (
	"bufio"
	"net"
	"net/http"
)

// upgradeWriter is the ResponseWriter a forward hands to ReverseProxy. When
// ReverseProxy hijacks the client's connection for a WebSocket (net/http
// clears the request's read deadline then: a tunnel lives as long as both
// sides keep it, and the session's pings bound a silent one), it records
// that nothing more may be written as HTTP, and hides the connection's
// CloseWrite, so that the tunnel closes the client's connection as soon as
// the owner's side ends instead of waiting for the client to close its
// own. Used by one request's goroutine.
type upgradeWriter struct {
	http.ResponseWriter
	hijacked bool
}

// Unwrap lets http.ResponseController reach the server's writer (Flush).
func (u *upgradeWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// Hijack implements http.Hijacker.
func (u *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(u.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	u.hijacked = true
	return tunnelConn{c}, brw, nil
}

// tunnelConn is a net.Conn with only net.Conn's methods (no CloseWrite).
type tunnelConn struct{ net.Conn }
