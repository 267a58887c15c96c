package session

import (
	"time"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/queue"
)

// Codec is a protocol: it decodes what a client sends into the session's
// Commands, and encodes what the session sends — Replies (answers and
// errors) and Deliveries — into frames. carrier.v1 is one (package
// carrierv1); socket.io is meant to be another. A codec decides the wire
// form only: which commands exist, what a reply means, every limit and
// every delivery rule are the session's, so all protocols share them.
//
// Threading: Decode is called by the session's reader goroutine, the
// Encode methods by its writer, possibly at the same time as Decode. A
// codec may keep state per session (ack ids, say) and then guards it; a
// codec value shared by many sessions must be safe for concurrent use.
type Codec interface {
	// Decode turns one inbound message into a Command, or nil when the
	// message does not make one yet (a part of a multi-frame message). A
	// message it cannot accept becomes an *Invalid, which the session
	// answers with its error. Decode checks the Limits (see limits.go) so
	// that every Command it returns is within them, and keeps no reference
	// to m.Data.
	Decode(m Inbound) Command

	// EncodeReply writes r as zero or more frames (a reply the protocol has
	// no frame for writes none). It keeps no reference to r or w.
	EncodeReply(w FrameWriter, r *Reply) error

	// EncodeDelivery writes d as frames; d.Msg is the stored message, which
	// must not be modified. It keeps no reference to d or w.
	EncodeDelivery(w FrameWriter, d *Delivery) error
}

// Command is a decoded, validated request of the client: *Ping, *Publish,
// *Subscribe, *Unsubscribe, *Ack or *Invalid.
type Command interface{ command() }

// Ping asks for a Pong reply.
type Ping struct {
	ID string
}

// Publish publishes Msgs to Queue. Every message is within the Limits; an
// empty message id is filled by the node (Node.Publish) before proposing.
type Publish struct {
	ID    string
	Queue string
	Msgs  []*queue.Message
	Batch bool // the client sent a batch: the reply lists one result per message
}

// Subscribe starts a tail (Group empty, from Pos) or joins a consumer
// group (Config: the group's settings should the Join create it).
//
// Events, when not empty, limits what the subscription delivers to messages
// with one of those event names: a tail skips the others; a group member
// acks them without sending them, so they never hold its in-flight slots.
// AutoAck makes a group member ack each delivery once it has been written
// to the transport (for clients that never ack).
type Subscribe struct {
	ID      string
	Queue   string
	Group   string
	Pos     queue.Position
	Config  queue.GroupConfig
	Events  []string
	AutoAck bool
}

// Unsubscribe ends subscription Sub; a group member leaves its group.
type Unsubscribe struct {
	ID  string
	Sub string
}

// Ack acknowledges (or, with Nack, refuses, redelivered after Delay) the
// deliveries Seqs of group subscription Sub.
type Ack struct {
	ID    string
	Sub   string
	Seqs  []uint64
	Nack  bool
	Delay time.Duration
}

// Invalid is a message the codec could not accept; the session answers
// with Err (paired with ID when the codec could read one). With Close, the
// protocol ends the connection on such a message: the session queues the
// error, then closes with CloseProtocolError and reads no more.
type Invalid struct {
	ID    string
	Err   *apierr.Error
	Close bool
}

func (*Ping) command()        {}
func (*Publish) command()     {}
func (*Subscribe) command()   {}
func (*Unsubscribe) command() {}
func (*Ack) command()         {}
func (*Invalid) command()     {}

// ReplyKind says what a Reply answers.
type ReplyKind uint8

const (
	ReplyPong         ReplyKind = iota + 1 // a Ping
	ReplyPublished                         // a Publish: Acks
	ReplySubscribed                        // a Subscribe: Sub, Queue, Group, Seq
	ReplyUnsubscribed                      // an Unsubscribe: Sub
	ReplyAcked                             // an Ack: Sub, Seqs
	ReplyNacked                            // an Ack with Nack: Sub, Seqs
	ReplyError                             // a failure: Err, and ID and/or Sub it concerns
)

// Reply is an answer to a command, or an error. Every command with an ID
// gets exactly one reply with that ID: its success kind or ReplyError.
type Reply struct {
	Kind  ReplyKind
	ID    string // the command's id; "" for an error no command caused
	Sub   string // the subscription it concerns
	Queue string
	Group string             // ReplySubscribed to a group
	Seq   uint64             // ReplySubscribed to a tail: the first seq it sends
	Seqs  []uint64           // ReplyAcked, ReplyNacked; ReplyError: the seqs that were not pending
	Acks  []queue.PublishAck // ReplyPublished: one outcome per message, in order
	Batch bool               // ReplyPublished: the Publish was a batch
	Err   *apierr.Error      // ReplyError
}

// Delivery is a message sent to a subscription. Msg is shared with the
// node's state and read-only.
type Delivery struct {
	Msg     *queue.Message
	Sub     string
	Queue   string
	Group   string // "" for a tail
	Attempt int    // group deliveries: 1 for the first, 0 for a tail
}
