package carrierv1

import (
	"sync"
	"weak"

	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// Encoding a delivery once for many tails. A "message" frame is, in field
// order, the message's own fields up to seq (the same for every
// subscriber), then group, sub, time and attempt. Tails of one queue all
// send the same message around the same time, so the codec keeps the
// encoded shared part of recent messages in a small direct-mapped cache
// (slot = seq mod size, checked by a weak pointer to the message, so the
// cache never keeps a message alive) and each tail's writer only appends
// its sub and the time. Group deliveries (one member each) and messages
// over msgCacheMaxBytes are encoded in full, which bounds the cache at
// about msgCacheSlots × 1.4 × msgCacheMaxBytes (5.6 MiB; 0.6 MiB for 1 KiB
// messages). The result is byte-for-byte the full encoding
// (TestTailFrameMatchesFull).

const (
	msgCacheSlots    = 256
	msgCacheMaxBytes = 16 << 10
)

// msgCache holds encoded message prefixes. Safe for concurrent use; a
// slot's lock is held while its prefix is encoded, so concurrent tails
// encode a message once. Prefixes are never modified once stored.
type msgCache struct {
	slots [msgCacheSlots]msgSlot
}

type msgSlot struct {
	mu     sync.Mutex
	m      weak.Pointer[queue.Message]
	queue  string
	prefix []byte // {"type":"message",…,"seq":N   (no closing brace)
	time   string
}

// tailFrame appends the "message" frame of d (a tail delivery: no group,
// no attempt) to buf; false when the shared encoding cannot be used.
func (mc *msgCache) tailFrame(buf []byte, enc *frameEncoder, d *session.Delivery) ([]byte, bool) {
	if d.Group != "" || d.Attempt != 0 || d.Msg.Size() > msgCacheMaxBytes || !protocol.PlainJSON(false, d.Sub) {
		return buf, false
	}
	prefix, ts, ok := mc.prefix(enc, d)
	if !ok {
		return buf, false
	}
	buf = append(append(buf, prefix...), `,"sub":"`...)
	buf = append(append(buf, d.Sub...), '"')
	if ts != "" {
		buf = append(append(append(buf, `,"time":"`...), ts...), '"')
	}
	return append(buf, '}'), true
}

// prefix returns the shared part of d's frame, encoding it on a miss.
func (mc *msgCache) prefix(enc *frameEncoder, d *session.Delivery) ([]byte, string, bool) {
	s := &mc.slots[d.Msg.Seq%msgCacheSlots]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m.Value() == d.Msg && s.queue == d.Queue {
		return s.prefix, s.time, true
	}
	f := messageFrame(&session.Delivery{Msg: d.Msg, Queue: d.Queue}) // without sub, time and attempt
	ts := f.Time
	f.Time = ""
	b, err := enc.encode(f)
	if err != nil || len(b) == 0 || b[len(b)-1] != '}' || !protocol.PlainJSON(false, ts) {
		return nil, "", false
	}
	s.m, s.queue, s.time = weak.Make(d.Msg), d.Queue, ts
	s.prefix = append([]byte(nil), b[:len(b)-1]...)
	return s.prefix, ts, true
}

// encodeMsg encodes a delivery, through the cache for tails.
func (e *frameEncoder) encodeMsg(mc *msgCache, d *session.Delivery) ([]byte, error) {
	var ok bool
	if e.fast, ok = mc.tailFrame(e.fast[:0], e, d); ok {
		return e.fast, nil
	}
	return e.encode(messageFrame(d))
}
