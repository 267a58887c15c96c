package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carriermq/carrier/protocol"
)

// Admin calls the HTTP API of one node (docs/http-api.md): queue
// administration, dead letters, reads and cluster status. Bodies are the
// protocol package's JSON types. Safe for concurrent use.
type Admin struct {
	base string
	hc   *http.Client
}

// NewAdmin returns an Admin for server ("host:port" or "http://host:port").
// A nil hc uses a client with a 30 s timeout.
func NewAdmin(server string, hc *http.Client) (*Admin, error) {
	base, err := HTTPURL(server)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Admin{base: base, hc: hc}, nil
}

// URL is the base URL requests go to.
func (a *Admin) URL() string { return a.base }

// Queues lists every queue, sorted by name.
func (a *Admin) Queues(ctx context.Context) ([]protocol.QueueInfo, error) {
	var out protocol.QueueList
	err := a.call(ctx, http.MethodGet, "/v1/queues", nil, &out)
	return out.Queues, err
}

// Queue describes one queue and its groups; its ETag is the version of its
// settings, for UpdateQueue's ifMatch.
func (a *Admin) Queue(ctx context.Context, name string) (protocol.QueueInfo, error) {
	var out protocol.QueueInfo
	err := a.call(ctx, http.MethodGet, queuePath(name), nil, &out)
	return out, err
}

// CreateQueue creates a queue; zero fields of cfg take the server's
// defaults. Creating a queue that exists with the same settings succeeds.
func (a *Admin) CreateQueue(ctx context.Context, name string, cfg protocol.QueueConfig) (protocol.QueueInfo, error) {
	var out protocol.QueueInfo
	err := a.call(ctx, http.MethodPut, queuePath(name), cfg, &out)
	return out, err
}

// UpdateQueue changes the non-zero fields of cfg on an existing queue. A
// non-empty ifMatch (a QueueInfo.ETag, or "*") applies the change only to
// that version of the settings: if they changed since, the error's code is
// protocol.CodePreconditionFailed and nothing changed. Without it the
// server merges cfg with whatever the current settings are.
func (a *Admin) UpdateQueue(ctx context.Context, name string, cfg protocol.QueueConfig, ifMatch string) (protocol.QueueInfo, error) {
	var out protocol.QueueInfo
	err := a.callIf(ctx, http.MethodPatch, queuePath(name), ifMatch, cfg, &out)
	return out, err
}

// PurgeQueue removes every stored message and returns how many.
func (a *Admin) PurgeQueue(ctx context.Context, name string) (int, error) {
	var out protocol.CountResponse
	err := a.call(ctx, http.MethodPost, queuePath(name)+"/purge", nil, &out)
	return deref(out.Purged), err
}

// DeleteQueue removes a queue with its messages, groups and dead letters.
func (a *Admin) DeleteQueue(ctx context.Context, name string) error {
	return a.call(ctx, http.MethodDelete, queuePath(name), nil, nil)
}

// Group describes one consumer group; its ETag is the version of its
// settings, for UpdateGroup's ifMatch.
func (a *Admin) Group(ctx context.Context, queue, group string) (protocol.GroupInfo, error) {
	var out protocol.GroupInfo
	err := a.call(ctx, http.MethodGet, groupPath(queue, group), nil, &out)
	return out, err
}

// CreateGroup creates a consumer group ahead of its members; zero fields
// of cfg take the queue's group defaults. Creating a group that exists
// with the same settings succeeds.
func (a *Admin) CreateGroup(ctx context.Context, queue, group string, cfg protocol.GroupConfig) (protocol.GroupInfo, error) {
	var out protocol.GroupInfo
	err := a.call(ctx, http.MethodPut, groupPath(queue, group), cfg, &out)
	return out, err
}

// UpdateGroup changes the non-zero fields of cfg on an existing group in
// place (members and their messages stay); a start other than the group's
// is refused (bad_config). ifMatch is as for UpdateQueue.
func (a *Admin) UpdateGroup(ctx context.Context, queue, group string, cfg protocol.GroupConfig, ifMatch string) (protocol.GroupInfo, error) {
	var out protocol.GroupInfo
	err := a.callIf(ctx, http.MethodPatch, groupPath(queue, group), ifMatch, cfg, &out)
	return out, err
}

// DeleteGroup removes a consumer group and its state.
func (a *Admin) DeleteGroup(ctx context.Context, queue, group string) error {
	return a.call(ctx, http.MethodDelete, groupPath(queue, group), nil, nil)
}

// Read returns up to limit stored messages with seq >= from (0: the
// first); pass the list's Next as from to continue.
func (a *Admin) Read(ctx context.Context, queue string, from uint64, limit int) (protocol.MessageList, error) {
	var out protocol.MessageList
	err := a.call(ctx, http.MethodGet, queuePath(queue)+"/messages"+pageQuery(from, limit), nil, &out)
	return out, err
}

// DeadLetters returns up to limit dead letters with dlSeq >= from.
func (a *Admin) DeadLetters(ctx context.Context, queue string, from uint64, limit int) (protocol.DeadLetterList, error) {
	var out protocol.DeadLetterList
	err := a.call(ctx, http.MethodGet, queuePath(queue)+"/dlq"+pageQuery(from, limit), nil, &out)
	return out, err
}

// Redrive moves the given dead letters (none: all of them) back to their
// groups and returns how many moved.
func (a *Admin) Redrive(ctx context.Context, queue string, dlSeqs []uint64) (int, error) {
	var out protocol.CountResponse
	err := a.call(ctx, http.MethodPost, queuePath(queue)+"/dlq/redrive", protocol.RedriveRequest{DLSeqs: dlSeqs}, &out)
	return deref(out.Redriven), err
}

// Publish publishes one message over HTTP (the WebSocket Client is the
// faster way for many). An empty m.ID is filled so a retry is safe.
func (a *Admin) Publish(ctx context.Context, queue string, m Message) (PublishAck, error) {
	if m.ID == "" {
		m.ID = NewMessageID()
	}
	var out protocol.Published
	err := a.call(ctx, http.MethodPost, queuePath(queue)+"/messages", protocol.PublishRequest{Message: wireMessage(m)}, &out)
	return PublishAck{Seq: out.Seq, MsgID: out.MsgID, Duplicate: out.Duplicate}, err
}

// Cluster returns the node's view of its cluster.
func (a *Admin) Cluster(ctx context.Context) (protocol.ClusterStatus, error) {
	var out protocol.ClusterStatus
	err := a.call(ctx, http.MethodGet, "/v1/cluster", nil, &out)
	return out, err
}

// RemoveMember removes the node id from the cluster's Raft configuration
// (scale-down); a follower forwards the call to the leader.
func (a *Admin) RemoveMember(ctx context.Context, id string) (protocol.MemberChange, error) {
	var out protocol.MemberChange
	err := a.call(ctx, http.MethodPost, "/v1/cluster/members/"+url.PathEscape(id)+"/remove", nil, &out)
	return out, err
}

// AddMember adds a node as a nonvoter (the explicit re-add of a removed
// node); the leader promotes it once it has caught up.
func (a *Admin) AddMember(ctx context.Context, id, raftAddress string) (protocol.MemberChange, error) {
	var out protocol.MemberChange
	err := a.call(ctx, http.MethodPost, "/v1/cluster/members", protocol.AddMemberRequest{ID: id, RaftAddress: raftAddress}, &out)
	return out, err
}

// TransferLeadership hands leadership to the voter to ("": the most
// up-to-date other voter) and returns the new leader; any node forwards it
// to the leader. A single voter refuses with bad_request, an unknown id
// is not_found.
func (a *Admin) TransferLeadership(ctx context.Context, to string) (protocol.LeaderTransfer, error) {
	var out protocol.LeaderTransfer
	err := a.call(ctx, http.MethodPost, "/v1/cluster/leader/transfer", protocol.TransferRequest{To: to}, &out)
	return out, err
}

// SafeToStop asks the leader whether stopping member id now keeps a quorum
// of caught-up voters. An unsafe stop is an answer (Safe false, with the
// Reason), not an error; an id not in the configuration is not_found.
func (a *Admin) SafeToStop(ctx context.Context, id string) (protocol.StopCheck, error) {
	var out protocol.StopCheck
	err := a.call(ctx, http.MethodGet, "/v1/cluster/members/"+url.PathEscape(id)+"/safe-to-stop", nil, &out)
	return out, err
}

// Leave makes the node this Admin talks to leave the cluster: it is removed
// from the Raft configuration, then leaves gossip.
func (a *Admin) Leave(ctx context.Context) (protocol.MemberChange, error) {
	var out protocol.MemberChange
	err := a.call(ctx, http.MethodPost, "/v1/cluster/leave", nil, &out)
	return out, err
}

// Ready returns nil when the node answers /readyz with 200, else why not.
func (a *Admin) Ready(ctx context.Context) error {
	return a.call(ctx, http.MethodGet, "/readyz", nil, nil)
}

func queuePath(name string) string { return "/v1/queues/" + url.PathEscape(name) }

func groupPath(queue, group string) string {
	return queuePath(queue) + "/groups/" + url.PathEscape(group)
}

func pageQuery(from uint64, limit int) string {
	q := url.Values{}
	if from > 0 {
		q.Set("from", strconv.FormatUint(from, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// call sends one request with a JSON body (when in is not nil) and decodes
// a 2xx JSON reply into out (when not nil). An error reply becomes *Error.
func (a *Admin) call(ctx context.Context, method, path string, in, out any) error {
	return a.callIf(ctx, method, path, "", in, out)
}

// callIf is call with an If-Match of version etag when it is not empty.
func (a *Admin) callIf(ctx context.Context, method, path, etag string, in, out any) error {
	req, err := a.newRequest(ctx, method, path, in)
	if err != nil {
		return err
	}
	if etag != "" {
		req.Header.Set("If-Match", entityTag(etag))
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, explainTLS(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read reply: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, replyError(resp.StatusCode, body))
	}
	if out == nil || len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: decode reply: %w", method, path, err)
	}
	return nil
}

func (a *Admin) newRequest(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// entityTag quotes an ETag as the If-Match header wants it; "*" and a tag
// already quoted are sent as they are.
func entityTag(etag string) string {
	if etag == "*" || strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, `W/"`) {
		return etag
	}
	return `"` + etag + `"`
}

// replyError reads {"error":{"code","message"}}; a body of another shape
// (a proxy's page, say) still gives an *Error with the HTTP status.
func replyError(status int, body []byte) *Error {
	var r protocol.ErrorResponse
	if json.Unmarshal(body, &r) == nil && r.Error.Code != "" {
		return &Error{Code: r.Error.Code, Message: r.Error.Message}
	}
	msg := string(bytes.TrimSpace(body))
	if m, ok := explainPlain(status, body); ok {
		msg = m
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return &Error{Code: "http_" + strconv.Itoa(status), Message: msg}
}
