package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSlowHeaderIsCut: a client that sends its request header one byte at a
// time is disconnected once ReadHeaderTimeout has passed, while the server
// goes on answering others.
func TestSlowHeaderIsCut(t *testing.T) {
	s := startServer(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer("", s.gw, Config{ReadHeaderTimeout: 300 * time.Millisecond})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	slow, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	closed := make(chan error, 1)
	go func() { // the server's answer, if any, then EOF
		_, err := io.Copy(io.Discard, slow)
		closed <- err
	}()
	header := []byte("GET /v1/ws HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200))
	sent := 0
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	for cut := false; !cut && sent < len(header); {
		select {
		case err := <-closed:
			cut = true
			if err != nil && !errors.Is(err, net.ErrClosed) {
				t.Logf("connection ended: %v", err)
			}
		case <-ticker.C:
			if _, err := slow.Write(header[sent : sent+1]); err != nil {
				cut = true
				break
			}
			sent++
		}
	}
	if sent == len(header) {
		t.Fatalf("sent the whole %d-byte header one byte at a time and was never cut off", sent)
	}
	t.Logf("cut off after %d bytes", sent)
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("another client after the slow one: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %d", resp.StatusCode)
	}
}
