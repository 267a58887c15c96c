package queue

import "time"

// Message is one entry of a queue's log. Messages are immutable once
// applied: the state machine, the payload store and every reader share the
// same *Message, so nobody may modify one after it is appended.
type Message struct {
	Seq       uint64            // position in the queue, from 1, never reused
	ID        string            // producer-chosen or gateway-made; used for de-duplication
	Event     string            // event name, as in socket.emit("pickup", …)
	Data      []byte            // JSON text, or raw bytes when Binary is set
	Binary    bool              // Data is opaque bytes, not JSON
	Headers   map[string]string // passed through untouched (W3C traceparent included)
	Time      int64             // unix nanoseconds, stamped by the leader when proposed
	DeliverAt int64             // unix nanoseconds; 0 means deliver at once
}

// Size is the number of bytes a message counts against a queue's MaxBytes
// and against message-size limits.
func (m *Message) Size() int64 {
	n := len(m.ID) + len(m.Event) + len(m.Data)
	for k, v := range m.Headers {
		n += len(k) + len(v)
	}
	return int64(n)
}

// Retention says when messages leave a queue.
type Retention string

const (
	// RetentionLimits keeps messages until MaxMessages, MaxBytes or MaxAge is exceeded.
	RetentionLimits Retention = "limits"
	// RetentionWorkqueue drops a message once every group has acked it (limits still apply).
	RetentionWorkqueue Retention = "workqueue"
)

// Discard says what happens when a publish would exceed a limit.
type Discard string

const (
	DiscardOld Discard = "old" // drop the oldest messages to make room
	DiscardNew Discard = "new" // refuse the publish with CodeQueueFull
)

// QueueConfig is a queue's settings. Zero values mean "use the default" when
// a queue is created; see DefaultQueueConfig and (QueueConfig).WithDefaults.
type QueueConfig struct {
	Retention      Retention     `json:"retention,omitempty"`
	MaxMessages    int64         `json:"maxMessages,omitempty"`
	MaxBytes       int64         `json:"maxBytes,omitempty"`
	MaxAge         time.Duration `json:"maxAge,omitempty"`
	MaxMessageSize int64         `json:"maxMessageSize,omitempty"`
	Discard        Discard       `json:"discard,omitempty"`
	DedupWindow    time.Duration `json:"dedupWindow,omitempty"`
	MaxDeadLetters int64         `json:"maxDeadLetters,omitempty"`
	// Defaults for groups created on this queue without their own settings.
	Group GroupConfig `json:"group,omitempty"`
}

// GroupConfig is a consumer group's settings, fixed when the group is created
// (by its first member or by the admin API) and changed only by the admin API.
type GroupConfig struct {
	AckWait     time.Duration `json:"ackWait,omitempty"`     // redeliver an unacked message after this long
	MaxDeliver  int           `json:"maxDeliver,omitempty"`  // attempts before the dead-letter queue
	MaxInFlight int           `json:"maxInFlight,omitempty"` // unacked messages per member
	Start       Position      `json:"start,omitempty"`       // where a new group begins
}

// PositionKind names where a reader or a new group starts.
type PositionKind string

const (
	FromNew   PositionKind = "new"   // only messages published after now
	FromFirst PositionKind = "first" // the oldest message still stored
	FromSeq   PositionKind = "seq"   // a given seq (clamped to what is stored)
	FromTime  PositionKind = "time"  // the first message with Time >= the given time
)

// Position is a starting point in a queue.
type Position struct {
	Kind PositionKind `json:"kind,omitempty"`
	Seq  uint64       `json:"seq,omitempty"`
	Time int64        `json:"time,omitempty"` // unix nanoseconds
}

// MemberRef names one live member of a consumer group. Members are
// connections: a member's node and session let the cluster drop every member
// of a node that restarted or died (see ResetNode).
type MemberRef struct {
	ID      string `json:"id"`      // unique in the cluster
	Node    string `json:"node"`    // node the member's connection is on
	Session string `json:"session"` // that node's incarnation (new on every start)
}

// PublishAck is the outcome of one published message.
type PublishAck struct {
	Seq       uint64 `json:"seq"`
	ID        string `json:"msgId"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Err       error  `json:"-"` // per-message rejection (for example CodeQueueFull); nil on success
}

// DeliveryRecord is one attempt at delivering a message to a group member.
type DeliveryRecord struct {
	Attempt int    `json:"attempt"`
	Member  string `json:"member"`
	Time    int64  `json:"time"`              // when delivered (unix ns)
	Outcome string `json:"outcome,omitempty"` // "timeout", "nack", "member-left", or "" while pending
}

// DeadLetter is a message that exhausted MaxDeliver in a group, kept with its
// payload and delivery history until redriven or pushed out by MaxDeadLetters.
type DeadLetter struct {
	DLSeq      uint64           `json:"dlSeq"` // position in the dead-letter queue, from 1
	Group      string           `json:"group"`
	Message    *Message         `json:"-"`
	Deliveries []DeliveryRecord `json:"deliveries"`
	Time       int64            `json:"time"` // when it was dead-lettered (unix ns)
}

// QueueInfo describes a queue as readers see it.
type QueueInfo struct {
	Name        string      `json:"name"`
	Config      QueueConfig `json:"config"`
	FirstSeq    uint64      `json:"firstSeq"` // 0 when empty
	LastSeq     uint64      `json:"lastSeq"`  // last seq ever assigned
	Messages    int64       `json:"messages"`
	Bytes       int64       `json:"bytes"`
	DeadLetters int64       `json:"deadLetters"`
	Groups      []GroupInfo `json:"groups"` // sorted by name
	Created     int64       `json:"created"`
	Dropped     int64       `json:"dropped"` // messages a limit removed (maxMessages, maxBytes, maxAge) since the queue was created
	ETag        string      `json:"etag"`    // version of Config (etag.go)
}

// GroupInfo describes a consumer group.
type GroupInfo struct {
	Name        string      `json:"name"`
	Config      GroupConfig `json:"config"`
	Members     int         `json:"members"`
	Pending     int64       `json:"pending"`   // stored messages not yet delivered to this group
	Unacked     int64       `json:"unacked"`   // delivered, awaiting ack
	Scheduled   int64       `json:"scheduled"` // waiting for deliverAt or a nack delay
	AckFloor    uint64      `json:"ackFloor"`  // every seq <= AckFloor is done
	Redelivered int64       `json:"redelivered"`
	ETag        string      `json:"etag"` // version of Config (etag.go)
}
