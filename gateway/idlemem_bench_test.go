package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkIdleConnMemory opens b.N idle carrier.v1 WebSockets to one
// gateway and reports what each costs the server process: Go heap and
// goroutine stacks, from runtime.MemStats after a GC. The client side is a
// bare TCP connection that did the handshake by hand, so it adds almost
// nothing to the figures. "fresh" connections never sent a frame; "used"
// ones did one ping and got the pong first. RSS per connection, measured
// from outside, is in gateway/DESIGN.md. Run with:
//
//	go test ./gateway -run '^$' -bench IdleConnMemory -benchtime 2000x
func BenchmarkIdleConnMemory(b *testing.B) {
	b.Run("fresh", func(b *testing.B) { benchIdleConns(b, false) })
	b.Run("used", func(b *testing.B) { benchIdleConns(b, true) })
}

func benchIdleConns(b *testing.B, ping bool) {
	cfg := DefaultConfig()
	cfg.MaxConnections = max(cfg.MaxConnections, b.N)
	s := startServer(b, cfg)
	addr := strings.TrimPrefix(s.ts.URL, "http://")
	before := memNow()
	conns := make([]net.Conn, 0, b.N)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range b.N {
		c, err := rawUpgrade(addr)
		if err == nil && ping {
			err = rawPing(c)
		}
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitFor(b, "connections registered", func() error {
		if n := s.conns(); n != b.N {
			return fmt.Errorf("%d of %d", n, b.N)
		}
		return nil
	})
	after := memNow()
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(b.N), "heap-B/conn")
	b.ReportMetric(float64(after.StackInuse-before.StackInuse)/float64(b.N), "stack-B/conn")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(b.N), "goroutines/conn")
}

type memSample struct {
	runtime.MemStats
	goroutines int
}

func memNow() memSample {
	runtime.GC()
	var m memSample
	runtime.ReadMemStats(&m.MemStats)
	m.goroutines = runtime.NumGoroutine()
	return m
}

// rawUpgrade does the WebSocket handshake on a bare TCP connection.
func rawUpgrade(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_, err = c.Write([]byte("GET /v1/ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\n" +
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: carrier.v1\r\n\r\n"))
	if err == nil {
		var resp *http.Response
		if resp, err = http.ReadResponse(bufio.NewReader(c), nil); err == nil && resp.StatusCode != http.StatusSwitchingProtocols {
			err = &net.OpError{Op: "upgrade", Err: net.UnknownNetworkError(resp.Status)}
		}
	}
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// rawPing sends a ping frame (masked with a zero key, so the payload reads
// as is) and reads the pong frame.
func rawPing(c net.Conn) error {
	payload := `{"type":"ping","id":"1"}`
	frame := append([]byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
	if _, err := c.Write(frame); err != nil {
		return err
	}
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return err
	}
	_, err := io.ReadFull(c, make([]byte, hdr[1]&0x7f))
	return err
}
