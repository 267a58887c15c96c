package sioroute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// peerTable is a gossip table as a test sets it.
type peerTable struct {
	mu   sync.Mutex
	addr map[string]string
}

func (p *peerTable) set(id, addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addr[id] = addr
}

func (p *peerTable) MemberAPIAddress(id string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.addr[id]
	return a, ok
}

// readTimeout is the test servers' http.Server.ReadTimeout.
const readTimeout = 300 * time.Millisecond

// testNode is one node's HTTP server on loopback: a Router in front of an
// endpoint that says which node served a request and how it arrived.
type testNode struct {
	id   string
	url  string
	srv  *http.Server
	held chan struct{} // a request with hold=1 got to the endpoint
}

// startNode serves a Router for id on 127.0.0.1; t.Cleanup closes it.
func startNode(t *testing.T, id string, peers Peers, tune func(*Config)) *testNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{id: id, url: "http://" + ln.Addr().String(), held: make(chan struct{}, 16)}
	cfg := DefaultConfig()
	cfg.Node, cfg.Peers = id, peers
	if tune != nil {
		tune(&cfg)
	}
	rt, err := New(http.HandlerFunc(n.endpoint), cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.srv = &http.Server{Handler: rt, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: readTimeout}
	go func() { _ = n.srv.Serve(ln) }()
	t.Cleanup(func() { n.stop(); rt.Close() })
	return n
}

func (n *testNode) stop() { _ = n.srv.Close() }

// endpoint answers "<node> <method> <sid> <forwarded by> <host> <body>";
// wait=1 blocks until the request ends, hold=1 too after telling held,
// slow=1 answers after three times the server's read timeout; a
// WebSocket says "<node> ready", then echoes each message as "<node> <msg>"
// (close=1: the first only, then it closes).
func (n *testNode) endpoint(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if websocket.IsWebSocketUpgrade(r) {
		n.echo(w, r, q.Get("close") == "1")
		return
	}
	if q.Get("hold") == "1" {
		n.held <- struct{}{}
	}
	if q.Get("slow") == "1" { // a long poll: the answer comes after the read timeout
		<-time.After(3 * readTimeout)
	}
	if q.Get("wait") == "1" || q.Get("hold") == "1" {
		<-r.Context().Done()
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %s %s %s %s %s", n.id, r.Method, q.Get("sid"), r.Header.Get(ForwardedHeader), r.Host, body)
}

func (n *testNode) echo(w http.ResponseWriter, r *http.Request, once bool) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	if c.WriteMessage(websocket.TextMessage, []byte(n.id+" ready")) != nil {
		return
	}
	for {
		_, msg, err := c.ReadMessage()
		if err != nil || c.WriteMessage(websocket.TextMessage, []byte(n.id+" "+string(msg))) != nil || once {
			return
		}
	}
}

// cluster starts nodes a and b, each knowing the other's address.
func cluster(t *testing.T, tune func(*Config)) (a, b *testNode, peers *peerTable) {
	peers = &peerTable{addr: map[string]string{}}
	a, b = startNode(t, "a", peers, tune), startNode(t, "b", peers, tune)
	peers.set("a", a.url)
	peers.set("b", b.url)
	return a, b, peers
}

func sidOf(t *testing.T, node string) string {
	t.Helper()
	sid, err := NewSID(node)
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

// do sends method to base's /socket.io/ with query and body, and returns
// the status and body.
func do(t *testing.T, method, base, query, body string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+"/socket.io/?EIO=4&transport=polling&"+query, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	hc := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

const unknownBody = `{"code":1,"message":"Session ID unknown"}`

func TestRouterServesLocally(t *testing.T) {
	a, _, _ := cluster(t, nil)
	host := strings.TrimPrefix(a.url, "http://")
	own := sidOf(t, "a")
	for name, query := range map[string]string{
		"handshake":     "",
		"own sid":       "sid=" + own,
		"sid of no one": "sid=Ynf5bKmnsrAFDUKKAAAB",
	} {
		sid, _ := url.ParseQuery(query)
		want := "a GET " + sid.Get("sid") + "  " + host + " "
		if code, body := do(t, http.MethodGet, a.url, query, "", nil); code != http.StatusOK || body != want {
			t.Errorf("%s: %d %q, want 200 %q", name, code, body, want)
		}
	}
}

func TestRouterForwardsPolling(t *testing.T) {
	a, _, _ := cluster(t, nil)
	sid := sidOf(t, "b")
	host := strings.TrimPrefix(a.url, "http://")
	code, body := do(t, http.MethodGet, a.url, "sid="+sid, "", nil)
	if want := "b GET " + sid + " a " + host + " "; code != http.StatusOK || body != want {
		t.Errorf("GET: %d %q, want 200 %q", code, body, want)
	}
	code, body = do(t, http.MethodPost, a.url, "sid="+sid, "4hello\x1e4world", nil)
	if want := "b POST " + sid + " a " + host + " 4hello\x1e4world"; code != http.StatusOK || body != want {
		t.Errorf("POST: %d %q, want 200 %q", code, body, want)
	}
}

func TestRouterLongPoll(t *testing.T) {
	a, _, _ := cluster(t, nil)
	sid := sidOf(t, "b")
	if code, body := do(t, http.MethodGet, a.url, "slow=1&sid="+sid, "", nil); code != http.StatusOK || !strings.HasPrefix(body, "b GET") {
		t.Errorf("a poll answered after a's read timeout: %d %q, want b's answer", code, body)
	}
}

func TestRouterNeverForwardsTwice(t *testing.T) {
	a, _, peers := cluster(t, nil)
	sid := sidOf(t, "b")
	hdr := http.Header{ForwardedHeader: {"c"}}
	if code, body := do(t, http.MethodGet, a.url, "sid="+sid, "", hdr); code != http.StatusOK || !strings.HasPrefix(body, "a GET "+sid+" c ") {
		t.Errorf("forwarded request for b's sid at a: %d %q, want a's endpoint", code, body)
	}
	// A table that sends b's sessions back to a: one hop, then a serves it.
	peers.set("b", a.url)
	if code, body := do(t, http.MethodGet, a.url, "sid="+sid, "", nil); code != http.StatusOK || !strings.HasPrefix(body, "a GET "+sid+" a ") {
		t.Errorf("loop: %d %q, want a's endpoint after one hop", code, body)
	}
}

func TestRouterUnknownSession(t *testing.T) {
	a, b, peers := cluster(t, nil)
	peers.set("gone", "not a url")
	b.stop()
	for _, node := range []string{"n9", "gone", "b"} {
		code, body := do(t, http.MethodGet, a.url, "sid="+sidOf(t, node), "", nil)
		if code != http.StatusBadRequest || body != unknownBody {
			t.Errorf("sid of %s: %d %q, want 400 %s", node, code, body, unknownBody)
		}
	}
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(a, sidOf(t, "b"), ""), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("upgrade for a dead node's sid: %v %v, want 400", resp, err)
	}
}

func TestRouterTimeout(t *testing.T) {
	a, _, _ := cluster(t, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	code, body := do(t, http.MethodGet, a.url, "wait=1&sid="+sidOf(t, "b"), "", nil)
	if code != http.StatusBadRequest || body != unknownBody {
		t.Errorf("owner silent past the timeout: %d %q, want 400 %s", code, body, unknownBody)
	}
}

func TestRouterBodyLimit(t *testing.T) {
	a, _, _ := cluster(t, func(c *Config) { c.MaxBodyBytes = 10 })
	sid := sidOf(t, "b")
	if code, _ := do(t, http.MethodPost, a.url, "sid="+sid, "4hello", nil); code != http.StatusOK {
		t.Errorf("body under the limit: %d, want 200", code)
	}
	if code, _ := do(t, http.MethodPost, a.url, "sid="+sid, strings.Repeat("x", 11), nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("body over the limit: %d, want 413", code)
	}
	req, err := http.NewRequest(http.MethodPost, a.url+"/socket.io/?EIO=4&transport=polling&sid="+sid, io.MultiReader(strings.NewReader(strings.Repeat("x", 64))))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // chunked: the limit is found while forwarding
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over the limit: %d, want 413", resp.StatusCode)
	}
}

func TestRouterMaxForwards(t *testing.T) {
	a, b, _ := cluster(t, func(c *Config) { c.MaxForwards = 1 })
	sid := sidOf(t, "b")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url+"/socket.io/?EIO=4&hold=1&sid="+sid, nil)
		if err == nil {
			_, err = (&http.Client{Transport: &http.Transport{}}).Do(req)
		}
		done <- err
	}()
	<-b.held
	if code, _ := do(t, http.MethodGet, a.url, "sid="+sid, "", nil); code != http.StatusServiceUnavailable {
		t.Errorf("second forward while one is held: %d, want 503", code)
	}
	if code, _ := do(t, http.MethodGet, a.url, "sid="+sidOf(t, "a"), "", nil); code != http.StatusOK {
		t.Errorf("own session while the forwards are used up: %d, want 200", code)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("held request: %v, want canceled", err)
	}
	err := pollFor(5*time.Second, func() error {
		if code, _ := do(t, http.MethodGet, a.url, "sid="+sid, "", nil); code != http.StatusOK {
			return fmt.Errorf("status %d", code)
		}
		return nil
	})
	if err != nil {
		t.Errorf("forward after the held one ended: %v", err)
	}
}

func wsURL(n *testNode, sid, extra string) string {
	return "ws" + strings.TrimPrefix(n.url, "http") + "/socket.io/?EIO=4&transport=websocket&sid=" + sid + extra
}

// dialWS opens a WebSocket to n for sid and reads the owner's greeting.
func dialWS(t *testing.T, n *testNode, sid, extra string) (*websocket.Conn, string) {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(wsURL(n, sid, extra), nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", n.id, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return c, read(t, c)
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(msg)
}

func TestRouterForwardsWebSocket(t *testing.T) {
	a, _, _ := cluster(t, nil)
	c, hello := dialWS(t, a, sidOf(t, "b"), "")
	if hello != "b ready" {
		t.Fatalf("greeting %q, want b's", hello)
	}
	// The tunnel outlives the read timeout of a's HTTP server: a
	// WebSocket is not a request that must be read in time.
	<-time.After(3 * readTimeout)
	for _, m := range []string{"2probe", "5"} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if got := read(t, c); got != "b "+m {
			t.Errorf("echo %q, want %q", got, "b "+m)
		}
	}
}

func TestRouterWebSocketEndsWithOwner(t *testing.T) {
	a, _, _ := cluster(t, nil)
	c, _ := dialWS(t, a, sidOf(t, "b"), "&close=1")
	if err := c.WriteMessage(websocket.TextMessage, []byte("bye")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != "b bye" {
		t.Fatalf("echo %q", got)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := c.ReadMessage()
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("read after the owner closed: %v, want the tunnel closed", err)
	}
}

// pollFor calls fn until it returns nil or within ends.
func pollFor(within time.Duration, fn func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
