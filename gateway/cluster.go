package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/carriermq/carrier/cluster"
	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/protocol"
)

// ClusterAdmin is what the cluster membership routes need besides Backend;
// *cluster.Node has it. A Backend without it answers those routes with
// unavailable. Methods are safe for concurrent use.
type ClusterAdmin interface {
	// RemoveMember removes a Raft member; cluster.ErrNotLeader on a follower.
	RemoveMember(ctx context.Context, id string) error
	// AddMember adds a nonvoter (promoted once caught up); ErrNotLeader on a follower.
	AddMember(ctx context.Context, id, raftAddress string) error
	// LeaveGossip announces this node's departure and stops gossip.
	LeaveGossip() error
	// LeaderAPIAddress is the leader's API base URL, when gossip knows it.
	LeaderAPIAddress() (string, bool)
	// SafeToStop says whether stopping member keeps a quorum of caught-up
	// voters; ErrNotLeader on a follower, ErrUnknownMember for an id not in
	// the configuration.
	SafeToStop(member string) (cluster.StopCheck, error)
	// TransferLeadershipTo hands leadership to voter target ("": raft's
	// choice); ErrNotLeader on a follower, ErrUnknownMember, ErrNotVoter,
	// ErrLastVoter.
	TransferLeadershipTo(ctx context.Context, target string) error
}

// forwardedHeader marks a cluster call a follower passed to the leader;
// a node that is not the leader either answers not_leader instead of
// forwarding again (no loops).
const forwardedHeader = "Carrier-Forwarded"

// forwardTimeout bounds one cluster call forwarded to the leader;
// leaderPoll is how often a follower looks for the leader meanwhile, and
// how often a transfer looks for the new leader, for at most transferWait.
const (
	forwardTimeout = 15 * time.Second
	leaderPoll     = 100 * time.Millisecond
	transferWait   = 10 * time.Second
)

// clusterAdmin returns the backend's ClusterAdmin or writes unavailable.
func (g *Gateway) clusterAdmin(w http.ResponseWriter) (ClusterAdmin, bool) {
	ca, ok := g.b.(ClusterAdmin)
	if !ok {
		writeError(w, apierr.Errorf(protocol.CodeUnavailable, "this node does not manage cluster membership"))
	}
	return ca, ok
}

// handleRemoveMember serves POST /v1/cluster/members/{id}/remove.
func (g *Gateway) handleRemoveMember(w http.ResponseWriter, r *http.Request) {
	ca, ok := g.clusterAdmin(w)
	if !ok {
		return
	}
	id := r.PathValue("id")
	err := ca.RemoveMember(r.Context(), id)
	g.answerOnLeader(w, r, ca, err, nil, protocol.MemberChange{Member: id, Change: "removed"})
}

// handleAddMember serves POST /v1/cluster/members {"id", "raftAddress"}.
func (g *Gateway) handleAddMember(w http.ResponseWriter, r *http.Request) {
	ca, ok := g.clusterAdmin(w)
	if !ok {
		return
	}
	var body protocol.AddMemberRequest
	if werr := readBody(w, r, 64<<10, false, &body); werr != nil {
		writeError(w, werr)
		return
	}
	if body.ID == "" || body.RaftAddress == "" {
		writeError(w, apierr.Errorf(protocol.CodeBadRequest, "id and raftAddress are required"))
		return
	}
	raw, err := json.Marshal(body)
	if err != nil {
		writeError(w, apierr.From(err))
		return
	}
	err = ca.AddMember(r.Context(), body.ID, body.RaftAddress)
	g.answerOnLeader(w, r, ca, err, raw, protocol.MemberChange{Member: body.ID, Change: "added"})
}

// handleSafeToStop serves GET /v1/cluster/members/{id}/safe-to-stop: the
// leader's StopCheck for member id, 200 whether it is safe or not (404 for
// an id not in the configuration). A follower forwards it to the leader.
func (g *Gateway) handleSafeToStop(w http.ResponseWriter, r *http.Request) {
	ca, ok := g.clusterAdmin(w)
	if !ok {
		return
	}
	chk, err := ca.SafeToStop(r.PathValue("id"))
	g.answerOnLeader(w, r, ca, err, nil, stopCheckToWire(chk))
}

// handleTransferLeader serves POST /v1/cluster/leader/transfer {"to": id}:
// the leader hands leadership to voter id (none: raft picks the most
// up-to-date other voter) and answers with the new leader once it sees
// one. A follower forwards the request to the leader.
func (g *Gateway) handleTransferLeader(w http.ResponseWriter, r *http.Request) {
	ca, ok := g.clusterAdmin(w)
	if !ok {
		return
	}
	var body protocol.TransferRequest
	if werr := readBody(w, r, 64<<10, true, &body); werr != nil {
		writeError(w, werr)
		return
	}
	raw, err := json.Marshal(body)
	if err != nil {
		writeError(w, apierr.From(err))
		return
	}
	var res protocol.LeaderTransfer
	if err = ca.TransferLeadershipTo(r.Context(), body.To); err == nil {
		res, err = g.awaitLeader(r.Context(), g.b.ID(), body.To)
	}
	g.answerOnLeader(w, r, ca, transferError(err), raw, res)
}

// awaitLeader polls this node's status until a leader other than previous
// is known, or target (which may be previous), within transferWait.
func (g *Gateway) awaitLeader(ctx context.Context, previous, target string) (protocol.LeaderTransfer, error) {
	ctx, cancel := context.WithTimeout(ctx, transferWait)
	defer cancel()
	for {
		leader := g.b.Status().Leader
		if leader != "" && (leader == target || leader != previous) {
			return protocol.LeaderTransfer{Leader: leader, Previous: previous}, nil
		}
		if !sleepCtx(ctx, leaderPoll) {
			return protocol.LeaderTransfer{}, apierr.Errorf(protocol.CodeUnavailable,
				"%s handed leadership over but sees no new leader yet (leader %q): check GET /v1/cluster", previous, leader)
		}
	}
}

// transferError keeps the refusals (not leader, unknown member, not a
// voter), says what the last voter means here, and makes any other failure
// of raft's transfer unavailable: the leader stays, asking again may work.
func transferError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cluster.ErrLastVoter):
		return apierr.Errorf(protocol.CodeBadRequest, "refused: the leader is the only voter, there is no one to hand leadership to")
	case clusterWire(err).Code == protocol.CodeInternal:
		return apierr.Errorf(protocol.CodeUnavailable, "the leadership transfer did not complete: %v", err)
	}
	return err
}

// handleLeave serves POST /v1/cluster/leave: this node is removed from the
// Raft configuration (by the leader, forwarded when needed), then leaves
// gossip. It keeps serving HTTP until it is stopped.
func (g *Gateway) handleLeave(w http.ResponseWriter, r *http.Request) {
	ca, ok := g.clusterAdmin(w)
	if !ok {
		return
	}
	id := g.b.ID()
	if !inConfiguration(g.b.Status(), id) {
		writeError(w, apierr.Errorf(protocol.CodeNotFound, "node %s is not in the Raft configuration (it was removed or never added): nothing to leave; stop it, or add it back with POST /v1/cluster/members", id))
		return
	}
	err := ca.RemoveMember(r.Context(), id)
	if errors.Is(err, cluster.ErrNotLeader) {
		_, err = g.forward(r.Context(), ca, http.MethodPost, "/v1/cluster/members/"+url.PathEscape(id)+"/remove", nil)
	}
	if err != nil {
		writeError(w, clusterWire(err))
		return
	}
	if err := ca.LeaveGossip(); err != nil {
		g.log.Warn("leave gossip after removal", "err", err)
	}
	g.log.Warn("this node left the cluster on request: stop it (its data is kept; POST /v1/cluster/members on a member adds it back)", "node", id)
	writeJSON(w, http.StatusOK, protocol.MemberChange{Member: id, Change: "left"})
}

// inConfiguration reports whether id is a voter or nonvoter as s sees it.
func inConfiguration(s cluster.Status, id string) bool {
	for _, m := range s.Members {
		if m.ID == id {
			return m.Suffrage == "Voter" || m.Suffrage == "Nonvoter"
		}
	}
	return false
}

// answerOnLeader writes the outcome of a call only the leader can make:
// ok when this node made it, the leader's own answer when this node is not
// the leader (the request goes there, once: a forwarded request is never
// forwarded again), or the error.
func (g *Gateway) answerOnLeader(w http.ResponseWriter, r *http.Request, ca ClusterAdmin, err error, body []byte, ok any) {
	if errors.Is(err, cluster.ErrNotLeader) && r.Header.Get(forwardedHeader) == "" {
		var answer []byte
		if answer, err = g.forward(r.Context(), ca, r.Method, r.URL.Path, body); err == nil {
			writeJSON(w, http.StatusOK, json.RawMessage(answer))
			return
		}
	}
	if err != nil {
		writeError(w, clusterWire(err))
		return
	}
	writeJSON(w, http.StatusOK, ok)
}

// forward sends method path with body to the leader's API and returns its
// 200 answer, or its error answer as a *apierr.Error. While the leader is
// changing (no leader known, or the one called answers not_leader) it
// tries again, within forwardTimeout.
func (g *Gateway) forward(ctx context.Context, ca ClusterAdmin, method, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	for {
		base, err := leaderAddress(ctx, ca)
		if err != nil {
			return nil, err
		}
		answer, err := g.send(ctx, method, strings.TrimRight(base, "/")+path, body)
		var we *apierr.Error
		if !errors.As(err, &we) || we.Code != protocol.CodeNotLeader {
			return answer, err
		}
		if !sleepCtx(ctx, leaderPoll) {
			return nil, err
		}
	}
}

// send makes one forwarded call and returns the answer on 200, else the error.
func (g *Gateway) send(ctx context.Context, method, target string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("forward to leader: %w", err)
	}
	req.Header.Set(forwardedHeader, g.b.ID())
	req.Header.Set("Content-Type", "application/json")
	hc := g.cfg.LeaderClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("forward to leader at %s: %w: %w", target, cluster.ErrNotLeader, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode != http.StatusOK:
		return nil, remoteError(resp.StatusCode, b)
	case err != nil:
		return nil, fmt.Errorf("forward to leader at %s: read the answer: %w", target, err)
	}
	return b, nil
}

// sleepCtx waits d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// leaderAddress waits (during an election, or while gossip spreads the
// leader's metadata) until the leader's API address is known or ctx ends.
func leaderAddress(ctx context.Context, ca ClusterAdmin) (string, error) {
	t := time.NewTicker(leaderPoll)
	defer t.Stop()
	for {
		if base, ok := ca.LeaderAPIAddress(); ok {
			return base, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no leader address known: %w", cluster.ErrNotLeader)
		case <-t.C:
		}
	}
}

// remoteError rebuilds the leader's error answer.
func remoteError(status int, body []byte) error {
	var er protocol.ErrorResponse
	if err := json.Unmarshal(body, &er); err != nil || er.Error.Code == "" {
		return apierr.Errorf(protocol.CodeInternal, "leader answered HTTP %d", status)
	}
	return apierr.Errorf(er.Error.Code, "%s", er.Error.Message)
}

// clusterWire maps membership and leadership errors to protocol codes.
func clusterWire(err error) *apierr.Error {
	switch {
	case errors.Is(err, cluster.ErrUnknownMember):
		return apierr.Errorf(protocol.CodeNotFound, "%v", err)
	case errors.Is(err, cluster.ErrInvalidMember), errors.Is(err, cluster.ErrNotVoter):
		return apierr.Errorf(protocol.CodeBadRequest, "%v", err)
	case errors.Is(err, cluster.ErrLastVoter):
		return apierr.Errorf(protocol.CodeBadRequest, "refused: %v", err)
	}
	return apierr.From(err)
}
