package dataplane

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
)

func TestParseOverride(t *testing.T) {
	nn, urls, err := ParseOverride("prod/orders=http://127.0.0.1:7420/,http://127.0.0.2:7420")
	if err != nil || nn != (types.NamespacedName{Namespace: "prod", Name: "orders"}) || len(urls) != 2 || urls[0] != "http://127.0.0.1:7420" {
		t.Fatalf("ParseOverride = %v %v %v", nn, urls, err)
	}
	for _, bad := range []string{"orders=http://x", "prod/orders", "prod/=http://x", "prod/orders=", "prod/orders=127.0.0.1:7420"} {
		if _, _, err := ParseOverride(bad); err == nil {
			t.Errorf("ParseOverride(%q) accepted", bad)
		}
	}
	o := Overrides{URLsOf: map[types.NamespacedName][]string{nn: urls}, Fallback: ServiceEndpoints{}}
	if got := o.URLs(types.NamespacedName{Namespace: "dev", Name: "a"}); len(got) != 1 || got[0] != "http://a.dev.svc:7420" {
		t.Errorf("fallback URLs %v, want the client Service", got)
	}
}

// Do moves past an endpoint that does not answer, stops at one that
// answers (even with an error reply), and says Unreachable when none does.
func TestDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"code":"queue_not_found","message":"no queue x"}}`))
	}))
	defer srv.Close()
	dead := closedURL(t)
	call := func(urls ...string) error {
		c, err := New(urls, &http.Client{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Do(context.Background(), c, func(a *client.Admin) (protocol.QueueInfo, error) { return a.Queue(context.Background(), "x") })
		return err
	}
	if err := call(dead, srv.URL); client.CodeOf(err) != protocol.CodeQueueNotFound || IsUnreachable(err) {
		t.Errorf("dead then live: %v, want the live node's queue_not_found", err)
	}
	if err := call(dead); !IsUnreachable(err) {
		t.Errorf("dead only: %v, want Unreachable", err)
	}
	c, _ := New([]string{dead}, nil)
	if c.Ready(context.Background(), dead) || c.Ready(context.Background(), "") {
		t.Error("a dead member is ready")
	}
}

// closedURL is the URL of a loopback port nothing listens on any more.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}
