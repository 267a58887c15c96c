package queue

import "time"

// Op identifies a command in the replicated log. The values are a
// compatibility contract with every log and snapshot ever written:
// ONLY ADD TO THE END, never renumber or reuse a value.
type Op uint8

const (
	OpCreateQueue Op = 1
	OpUpdateQueue Op = 2
	OpDeleteQueue Op = 3
	OpPurgeQueue  Op = 4
	OpPublish     Op = 5
	OpJoin        Op = 6
	OpLeave       Op = 7
	OpAck         Op = 8
	OpNack        Op = 9
	OpTick        Op = 10
	OpRedrive     Op = 11
	OpResetNode   Op = 12
	OpCreateGroup Op = 13
	OpDeleteGroup Op = 14
	OpUpdateGroup Op = 15
)

// Command is one operation on the state. Commands are values built by the
// gateway or the cluster layer, encoded into a log entry by EncodeEntry and
// applied on every replica by (*State).Apply.
type Command interface {
	Op() Op
}

// Entry is the unit of the replicated log: the commands one leader batched
// together (group commit) and the wall-clock time it stamped on them.
// Apply never reads a clock: Time is the only time the state machine knows.
type Entry struct {
	Time     int64 // unix nanoseconds, stamped by the leader before proposing
	Commands []Command
}

// CreateQueue creates a queue. Creating a queue that exists with the same
// config succeeds (idempotent); with another config it fails with CodeQueueExists.
type CreateQueue struct {
	Name      string
	Config    QueueConfig
	MaxQueues int // refuse with CodeTooManyQueues when this many exist (0: no limit)
}

// UpdateQueue replaces the settings of an existing queue. Lowered limits are
// enforced at once (discarding the oldest messages).
//
// IfMatch, when set, is the ETag of the settings the caller read: the
// update fails with CodePreconditionFailed if they changed meanwhile. It is
// encoded only when set, so entries without it stay readable by builds that
// predate it.
type UpdateQueue struct {
	Name    string
	Config  QueueConfig
	IfMatch string
}

// DeleteQueue removes a queue, its messages, groups and dead letters.
type DeleteQueue struct{ Name string }

// PurgeQueue removes every stored message (groups keep their settings and
// members; their pending and unacked state is cleared). Seqs are not reused.
type PurgeQueue struct{ Name string }

// Publish appends messages to a queue, creating it first with Create's
// settings when Create is not nil (auto-create). Each message's Seq and Time are assigned
// by Apply; Time comes from the entry. The result has one PublishAck per
// message, in order.
type Publish struct {
	Queue     string
	Create    *QueueConfig // auto-create with these settings; nil: CodeQueueNotFound
	MaxQueues int          // as in CreateQueue, for auto-create
	// MaxTotalBytes refuses a message with CodeStorageFull when the bytes
	// stored in all queues together would exceed it (0: no limit). The node's
	// memory budget travels in the command so every replica decides alike.
	MaxTotalBytes int64
	Messages      []*Message
}

// Join adds a member to a consumer group, creating the group with Config
// (defaults filled from the queue) when it does not exist. Joining again with
// the same member ID is a no-op.
type Join struct {
	Queue  string
	Group  string
	Member MemberRef
	Config GroupConfig
}

// Leave removes a member; its unacked messages are redelivered to others.
type Leave struct {
	Queue  string
	Group  string
	Member string
}

// Ack marks messages done for a group.
type Ack struct {
	Queue  string
	Group  string
	Member string
	Seqs   []uint64
}

// Nack hands messages back for redelivery after Delay (0: at once).
type Nack struct {
	Queue  string
	Group  string
	Member string
	Seqs   []uint64
	Delay  time.Duration
}

// Tick carries no data: applying it runs every timer due at the entry's Time
// (ack deadlines, delayed delivery, nack delays, max age, dedup expiry). The
// leader proposes one when (*State).NextDeadline has passed.
type Tick struct{}

// Redrive moves dead letters back to their group for delivery, attempts reset.
// Empty DLSeqs means all of the queue's dead letters.
type Redrive struct {
	Queue  string
	DLSeqs []uint64
}

// ResetNode removes every member on Node whose Session differs from Keep:
// the members of an incarnation that crashed or stopped. Their unacked
// messages are redelivered.
type ResetNode struct {
	Node string
	Keep string
}

// CreateGroup creates a consumer group without a member (admin API).
type CreateGroup struct {
	Queue  string
	Group  string
	Config GroupConfig
}

// UpdateGroup replaces the settings of an existing group in place: zero
// fields take the queue's group defaults, a zero Start keeps the group's
// (a start applies when a group is created; another one is refused). A
// lower MaxInFlight holds back new deliveries until members are below it;
// AckWait applies to later deliveries, MaxDeliver to later failures.
// IfMatch is as for UpdateQueue.
type UpdateGroup struct {
	Queue   string
	Group   string
	Config  GroupConfig
	IfMatch string
}

// DeleteGroup removes a consumer group and its state.
type DeleteGroup struct {
	Queue string
	Group string
}

func (CreateQueue) Op() Op { return OpCreateQueue }
func (UpdateQueue) Op() Op { return OpUpdateQueue }
func (DeleteQueue) Op() Op { return OpDeleteQueue }
func (PurgeQueue) Op() Op  { return OpPurgeQueue }
func (Publish) Op() Op     { return OpPublish }
func (Join) Op() Op        { return OpJoin }
func (Leave) Op() Op       { return OpLeave }
func (Ack) Op() Op         { return OpAck }
func (Nack) Op() Op        { return OpNack }
func (Tick) Op() Op        { return OpTick }
func (Redrive) Op() Op     { return OpRedrive }
func (ResetNode) Op() Op   { return OpResetNode }
func (CreateGroup) Op() Op { return OpCreateGroup }
func (DeleteGroup) Op() Op { return OpDeleteGroup }
func (UpdateGroup) Op() Op { return OpUpdateGroup }

// Result is the outcome of one command. Err is nil or an *Error; the other
// fields are set by the commands that produce them.
type Result struct {
	Err       error
	Published []PublishAck // Publish
	Queue     *QueueInfo   // CreateQueue, UpdateQueue, CreateGroup, UpdateGroup
	Count     int          // PurgeQueue: removed; Ack/Nack: applied; Redrive: moved; ResetNode: members removed
}

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventAppended: Messages were appended to Queue (tail readers).
	EventAppended EventKind = iota + 1
	// EventDeliver: Message is assigned to Member of Group, attempt Attempt.
	EventDeliver
	// EventMemberRemoved: Member left Group (explicitly, by ResetNode, or by
	// group/queue deletion); its connection should stop expecting deliveries.
	EventMemberRemoved
	// EventQueueDeleted: Queue was deleted or purged; readers restart.
	EventQueueDeleted
	// EventQueuePurged: every message of Queue up to Seq was removed.
	EventQueuePurged
	// EventLimitDropped: a limit of Queue (maxMessages, maxBytes, maxAge)
	// removed Count of its oldest messages, through Seq.
	EventLimitDropped
)

// Event is a side effect of Apply that node-local delivery acts on. Apply
// returns events in the order they happened; every replica produces the same
// events, and each node acts only on those for its own members and readers.
type Event struct {
	Kind     EventKind
	Queue    string
	Group    string
	Member   string
	Seq      uint64
	Attempt  int
	Message  *Message   // EventDeliver
	Messages []*Message // EventAppended
	Count    int64      // EventLimitDropped
}
