package client

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Options tunes a Client. The zero value is ready to use: every zero field
// takes the default written next to it.
type Options struct {
	Logger         *slog.Logger  // default: discard
	DialTimeout    time.Duration // WebSocket handshake, per URL; default 5s
	WriteTimeout   time.Duration // one frame write; default 10s
	PingInterval   time.Duration // app-level ping; the link is dead after 2 silent intervals; default 20s
	ReconnectMin   time.Duration // first reconnect delay; default 100ms
	ReconnectMax   time.Duration // cap of the exponential backoff; default 5s
	PublishWindow  int           // PublishAsync calls in flight before the next one waits; default 256
	PublishTimeout time.Duration // deadline of one PublishAsync, retries included; default 30s
	MaxFrameBytes  int64         // largest frame accepted from the server; default 16 MiB
	// MoveAfter is how long the connected node may keep answering
	// publishes with not_leader (it cannot reach a leader: cut off from the
	// majority), counted from when the first of them was sent, before the
	// client moves to another of its URLs (a random one), re-sending those
	// publishes there. A node answers not_leader only after waiting for a
	// leader for its heartbeat timeout plus two election timeouts (3s by
	// default), so with the default, 1s, the first such answer moves the
	// client. Negative: never move. With one URL the client never moves.
	MoveAfter time.Duration
	Header    http.Header // extra handshake headers (e.g. Authorization)
	// TLS configures wss:// and https:// connections (LoadTLS reads a CA
	// bundle and a client certificate from files); nil: the system's roots.
	TLS *tls.Config
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.DialTimeout = orDuration(o.DialTimeout, 5*time.Second)
	o.WriteTimeout = orDuration(o.WriteTimeout, 10*time.Second)
	o.PingInterval = orDuration(o.PingInterval, 20*time.Second)
	o.ReconnectMin = orDuration(o.ReconnectMin, 100*time.Millisecond)
	o.ReconnectMax = orDuration(o.ReconnectMax, 5*time.Second)
	o.PublishTimeout = orDuration(o.PublishTimeout, 30*time.Second)
	if o.MoveAfter == 0 {
		o.MoveAfter = time.Second
	}
	if o.PublishWindow <= 0 {
		o.PublishWindow = 256
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = 16 << 20
	}
	return o
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// backoff returns the delay before reconnect attempt n (0-based):
// exponential from ReconnectMin, capped at ReconnectMax, with jitter drawn
// from [d/2, d] so that many clients of a restarted node spread out.
func (o Options) backoff(n int) time.Duration {
	d := o.ReconnectMin
	for i := 0; i < n && d < o.ReconnectMax; i++ {
		d *= 2
	}
	d = min(d, o.ReconnectMax)
	return d/2 + rand.N(d/2+1)
}

// WebSocketURL turns a server address as users write it — "host:port",
// "http://host:port", "ws://host:port" or a full ".../v1/ws" URL — into the
// WebSocket endpoint URL.
func WebSocketURL(s string) (string, error) {
	u, err := parseServerURL(s)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/ws"
	}
	return u.String(), nil
}

// HTTPURL turns a server address as users write it into the base URL of the
// HTTP API ("http://host:port", no path).
func HTTPURL(s string) (string, error) {
	u, err := parseServerURL(s)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path, u.RawQuery = "", ""
	return u.String(), nil
}

func parseServerURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("server address %q: %w", s, err)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return nil, fmt.Errorf("server address %q: scheme must be http, https, ws or wss", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server address %q: no host", s)
	}
	return u, nil
}
