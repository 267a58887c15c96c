package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carriermq/carrier/cluster"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// staleTag is a version no settings have.
const staleTag = `"0000000000000000"`

func ifMatchHeader(v string) http.Header { return http.Header{"If-Match": {v}} }

// queueVersion GETs a queue and checks that the ETag header is the body's
// etag, quoted.
func (s *server) queueVersion(name string) protocol.QueueInfo {
	s.t.Helper()
	var info protocol.QueueInfo
	code, hdr := s.httpWith("GET", "/v1/queues/"+name, nil, nil, &info)
	if code != 200 || info.ETag == "" || hdr.Get("ETag") != `"`+info.ETag+`"` {
		s.t.Fatalf("GET queue %s: %d, ETag header %q, body etag %q", name, code, hdr.Get("ETag"), info.ETag)
	}
	return info
}

// patchError expects a PATCH with If-Match to fail with status and code.
func (s *server) patchError(path, tag, body string, status int, code string) {
	s.t.Helper()
	var e protocol.ErrorResponse
	if got, _ := s.httpWith("PATCH", path, ifMatchHeader(tag), body, &e); got != status || e.Error.Code != code {
		s.t.Fatalf("PATCH %s If-Match %s: got %d %q (%s), want %d %q", path, tag, got, e.Error.Code, e.Error.Message, status, code)
	}
}

// patchOK expects a PATCH with If-Match to succeed and returns the queue.
func (s *server) patchOK(path, tag, body string) protocol.QueueInfo {
	s.t.Helper()
	var info protocol.QueueInfo
	code, hdr := s.httpWith("PATCH", path, ifMatchHeader(tag), body, &info)
	if code != 200 || hdr.Get("ETag") != `"`+info.ETag+`"` {
		s.t.Fatalf("PATCH %s If-Match %s: %d, ETag header %q, body %+v", path, tag, code, hdr.Get("ETag"), info)
	}
	return info
}

// Every queue answer carries its version; a PATCH with an If-Match that
// does not name the current version changes nothing and answers 412; one
// that names it (alone, in a list, bare, or "*") applies and makes a new
// version.
func TestQueueETagAndIfMatch(t *testing.T) {
	s := startServer(t, DefaultConfig())
	var created protocol.QueueInfo
	code, hdr := s.httpWith("PUT", "/v1/queues/orders", nil, `{"maxMessages":100}`, &created)
	if code != 200 || created.ETag == "" || hdr.Get("ETag") != `"`+created.ETag+`"` {
		t.Fatalf("PUT: %d, ETag header %q, body %+v", code, hdr.Get("ETag"), created)
	}
	v1 := s.queueVersion("orders")
	var list protocol.QueueList
	if s.httpDo("GET", "/v1/queues", nil, &list); len(list.Queues) != 1 || list.Queues[0].ETag != v1.ETag || v1.ETag != created.ETag {
		t.Fatalf("list %+v, info etag %s, created %s: want one version", list, v1.ETag, created.ETag)
	}

	const path = "/v1/queues/orders"
	s.patchError(path, staleTag, `{"maxAge":"1h"}`, 412, protocol.CodePreconditionFailed)
	s.patchError(path, `W/"`+v1.ETag+`"`, `{"maxAge":"1h"}`, 412, protocol.CodePreconditionFailed)
	if now := s.queueVersion("orders"); now.ETag != v1.ETag || now.Config.MaxAge != "" {
		t.Fatalf("after refused PATCHes: %+v, want unchanged", now)
	}

	v2 := s.patchOK(path, `"`+v1.ETag+`"`, `{"maxAge":"1h"}`)
	if v2.ETag == v1.ETag || v2.Config.MaxAge != "1h0m0s" || v2.Config.MaxMessages != 100 {
		t.Fatalf("PATCH with the current version: %+v (was %s)", v2, v1.ETag)
	}
	s.patchError(path, `"`+v1.ETag+`"`, `{"maxMessages":5}`, 412, protocol.CodePreconditionFailed)
	if now := s.queueVersion("orders"); now.ETag != v2.ETag || now.Config.MaxMessages != 100 {
		t.Fatalf("after a PATCH of an old version: %+v, want unchanged", now)
	}
	v3 := s.patchOK(path, staleTag+`, "`+v2.ETag+`"`, `{"maxMessages":200}`)
	v4 := s.patchOK(path, v3.ETag, `{"maxMessages":300}`)
	v5 := s.patchOK(path, "*", `{"maxMessages":400}`)
	if v3.Config.MaxMessages != 200 || v4.Config.MaxMessages != 300 || v5.Config.MaxMessages != 400 {
		t.Fatalf("PATCHes by list, bare tag and *: %+v %+v %+v", v3, v4, v5)
	}
	s.patchError("/v1/queues/nope", "*", `{"maxAge":"1h"}`, 404, protocol.CodeQueueNotFound)
}

// racingBackend commits another update of the queue's settings right
// before the gateway's first UpdateQueue, as a concurrent client would
// between the gateway's read and its commit.
type racingBackend struct {
	*cluster.Node
	race    func(*cluster.Node) error
	once    sync.Once
	updates atomic.Int32 // UpdateQueue commands the gateway proposed
}

func (b *racingBackend) Propose(ctx context.Context, cmd queue.Command) (queue.Result, error) {
	if _, ok := cmd.(queue.UpdateQueue); ok {
		b.updates.Add(1)
		var err error
		b.once.Do(func() { err = b.race(b.Node) })
		if err != nil {
			return queue.Result{}, fmt.Errorf("the racing update: %w", err)
		}
	}
	return b.Node.Propose(ctx, cmd)
}

// setMaxAge is the racing update: the queue's settings with MaxAge 1h.
func setMaxAge(n *cluster.Node) error {
	var info queue.QueueInfo
	var err error
	n.View(func(s *queue.State) { info, err = s.Queue("orders") })
	if err != nil {
		return err
	}
	cfg := info.Config
	cfg.MaxAge = time.Hour
	_, err = n.Propose(context.Background(), queue.UpdateQueue{Name: "orders", Config: cfg})
	return err
}

// A PATCH without If-Match that loses the race with another update reads
// again and applies its change on top: both changes stay. With the
// client's If-Match the same race answers 412 and only the other update
// is applied.
func TestPatchAfterConcurrentUpdateLosesNothing(t *testing.T) {
	for _, tt := range []struct {
		name       string
		tag        string
		status     int
		maxMessage int64
		proposals  int32
	}{
		{"without If-Match", "", 200, 500, 2},
		{"with If-Match", "current", 412, 100, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &racingBackend{race: setMaxAge}
			s := startServerWith(t, DefaultConfig(), func(n *cluster.Node) Backend { b.Node = n; return b })
			s.httpDo("PUT", "/v1/queues/orders", `{"maxMessages":100}`, nil)
			var hdr http.Header
			if tt.tag == "current" {
				hdr = ifMatchHeader(`"` + s.queueVersion("orders").ETag + `"`)
			}
			if code, _ := s.httpWith("PATCH", "/v1/queues/orders", hdr, `{"maxMessages":500}`, nil); code != tt.status {
				t.Fatalf("PATCH: %d, want %d", code, tt.status)
			}
			info := s.queueVersion("orders")
			if info.Config.MaxAge != "1h0m0s" || info.Config.MaxMessages != tt.maxMessage || b.updates.Load() != tt.proposals {
				t.Fatalf("after the race: %+v after %d proposals; want maxAge 1h (the other update) and maxMessages %d after %d",
					info.Config, b.updates.Load(), tt.maxMessage, tt.proposals)
			}
		})
	}
}

// laggingBackend shows the gateway, once, a state that has not applied the
// last update, as a follower a moment behind the leader would.
type laggingBackend struct {
	*cluster.Node
	mu        sync.Mutex
	stale     *queue.State // shown by the next View, then dropped
	proposals atomic.Int32
}

func (b *laggingBackend) View(fn func(*queue.State)) {
	b.mu.Lock()
	st := b.stale
	b.stale = nil
	b.mu.Unlock()
	if st != nil {
		fn(st)
		return
	}
	b.Node.View(fn)
}

func (b *laggingBackend) Propose(ctx context.Context, cmd queue.Command) (queue.Result, error) {
	b.proposals.Add(1)
	return b.Node.Propose(ctx, cmd)
}

// copyState is a copy of the node's applied state, through a snapshot.
func copyState(t *testing.T, n *cluster.Node) *queue.State {
	t.Helper()
	var snap *queue.Snapshot
	n.View(func(s *queue.State) { snap = s.Snapshot() })
	var buf bytes.Buffer
	if _, err := snap.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	st := queue.New(nil)
	if err := st.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	return st
}

// A PATCH whose If-Match names a version this node has not applied yet
// (the client read it from another, fresher node) is not refused: the
// gateway catches up first. A version that is really stale still is.
func TestIfMatchOfAVersionNotAppliedHereYet(t *testing.T) {
	b := &laggingBackend{}
	s := startServerWith(t, DefaultConfig(), func(n *cluster.Node) Backend { b.Node = n; return b })
	s.httpDo("PUT", "/v1/queues/orders", `{"maxMessages":100}`, nil)
	old := s.queueVersion("orders")
	stale := copyState(t, b.Node)
	fresh := s.patchOK("/v1/queues/orders", "*", `{"maxAge":"1h"}`)

	b.mu.Lock()
	b.stale = stale
	b.mu.Unlock()
	before := b.proposals.Load()
	info := s.patchOK("/v1/queues/orders", fresh.ETag, `{"maxMessages":500}`)
	if info.Config.MaxAge != "1h0m0s" || info.Config.MaxMessages != 500 || b.proposals.Load()-before != 2 {
		t.Fatalf("PATCH of a version this node had not applied: %+v after %d proposals; want both changes after a refused catch-up and the update",
			info.Config, b.proposals.Load()-before)
	}
	s.patchError("/v1/queues/orders", old.ETag, `{"maxMessages":7}`, 412, protocol.CodePreconditionFailed)
}

// Two clients PATCH different settings of one queue at the same time,
// without If-Match, round after round: after each round both are applied.
func TestConcurrentPatchesBothApplied(t *testing.T) {
	s := startServer(t, DefaultConfig())
	s.httpDo("PUT", "/v1/queues/orders", nil, nil)
	for round := int64(1); round <= 20; round++ {
		bodies := []string{fmt.Sprintf(`{"maxMessages":%d}`, 1000+round), fmt.Sprintf(`{"maxDeadLetters":%d}`, 2000+round)}
		errs := make([]error, len(bodies))
		var wg sync.WaitGroup
		for i, body := range bodies {
			wg.Go(func() { errs[i] = patch(s.ts.URL+"/v1/queues/orders", body) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if c := s.queueVersion("orders").Config; c.MaxMessages != 1000+round || c.MaxDeadLetters != 2000+round {
			t.Fatalf("round %d: maxMessages %d, maxDeadLetters %d; want both of this round's", round, c.MaxMessages, c.MaxDeadLetters)
		}
	}
}

// patch sends one PATCH without If-Match and wants 200.
func patch(url, body string) error {
	req, err := http.NewRequest("PATCH", url, bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("PATCH %s: %d %s", body, resp.StatusCode, b)
	}
	return nil
}

// groupVersion GETs a group and checks its ETag header.
func (s *server) groupVersion(q, group string) protocol.GroupInfo {
	s.t.Helper()
	var info protocol.GroupInfo
	code, hdr := s.httpWith("GET", "/v1/queues/"+q+"/groups/"+group, nil, nil, &info)
	if code != 200 || info.ETag == "" || hdr.Get("ETag") != `"`+info.ETag+`"` {
		s.t.Fatalf("GET group %s: %d, ETag header %q, body etag %q", group, code, hdr.Get("ETag"), info.ETag)
	}
	return info
}

// A group's PATCH changes its settings in place: a member held back by
// maxInFlight 1 receives the rest once it is raised, without subscribing
// again; the other settings and the start stay; another start is refused;
// If-Match works as for queues.
func TestGroupPatchInPlace(t *testing.T) {
	s := startServer(t, DefaultConfig())
	s.httpDo("PUT", "/v1/queues/jobs", nil, nil)
	var created protocol.GroupInfo
	code, hdr := s.httpWith("PUT", "/v1/queues/jobs/groups/g", nil, `{"maxInFlight":1,"ackWait":"1m","start":"first"}`, &created)
	if code != 200 || created.ETag == "" || hdr.Get("ETag") != `"`+created.ETag+`"` {
		t.Fatalf("PUT group: %d, ETag header %q, body %+v", code, hdr.Get("ETag"), created)
	}
	c := s.dial()
	sub := subscribeGroup(c, "jobs", "g", protocol.Frame{})
	for i := range 3 {
		c.publishWS("jobs", "job", fmt.Sprint(i))
	}
	if m := c.message(sub); m.Seq != 1 {
		t.Fatalf("first delivery %+v", m)
	}
	if gi := s.groupVersion("jobs", "g"); gi.Unacked != 1 || gi.Pending != 2 || gi.ETag != created.ETag {
		t.Fatalf("held back by maxInFlight 1: %+v", gi)
	}

	const path = "/v1/queues/jobs/groups/g"
	var gi protocol.GroupInfo
	if code, hdr := s.httpWith("PATCH", path, nil, `{"maxInFlight":3}`, &gi); code != 200 || hdr.Get("ETag") != `"`+gi.ETag+`"` ||
		gi.ETag == created.ETag || gi.Config.MaxInFlight != 3 || gi.Config.AckWait != "1m0s" || gi.Members != 1 || gi.Config.Start.Kind != "first" {
		t.Fatalf("PATCH maxInFlight: %d %+v", code, gi)
	}
	if m2, m3 := c.message(sub), c.message(sub); m2.Seq != 2 || m3.Seq != 3 || m2.Attempt != 1 {
		t.Fatalf("after raising maxInFlight: %+v %+v, want seqs 2 and 3", m2, m3)
	}

	s.httpError("PATCH", path, `{"start":"new"}`, 400, protocol.CodeBadConfig)
	if code := s.httpDo("PATCH", path, `{"start":"first","maxDeliver":7}`, &gi); code != 200 || gi.Config.MaxDeliver != 7 {
		t.Fatalf("PATCH with the group's own start: %d %+v", code, gi)
	}
	s.patchError(path, `"`+created.ETag+`"`, `{"maxDeliver":2}`, 412, protocol.CodePreconditionFailed)
	if now := s.groupVersion("jobs", "g"); now.ETag != gi.ETag || now.Config.MaxDeliver != 7 {
		t.Fatalf("after a refused PATCH: %+v, want %+v", now, gi)
	}
	if code, _ := s.httpWith("PATCH", path, ifMatchHeader(`"`+gi.ETag+`"`), `{"maxDeliver":2}`, &gi); code != 200 || gi.Config.MaxDeliver != 2 {
		t.Fatalf("PATCH with the current version: %d %+v", code, gi)
	}
	s.httpError("PATCH", "/v1/queues/jobs/groups/other", `{"maxDeliver":2}`, 404, protocol.CodeGroupNotFound)
	s.httpError("PATCH", "/v1/queues/nope/groups/g", `{"maxDeliver":2}`, 404, protocol.CodeQueueNotFound)
}

// Every kind of start survives a PATCH of the other settings.
func TestGroupPatchKeepsEveryStart(t *testing.T) {
	s := startServer(t, DefaultConfig())
	s.httpDo("PUT", "/v1/queues/jobs", nil, nil)
	for i, start := range []string{`"new"`, `"first"`, `{"kind":"seq","seq":2}`, `{"kind":"time","time":"2026-01-02T15:04:05.123456789Z"}`} {
		path := fmt.Sprintf("/v1/queues/jobs/groups/g%d", i)
		var before, after protocol.GroupInfo
		if code := s.httpDo("PUT", path, `{"start":`+start+`}`, &before); code != 200 {
			t.Fatalf("PUT group with start %s: %d", start, code)
		}
		if code := s.httpDo("PATCH", path, `{"ackWait":"5s"}`, &after); code != 200 || after.Config.AckWait != "5s" || *after.Config.Start != *before.Config.Start {
			t.Fatalf("PATCH of a group with start %s: %d %+v, was %+v", start, code, after.Config, before.Config)
		}
	}
}

// On a single node: a transfer has no one to go to (bad_request) except
// the node itself, stopping the only voter is not safe, and an unknown
// member is not_found.
func TestClusterLeadershipRoutesSingleNode(t *testing.T) {
	s := startServer(t, DefaultConfig())
	s.httpError("POST", "/v1/cluster/leader/transfer", nil, 400, protocol.CodeBadRequest)
	s.httpError("POST", "/v1/cluster/leader/transfer", `{"to":"n9"}`, 400, protocol.CodeBadRequest)
	var tr protocol.LeaderTransfer
	if code := s.httpDo("POST", "/v1/cluster/leader/transfer", `{"to":"n1"}`, &tr); code != 200 || tr.Leader != "n1" || tr.Previous != "n1" {
		t.Fatalf("transfer to the leader itself: %d %+v", code, tr)
	}
	var chk protocol.StopCheck
	if code := s.httpDo("GET", "/v1/cluster/members/n1/safe-to-stop", nil, &chk); code != 200 || chk.Safe || chk.Member != "n1" ||
		!chk.Leader || !chk.Voter || chk.Voters != 1 || chk.Quorum != 1 || chk.Reason == "" {
		t.Fatalf("safe-to-stop n1: %d %+v", code, chk)
	}
	s.httpError("GET", "/v1/cluster/members/n9/safe-to-stop", nil, 404, protocol.CodeNotFound)
	s.httpError("POST", "/v1/cluster/members/n1/safe-to-stop", nil, 405, protocol.CodeMethodNotAllowed)
}
