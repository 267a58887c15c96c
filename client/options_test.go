package client

import (
	"testing"
	"time"
)

func TestWebSocketURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:7420", "ws://127.0.0.1:7420/v1/ws"},
		{"http://127.0.0.1:7420", "ws://127.0.0.1:7420/v1/ws"},
		{"http://127.0.0.1:7420/", "ws://127.0.0.1:7420/v1/ws"},
		{"https://carrier.example:443", "wss://carrier.example:443/v1/ws"},
		{"ws://10.0.0.1:7420/v1/ws", "ws://10.0.0.1:7420/v1/ws"},
		{"wss://h/custom/ws", "wss://h/custom/ws"},
	}
	for _, tt := range tests {
		got, err := WebSocketURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("WebSocketURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestHTTPURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:7420", "http://127.0.0.1:7420"},
		{"ws://127.0.0.1:7420/v1/ws", "http://127.0.0.1:7420"},
		{"wss://h:1/v1/ws?x=1", "https://h:1"},
		{"http://h:7420/", "http://h:7420"},
	}
	for _, tt := range tests {
		got, err := HTTPURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("HTTPURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestServerURLRejects(t *testing.T) {
	for _, in := range []string{"ftp://h:1", "http://", "://x", "http://%zz"} {
		if got, err := WebSocketURL(in); err == nil {
			t.Errorf("WebSocketURL(%q) = %q, want an error", in, got)
		}
	}
}

func TestBackoffGrowsWithinBounds(t *testing.T) {
	o := Options{ReconnectMin: 100 * time.Millisecond, ReconnectMax: 2 * time.Second}.withDefaults()
	for n := range 12 {
		want := min(o.ReconnectMin<<n, o.ReconnectMax)
		for range 50 {
			d := o.backoff(n)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
}
