package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"
)

// snapshotVersion is the first byte of every snapshot this build writes.
// Version 2 added each queue's dropped count after its last seq; version 1
// snapshots are still read (their queues count drops from zero).
const snapshotVersion = 2

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot is a point-in-time capture of a State. Its WriteTo may run in
// another goroutine while the State keeps applying: everything it holds is
// either immutable (messages, dead letters, dedup records, behind slice
// headers that the State never writes through) or encoded at capture time
// (groups, whose entries change in place).
type Snapshot struct {
	applied  uint64
	lastTime int64
	queues   []queueImage
}

type queueImage struct {
	head     []byte // name, config, created, lastSeq
	messages MessageView
	dedup    []dedupRecord
	groups   []byte // every group, encoded
	dead     []*DeadLetter
	deadNext uint64
}

// Snapshot captures the state cheaply (called with Apply excluded); the
// returned Snapshot's WriteTo may then run concurrently with Apply and
// writes the same bytes for the same state on every replica. The cost is
// O(queues + groups + entries + members); no payload is copied.
func (s *State) Snapshot() *Snapshot {
	sn := &Snapshot{applied: s.applied, lastTime: s.lastTime}
	for _, name := range s.names {
		sn.queues = append(sn.queues, s.queues[name].image())
	}
	return sn
}

// Close releases what the capture holds (the stores' views); call it once,
// after the last WriteTo.
func (sn *Snapshot) Close() error {
	var errs []error
	for _, qi := range sn.queues {
		errs = append(errs, qi.messages.Close())
	}
	return errors.Join(errs...)
}

func (q *queue) image() queueImage {
	var head, groups encoder
	head.string(q.name)
	head.queueConfig(q.config)
	head.varint(q.created)
	head.uvarint(q.lastSeq)
	head.uvarint(uint64(q.dropped))
	groups.uvarint(uint64(len(q.names)))
	for _, name := range q.names {
		groups.group(q.groups[name])
	}
	return queueImage{
		head:     head.buf,
		messages: q.store.Capture(),
		dedup:    q.dedup.fifo,
		groups:   groups.buf,
		dead:     q.dead.list,
		deadNext: q.dead.next,
	}
}

// group encodes a group: settings, cursor, round-robin position, counters,
// members in join order, then its entries in seq order.
func (e *encoder) group(g *group) {
	e.string(g.name)
	e.groupConfig(g.config)
	e.uvarint(g.cursor)
	e.int(g.rr)
	e.varint(g.redelivered)
	e.uvarint(uint64(len(g.members)))
	for _, m := range g.members {
		e.memberRef(m.ref)
	}
	seqs := make([]uint64, 0, len(g.entries))
	for seq := range g.entries {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	e.uvarint(uint64(len(seqs)))
	for _, seq := range seqs {
		e.entry(g.entries[seq])
	}
}

func (e *encoder) entry(en *entry) {
	e.uvarint(en.seq)
	e.byte(byte(en.state))
	member := ""
	if en.member != nil {
		member = en.member.ref.ID
	}
	e.string(member)
	e.varint(en.at)
	e.int(en.attempts)
	e.bool(en.msg != nil)
	if en.msg != nil {
		e.message(en.msg)
	}
	e.history(en.history)
}

func (e *encoder) history(h []DeliveryRecord) {
	e.uvarint(uint64(len(h)))
	for _, r := range h {
		e.int(r.Attempt)
		e.string(r.Member)
		e.varint(r.Time)
		e.string(r.Outcome)
	}
}

func (e *encoder) deadLetter(dl *DeadLetter) {
	e.uvarint(dl.DLSeq)
	e.string(dl.Group)
	e.message(dl.Message)
	e.history(dl.Deliveries)
	e.varint(dl.Time)
}

// WriteTo writes the snapshot in the versioned snapshot format:
//
//	version byte (1) | uvarint applied index | varint last time |
//	uvarint queue count | queues in name order | CRC-32C (4 bytes, little endian)
//
// and per queue: name, config, created, last seq; the stored messages
// (count, then each as in a Publish body); the de-duplication records in
// publish order (id, seq, time); the groups in name order; the next DLSeq
// and the dead letters in DLSeq order. The CRC covers every byte before it.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	sw := &snapWriter{w: w, sum: crc32.New(castagnoli)}
	sw.enc.byte(snapshotVersion)
	sw.enc.uvarint(sn.applied)
	sw.enc.varint(sn.lastTime)
	sw.enc.uvarint(uint64(len(sn.queues)))
	for _, qi := range sn.queues {
		sw.queue(qi)
	}
	sw.flush()
	sw.enc.buf = binary.LittleEndian.AppendUint32(sw.enc.buf, sw.sum.Sum32())
	sw.write()
	return sw.n, sw.err
}

// snapWriter encodes into a buffer that it flushes to w in chunks,
// feeding the checksum.
type snapWriter struct {
	w   io.Writer
	enc encoder
	sum hash.Hash32
	n   int64
	err error
}

func (sw *snapWriter) flush() {
	sw.sum.Write(sw.enc.buf)
	sw.write()
}

func (sw *snapWriter) write() {
	if sw.err == nil {
		n, err := sw.w.Write(sw.enc.buf)
		sw.n += int64(n)
		sw.err = err
	}
	sw.enc.buf = sw.enc.buf[:0]
}

func (sw *snapWriter) maybeFlush() {
	if len(sw.enc.buf) >= chunk {
		sw.flush()
	}
}

func (sw *snapWriter) queue(qi queueImage) {
	sw.enc.buf = append(sw.enc.buf, qi.head...)
	sw.enc.uvarint(uint64(qi.messages.Len()))
	err := qi.messages.Each(func(m *Message) error {
		sw.enc.message(m)
		sw.maybeFlush()
		return sw.err
	})
	if err != nil && sw.err == nil {
		sw.err = fmt.Errorf("read messages of a snapshot: %w", err)
	}
	sw.enc.uvarint(uint64(len(qi.dedup)))
	for _, r := range qi.dedup {
		sw.enc.string(r.id)
		sw.enc.uvarint(r.seq)
		sw.enc.varint(r.time)
		sw.maybeFlush()
	}
	sw.flush()
	sw.enc.buf = append(sw.enc.buf, qi.groups...)
	sw.enc.uvarint(qi.deadNext)
	sw.enc.uvarint(uint64(len(qi.dead)))
	for _, dl := range qi.dead {
		sw.enc.deadLetter(dl)
		sw.maybeFlush()
	}
}
