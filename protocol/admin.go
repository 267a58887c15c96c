package protocol

// HTTP bodies of the admin and read API (docs/http-api.md). Durations are Go
// duration strings ("30s", "1h30m") and times are RFC 3339 strings with
// nanoseconds, so that people can write and read them; the gateway converts
// them to the state machine's types. Zero or empty fields mean "default"
// when a queue is created and "unchanged" in an update (PATCH).

import (
	"encoding/json"
	"fmt"
)

// QueueConfig is a queue's settings as JSON.
type QueueConfig struct {
	Retention      string      `json:"retention,omitempty"` // "limits" or "workqueue"
	MaxMessages    int64       `json:"maxMessages,omitempty"`
	MaxBytes       int64       `json:"maxBytes,omitempty"`
	MaxAge         string      `json:"maxAge,omitempty"`
	MaxMessageSize int64       `json:"maxMessageSize,omitempty"`
	Discard        string      `json:"discard,omitempty"` // "old" or "new"
	DedupWindow    string      `json:"dedupWindow,omitempty"`
	MaxDeadLetters int64       `json:"maxDeadLetters,omitempty"`
	Group          GroupConfig `json:"group,omitzero"` // defaults for new groups
}

// GroupConfig is a consumer group's settings as JSON.
type GroupConfig struct {
	AckWait     string    `json:"ackWait,omitempty"`
	MaxDeliver  int       `json:"maxDeliver,omitempty"`
	MaxInFlight int       `json:"maxInFlight,omitempty"`
	Start       *Position `json:"start,omitempty"`
}

// Position is where a reader or a new group starts: kind "new", "first",
// "seq" (with Seq) or "time" (with Time, RFC 3339). In JSON it is an object
// ({"kind":"first"}); a bare string ("first") is read as {"kind":"first"}.
type Position struct {
	Kind string `json:"kind"`
	Seq  uint64 `json:"seq,omitempty"`
	Time string `json:"time,omitempty"`
}

// UnmarshalJSON reads the object form or a bare kind string.
func (p *Position) UnmarshalJSON(b []byte) error {
	var kind string
	if json.Unmarshal(b, &kind) == nil {
		*p = Position{Kind: kind}
		return nil
	}
	type plain Position // without this method
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("start: want a kind string or an object with kind: %w", err)
	}
	*p = Position(v)
	return nil
}

// QueueInfo describes a queue (GET /v1/queues/{queue}).
type QueueInfo struct {
	Name        string      `json:"name"`
	Config      QueueConfig `json:"config"`
	FirstSeq    uint64      `json:"firstSeq"`
	LastSeq     uint64      `json:"lastSeq"`
	Messages    int64       `json:"messages"`
	Bytes       int64       `json:"bytes"`
	DeadLetters int64       `json:"deadLetters"`
	Dropped     int64       `json:"dropped"` // messages a limit removed (maxMessages, maxBytes, maxAge), consumed or not
	Groups      []GroupInfo `json:"groups"`
	Created     string      `json:"created"`
	ETag        string      `json:"etag"` // version of Config; also the ETag header, quoted
}

// GroupInfo describes a consumer group (GET /v1/queues/{queue}/groups/{group}).
type GroupInfo struct {
	Name        string      `json:"name"`
	Config      GroupConfig `json:"config"`
	Members     int         `json:"members"`
	Pending     int64       `json:"pending"`
	Unacked     int64       `json:"unacked"`
	Scheduled   int64       `json:"scheduled"`
	AckFloor    uint64      `json:"ackFloor"`
	Redelivered int64       `json:"redelivered"`
	ETag        string      `json:"etag"` // version of Config; also the ETag header, quoted
}

// QueueList is the body of GET /v1/queues.
type QueueList struct {
	Queues []QueueInfo `json:"queues"`
}

// PublishRequest is the body of POST /v1/queues/{queue}/messages: one
// message inline, or a batch in Messages (not both).
type PublishRequest struct {
	Message
	Messages []Message `json:"messages,omitempty"`
}

// PublishResponse answers a batch publish over HTTP; a single message is
// answered with a bare Published.
type PublishResponse struct {
	Results []Published `json:"results"`
}

// MessageList is the body of GET /v1/queues/{queue}/messages. Next is the
// seq to pass as "from" to continue reading.
type MessageList struct {
	Messages []Message `json:"messages"`
	Next     uint64    `json:"next"`
}

// DeliveryRecord is one delivery attempt of a dead letter.
type DeliveryRecord struct {
	Attempt int    `json:"attempt"`
	Member  string `json:"member"`
	Time    string `json:"time"`
	Outcome string `json:"outcome,omitempty"`
}

// DeadLetter is a message that exhausted maxDeliver in a group.
type DeadLetter struct {
	DLSeq      uint64           `json:"dlSeq"`
	Group      string           `json:"group"`
	Message    Message          `json:"message"`
	Deliveries []DeliveryRecord `json:"deliveries"`
	Time       string           `json:"time"`
}

// DeadLetterList is the body of GET /v1/queues/{queue}/dlq. Next is the
// dlSeq to pass as "from" to continue.
type DeadLetterList struct {
	DeadLetters []DeadLetter `json:"deadLetters"`
	Next        uint64       `json:"next"`
}

// RedriveRequest is the body of POST /v1/queues/{queue}/dlq/redrive; an
// empty list (or an empty body) redrives every dead letter of the queue.
type RedriveRequest struct {
	DLSeqs []uint64 `json:"dlSeqs,omitempty"`
}

// CountResponse answers purge ("purged") and redrive ("redriven").
type CountResponse struct {
	Purged   *int `json:"purged,omitempty"`
	Redriven *int `json:"redriven,omitempty"`
}

// ClusterStatus is the body of GET /v1/cluster.
type ClusterStatus struct {
	NodeID       string          `json:"nodeId"`
	State        string          `json:"state"`
	Leader       string          `json:"leader"`
	Term         uint64          `json:"term"`
	CommitIndex  uint64          `json:"commitIndex"`
	AppliedIndex uint64          `json:"appliedIndex"`
	LastLogIndex uint64          `json:"lastLogIndex"`
	Members      []ClusterMember `json:"members"`
}

// ClusterMember is one server of the Raft configuration, or a node gossip
// knows that is not in it (suffrage "None").
type ClusterMember struct {
	ID       string `json:"id"`
	Address  string `json:"address"`  // Raft address
	Suffrage string `json:"suffrage"` // Voter, Nonvoter, None
	Leader   bool   `json:"leader"`

	Gossip     string `json:"gossip,omitempty"`     // alive, dead (failed or left); absent when unknown
	GossipAddr string `json:"gossipAddr,omitempty"` // host:port of its gossip
	APIAddress string `json:"apiAddress,omitempty"` // its HTTP/WebSocket base URL
	Applied    uint64 `json:"applied,omitempty"`    // its applied index, as last gossiped
	Version    string `json:"version,omitempty"`
}

// AddMemberRequest is the body of POST /v1/cluster/members.
type AddMemberRequest struct {
	ID          string `json:"id"`
	RaftAddress string `json:"raftAddress"`
}

// TransferRequest is the body of POST /v1/cluster/leader/transfer; an empty
// To (or no body) lets the leader pick the most up-to-date other voter.
type TransferRequest struct {
	To string `json:"to,omitempty"`
}

// LeaderTransfer answers a leadership transfer: the node that leads now
// and the one that led before.
type LeaderTransfer struct {
	Leader   string `json:"leader"`
	Previous string `json:"previous"`
}

// StopCheck is the body of GET /v1/cluster/members/{id}/safe-to-stop, the
// leader's answer to "may this member stop now?": Safe when the voters that
// stay and are caught up still make a quorum.
type StopCheck struct {
	Member   string   `json:"member"`
	Safe     bool     `json:"safe"`
	Reason   string   `json:"reason"`
	Leader   bool     `json:"leader"`   // it leads now: transfer leadership before stopping it
	Voter    bool     `json:"voter"`    // stopping a nonvoter never costs the quorum
	Voters   int      `json:"voters"`   // voters in the configuration
	Quorum   int      `json:"quorum"`   // voters/2 + 1
	CaughtUp []string `json:"caughtUp"` // voters caught up now
	Lagging  []string `json:"lagging"`  // voters behind, or not alive in gossip
}

// MemberChange is the body answering the cluster membership calls.
type MemberChange struct {
	Member string `json:"member"`
	Change string `json:"change"` // added, removed, left
}

// ErrorResponse is the body of every HTTP error: {"error": {...}}.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// StatusResponse is the body of /healthz and /readyz when they succeed.
type StatusResponse struct {
	Status string `json:"status"`
}

// DeleteResponse answers DELETE /v1/queues/{queue}.
type DeleteResponse struct {
	Deleted string `json:"deleted"`
}
