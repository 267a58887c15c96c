package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// errInvalid wraps every snapshot that decodes but breaks an invariant.
var errInvalid = errors.New("invalid snapshot")

// Restore replaces the whole state with one read from r (written by
// Snapshot.WriteTo). It decodes and validates everything into a new state
// first (format, checksum and every invariant the state machine relies on)
// and swaps it in only then: on error the state is unchanged and every
// store the restore opened is removed again. On success the old queues'
// stores are closed. The Stores given to New is kept, and the restored
// queues' stores are opened with it while the old ones are open: for stores
// on disk, restore into a new State with its own Stores (as cluster/ does).
func (s *State) Restore(r io.Reader) error {
	next, err := readSnapshot(r, s.stores)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	old := *s
	*s = *next
	if err := old.Close(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// snapReader decodes a snapshot stream; its decoder hashes every byte it
// consumes.
type snapReader struct {
	d       decoder
	stores  Stores
	now     int64 // the snapshot's last time: no recorded time may be later
	version byte  // the snapshot's format version
}

// maxSeq bounds restored seqs far below overflow.
const maxSeq = 1 << 62

func readSnapshot(r io.Reader, stores Stores) (*State, error) {
	sr := &snapReader{d: decoder{r: r, sum: crc32.New(castagnoli)}, stores: stores}
	s := New(stores)
	err := sr.state(s)
	if err == nil {
		err = sr.d.err
	}
	if err == nil {
		err = sr.trailer()
	}
	if err != nil {
		return nil, errors.Join(err, s.removeAll())
	}
	return s, nil
}

// removeAll removes the stores of every queue of a state that is given up.
func (s *State) removeAll() error {
	var errs []error
	for _, name := range s.names {
		if err := s.queues[name].store.Remove(); err != nil {
			errs = append(errs, fmt.Errorf("remove store of queue %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// trailer checks the checksum and that nothing follows it.
func (sr *snapReader) trailer() error {
	sr.d.discard()
	want := sr.d.sum.Sum32()
	b := sr.d.take(4)
	if sr.d.err != nil {
		return sr.d.err
	}
	if got := binary.LittleEndian.Uint32(b); got != want {
		return fmt.Errorf("%w: checksum %08x, want %08x", errMalformed, got, want)
	}
	if sr.d.avail(1) > 0 {
		return fmt.Errorf("%w: trailing bytes after the checksum", errMalformed)
	}
	return sr.d.err
}

func (sr *snapReader) state(s *State) error {
	d := &sr.d
	sr.version = d.byte()
	if d.err == nil && (sr.version < 1 || sr.version > snapshotVersion) {
		return fmt.Errorf("%w: snapshot version %d, want 1 to %d", errMalformed, sr.version, snapshotVersion)
	}
	s.applied = d.uvarint()
	s.books.index = s.applied
	s.lastTime = d.varint()
	sr.now = s.lastTime
	n, _ := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		q, err := sr.queue(s)
		if err != nil {
			return err
		}
		s.addQueue(q)
		s.rearm(q)
	}
	return d.err
}

func (sr *snapReader) queue(s *State) (*queue, error) {
	d := &sr.d
	name, cfg, created, lastSeq := d.string(), d.queueConfig(), d.varint(), d.uvarint()
	var dropped uint64
	if sr.version >= 2 {
		dropped = d.uvarint()
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalid, err)
	}
	if len(s.names) > 0 && name <= s.names[len(s.names)-1] {
		return nil, fmt.Errorf("%w: queue %q out of order", errInvalid, name)
	}
	if created > sr.now || lastSeq > maxSeq || dropped > lastSeq {
		return nil, fmt.Errorf("%w: queue %q: created %d or last seq %d out of range", errInvalid, name, created, lastSeq)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: queue %q: %w", errInvalid, name, err)
	}
	st, err := s.openStore(QueueID{Name: name, Created: created})
	if err != nil {
		return nil, err
	}
	q := newQueue(name, cfg, created, st)
	q.lastSeq, q.dropped = lastSeq, int64(dropped)
	steps := []func(*queue) error{sr.messages, sr.dedupRecords, sr.groups, sr.deadLetters}
	for _, step := range steps {
		if err := step(q); err != nil {
			s.books.total -= st.Bytes()
			return nil, errors.Join(fmt.Errorf("queue %q: %w", name, err), st.Remove())
		}
	}
	return q, nil
}

func (sr *snapReader) messages(q *queue) error {
	d := &sr.d
	n, _ := d.count()
	prevTime := int64(0)
	for i := 0; i < n && d.err == nil; i++ {
		m := d.message()
		if err := sr.checkMessage(q, m, prevTime); err != nil || d.err != nil {
			return errors.Join(d.err, err)
		}
		if err := q.store.Append(m); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		prevTime = m.Time
	}
	if q.store.Len() > q.config.MaxMessages || q.store.Bytes() > q.config.MaxBytes {
		return fmt.Errorf("%w: %d messages of %d bytes exceed the limits", errInvalid, q.store.Len(), q.store.Bytes())
	}
	return d.err
}

func (sr *snapReader) checkMessage(q *queue, m *Message, prevTime int64) error {
	switch {
	case m.Time > sr.now:
		return fmt.Errorf("%w: message %d time after the snapshot's", errInvalid, m.Seq)
	case m.Seq == 0 || m.Seq > q.lastSeq:
		return fmt.Errorf("%w: message seq %d outside 1..%d", errInvalid, m.Seq, q.lastSeq)
	case q.store.Len() > 0 && m.Seq != q.store.LastSeq()+1:
		return fmt.Errorf("%w: message seq %d after %d", errInvalid, m.Seq, q.store.LastSeq())
	case q.store.Len() > 0 && m.Time < prevTime:
		return fmt.Errorf("%w: message %d time goes backwards", errInvalid, m.Seq)
	}
	return nil
}

func (sr *snapReader) dedupRecords(q *queue) error {
	d := &sr.d
	n, _ := d.count()
	if n > MaxDedupIDs {
		return fmt.Errorf("%w: %d dedup records", errInvalid, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		r := dedupRecord{id: d.string(), seq: d.uvarint(), time: d.varint()}
		if err := sr.checkDedup(q, r); err != nil || d.err != nil {
			return errors.Join(d.err, err)
		}
		q.dedup.ids[r.id] = r
		q.dedup.fifo = append(q.dedup.fifo, r)
	}
	return d.err
}

func (sr *snapReader) checkDedup(q *queue, r dedupRecord) error {
	if r.time > sr.now {
		return fmt.Errorf("%w: dedup time after the snapshot's", errInvalid)
	}
	if _, dup := q.dedup.ids[r.id]; dup || r.id == "" {
		return fmt.Errorf("%w: dedup id %q repeated or empty", errInvalid, r.id)
	}
	if r.seq == 0 || r.seq > q.lastSeq {
		return fmt.Errorf("%w: dedup seq %d outside 1..%d", errInvalid, r.seq, q.lastSeq)
	}
	if n := len(q.dedup.fifo); n > 0 && r.time < q.dedup.fifo[n-1].time {
		return fmt.Errorf("%w: dedup times go backwards", errInvalid)
	}
	return nil
}

func (sr *snapReader) deadLetters(q *queue) error {
	d := &sr.d
	q.dead.next = d.uvarint()
	n, _ := d.count()
	if int64(n) > q.config.MaxDeadLetters {
		return fmt.Errorf("%w: %d dead letters exceed %d", errInvalid, n, q.config.MaxDeadLetters)
	}
	for i := 0; i < n && d.err == nil; i++ {
		dl := &DeadLetter{DLSeq: d.uvarint(), Group: d.string(), Message: d.message(),
			Deliveries: sr.history(), Time: d.varint()}
		if err := sr.checkDeadLetter(q, dl); err != nil || d.err != nil {
			return errors.Join(d.err, err)
		}
		q.dead.list = append(q.dead.list, dl)
	}
	return d.err
}

func (sr *snapReader) checkDeadLetter(q *queue, dl *DeadLetter) error {
	prev := uint64(0)
	if n := len(q.dead.list); n > 0 {
		prev = q.dead.list[n-1].DLSeq
	}
	switch {
	case dl.DLSeq <= prev || dl.DLSeq >= q.dead.next:
		return fmt.Errorf("%w: dead letter %d out of order (next %d)", errInvalid, dl.DLSeq, q.dead.next)
	case ValidateName(dl.Group) != nil:
		return fmt.Errorf("%w: dead letter %d: bad group %q", errInvalid, dl.DLSeq, dl.Group)
	case dl.Time > sr.now || dl.Message.Time > sr.now:
		return fmt.Errorf("%w: dead letter %d: time after the snapshot's", errInvalid, dl.DLSeq)
	case dl.Message.Seq == 0 || dl.Message.Seq > q.lastSeq:
		return fmt.Errorf("%w: dead letter %d: message seq %d", errInvalid, dl.DLSeq, dl.Message.Seq)
	}
	return nil
}

// history decodes delivery records; it returns nil for none.
func (sr *snapReader) history() []DeliveryRecord {
	d := &sr.d
	n, hint := d.count()
	if n > maxHistory {
		d.fail("%d delivery records", n)
		return nil
	}
	if n == 0 {
		return nil
	}
	h := make([]DeliveryRecord, 0, hint)
	for i := 0; i < n && d.err == nil; i++ {
		r := DeliveryRecord{Attempt: d.int(), Member: d.string(), Time: d.varint(), Outcome: d.string()}
		if r.Time > sr.now {
			d.fail("delivery time after the snapshot's")
		}
		h = append(h, r)
	}
	return h
}

func (sr *snapReader) groups(q *queue) error {
	d := &sr.d
	n, _ := d.count()
	if n > MaxGroupsPerQueue {
		return fmt.Errorf("%w: %d groups", errInvalid, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		g, err := sr.group(q)
		if err != nil {
			return err
		}
		if len(q.names) > 0 && g.name <= q.names[len(q.names)-1] {
			return fmt.Errorf("%w: group %q out of order", errInvalid, g.name)
		}
		q.groups[g.name] = g
		q.names = append(q.names, g.name)
	}
	return d.err
}

func (sr *snapReader) group(q *queue) (*group, error) {
	d := &sr.d
	name, cfg, cursor, rr, redelivered := d.string(), d.groupConfig(), d.uvarint(), d.int(), d.varint()
	if d.err != nil {
		return nil, d.err
	}
	if err := errors.Join(ValidateName(name), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("%w: group %q: %w", errInvalid, name, err)
	}
	if cursor < q.firstStored() || redelivered < 0 {
		return nil, fmt.Errorf("%w: group %q: cursor %d before the store", errInvalid, name, cursor)
	}
	g := newGroup(name, cfg, cursor)
	g.redelivered = redelivered
	if err := sr.members(g); err != nil {
		return nil, fmt.Errorf("group %q: %w", name, err)
	}
	if rr < 0 || rr >= max(1, len(g.members)) {
		return nil, fmt.Errorf("%w: group %q: round-robin position %d", errInvalid, name, rr)
	}
	g.rr = rr
	if err := sr.entries(q, g); err != nil {
		return nil, fmt.Errorf("group %q: %w", name, err)
	}
	return g, nil
}

func (sr *snapReader) members(g *group) error {
	d := &sr.d
	n, _ := d.count()
	if n > MaxMembersPerGroup {
		return fmt.Errorf("%w: %d members", errInvalid, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		ref := d.memberRef()
		if _, dup := g.byID[ref.ID]; dup || ref.ID == "" {
			return fmt.Errorf("%w: member %q repeated or empty", errInvalid, ref.ID)
		}
		g.addMember(ref)
	}
	return d.err
}

func (sr *snapReader) entries(q *queue, g *group) error {
	d := &sr.d
	n, _ := d.count()
	prev := uint64(0)
	for i := 0; i < n && d.err == nil; i++ {
		seq := d.uvarint()
		if seq <= prev || seq >= g.cursor {
			return fmt.Errorf("%w: entry %d out of order or past the cursor %d", errInvalid, seq, g.cursor)
		}
		if err := sr.entry(q, g, seq); err != nil {
			return fmt.Errorf("entry %d: %w", seq, err)
		}
		prev = seq
	}
	return d.err
}

func (sr *snapReader) entry(q *queue, g *group, seq uint64) error {
	d := &sr.d
	state, memberID, at, attempts := entryState(d.byte()), d.string(), d.varint(), d.int()
	var msg *Message
	if d.bool() {
		msg = d.message()
	}
	history := sr.history()
	if d.err != nil {
		return d.err
	}
	if msg != nil && (msg.Time > sr.now || seq > q.lastSeq) {
		return fmt.Errorf("%w: carried message out of range", errInvalid)
	}
	if err := checkEntry(q, g, seq, msg, state, attempts, len(history)); err != nil {
		return err
	}
	var m *member
	if state == statePending {
		if m = g.byID[memberID]; m == nil || len(m.pending) >= g.config.MaxInFlight {
			return fmt.Errorf("%w: pending for unknown or full member %q", errInvalid, memberID)
		}
	} else if memberID != "" || (state == stateReady && at != 0) {
		return fmt.Errorf("%w: member or time set on a %d entry", errInvalid, state)
	}
	e := g.addEntry(seq, msg)
	e.attempts, e.history = attempts, history
	switch state {
	case stateReady:
		g.toReady(e)
	case statePending:
		g.toPending(e, m, at)
	default:
		g.toScheduled(e, at)
	}
	return nil
}

func checkEntry(q *queue, g *group, seq uint64, msg *Message, st entryState, attempts, records int) error {
	stored := q.store.Len() > 0 && seq >= q.store.FirstSeq() && seq <= q.store.LastSeq()
	switch {
	case msg == nil && !stored:
		return fmt.Errorf("%w: message not stored", errInvalid)
	case msg != nil && msg.Seq != seq:
		return fmt.Errorf("%w: carried message has seq %d", errInvalid, msg.Seq)
	case st < stateReady || st > stateScheduled:
		return fmt.Errorf("%w: state %d", errInvalid, st)
	case st == statePending && (attempts < 1 || attempts > g.config.MaxDeliver || records == 0):
		return fmt.Errorf("%w: pending with %d attempts and %d records", errInvalid, attempts, records)
	case st != statePending && (attempts < 0 || attempts >= g.config.MaxDeliver):
		return fmt.Errorf("%w: %d attempts", errInvalid, attempts)
	}
	return nil
}
