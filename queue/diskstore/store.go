package diskstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/carriermq/carrier/queue"
)

// ErrDamaged: a store's files are not what the store wrote — a record
// that does not verify before the newest segment's tail, a missing
// segment, or seqs that do not follow. The store cannot be opened; its
// owner rebuilds it (cluster/ from the snapshot and the log).
var ErrDamaged = errors.New("message store damaged")

// errClosed is returned by a store used after Close or Remove.
var errClosed = errors.New("message store closed")

// Store is one queue's messages on disk: segment files appended at the
// tail and removed whole from the front (see DESIGN.md). It implements
// queue.Store with its threading rules: one writer (Append, DropThrough,
// Close, Remove), never concurrent with the readers; readers concurrent
// with each other.
//
// In memory it keeps per segment a few counters and a sparse index (16
// bytes per indexEvery messages), and a tail cache of the newest messages
// bounded by Options.CacheBytes.
type Store struct {
	dir  string
	opts Options
	// segs are the live segments, oldest first; the last is the active
	// one, appended to through w.
	segs []*segment
	w    *bufio.Writer
	// flushed is how much of the active segment is in its file: atomic,
	// because Capture flushes while readers read it (both under the
	// state's read lock), and either value bounds what is in the file.
	// Invariant: every message whose record ends past flushed is in cache.
	flushed atomic.Int64
	// wmu serialises flushes (the writer's and Capture's).
	wmu    sync.Mutex
	nextID uint64

	first, last uint64 // stored seqs; both 0 when empty
	bytes       int64  // sum of Size of the stored messages
	// firstPrefix is the sum of Size of the first segment's messages
	// below first (dropped, still in the file); firstOff is where the
	// first segment's records from first on start (valid when not empty).
	firstPrefix, firstOff int64
	applied               uint64
	cache                 tailCache

	err    error // the first failed write; every later mutation returns it
	closed bool
	buf    []byte
}

var _ queue.Store = (*Store)(nil)

func (s *Store) empty() bool { return s.last == 0 }

func (s *Store) active() *segment { return s.segs[len(s.segs)-1] }

// FirstSeq is the oldest stored seq, 0 when empty.
func (s *Store) FirstSeq() uint64 { return s.first }

// LastSeq is the newest stored seq, 0 when empty.
func (s *Store) LastSeq() uint64 { return s.last }

// Len is the number of stored messages.
func (s *Store) Len() int64 {
	if s.empty() {
		return 0
	}
	return int64(s.last - s.first + 1)
}

// Bytes is the sum of the stored messages' Size.
func (s *Store) Bytes() int64 { return s.bytes }

// Applied is the index of the last mutation.
func (s *Store) Applied() uint64 { return s.applied }

// usable returns the error a mutation must fail with, or nil.
func (s *Store) usable() error {
	if s.closed {
		return errClosed
	}
	return s.err
}

// fail records the first write failure: the active segment's tail is
// unknown from now on, so nothing more is written.
func (s *Store) fail(err error) error {
	if s.err == nil {
		s.err = fmt.Errorf("message store %s: %w", s.dir, err)
	}
	return s.err
}

// Append stores m (seq set) for the entry at index.
func (s *Store) Append(index uint64, m *queue.Message) error {
	if err := s.usable(); err != nil {
		return err
	}
	if m.Seq == 0 {
		return errors.New("append seq 0")
	}
	if !s.empty() && m.Seq != s.last+1 {
		return fmt.Errorf("append seq %d after %d: seqs must be contiguous", m.Seq, s.last)
	}
	if err := s.makeRoom(); err != nil {
		return err
	}
	g := s.active()
	off := g.size
	s.buf = appendMsgRecord(s.buf[:0], index, m)
	if _, err := s.w.Write(s.buf); err != nil {
		return s.fail(fmt.Errorf("append: %w", err))
	}
	size := m.Size()
	g.added(m.Seq, off, int64(len(s.buf)), size)
	if s.empty() {
		s.first, s.firstPrefix, s.firstOff = m.Seq, g.bytes-size, off
	}
	s.last, s.bytes, s.applied = m.Seq, s.bytes+size, index
	s.flushed.Store(g.size - int64(s.w.Buffered()))
	return s.cacheAdd(m, g)
}

// makeRoom rolls to a new segment when the active one is full, or when
// the store is empty and the active one holds messages (a segment's seqs
// are contiguous; after a purge the next seq jumps).
func (s *Store) makeRoom() error {
	g := s.active()
	if g.size < s.opts.SegmentBytes && !(s.empty() && g.n > 0) {
		return nil
	}
	return s.roll()
}

// roll seals the active segment (flushed and synced) and starts the next.
func (s *Store) roll() error {
	if err := s.syncActive(); err != nil {
		return err
	}
	g, err := createSegment(s.dir, s.nextID)
	if err != nil {
		return s.fail(err)
	}
	s.nextID++
	s.segs = append(s.segs, g)
	s.w.Reset(g.file.f)
	s.flushed.Store(g.size)
	return s.syncDir()
}

func (s *Store) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return s.fail(fmt.Errorf("sync directory: %w", err))
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s.fail(fmt.Errorf("sync directory: %w", err))
	}
	return nil
}

// flush writes the buffered records to the active segment's file.
func (s *Store) flush() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.w.Flush(); err != nil {
		return s.fail(fmt.Errorf("write segment: %w", err))
	}
	s.flushed.Store(s.active().size)
	return nil
}

// cacheAdd caches m (whose record, the last of g, is in s.buf) and evicts
// the oldest cached messages beyond the budget, flushing first if one of
// them is not in its file yet (the invariant on flushed).
func (s *Store) cacheAdd(m *queue.Message, g *segment) error {
	s.cache.push(m, g.id, g.size, int64(len(s.buf)))
	for s.cache.over(s.opts.CacheBytes) {
		if o := s.cache.oldest(); o.seg == g.id && o.end > s.flushed.Load() {
			if err := s.flush(); err != nil {
				return err
			}
		}
		s.cache.evict()
	}
	return nil
}

// DropThrough removes the messages with Seq <= seq for the entry at index.
// Whole segments are deleted; a drop within a segment is a record.
func (s *Store) DropThrough(index, seq uint64) (int64, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	if s.empty() || seq < s.first {
		return 0, nil // nothing changes, nothing to record
	}
	to := min(seq, s.last)
	n := int64(to - s.first + 1)
	var err error
	if to == s.last {
		err = s.dropAll(index, to)
	} else {
		err = s.dropPart(index, to)
	}
	if err != nil {
		return 0, err
	}
	s.cache.dropThrough(to)
	return n, nil
}

// writeDrop appends a drop record and sets the applied index.
func (s *Store) writeDrop(index, seq uint64) error {
	s.buf = appendDropRecord(s.buf[:0], index, seq)
	if _, err := s.w.Write(s.buf); err != nil {
		return s.fail(fmt.Errorf("append: %w", err))
	}
	s.active().size += int64(len(s.buf))
	s.flushed.Store(s.active().size - int64(s.w.Buffered()))
	s.applied = index
	return nil
}

// dropPart drops first..to (to < last): the drop record first, then the
// segments wholly below to+1 go. The record is synced before a file is
// deleted: otherwise a crash could keep the deletion and lose the record,
// and the next open would see a gap. A crash after the record and before a
// deletion leaves the segment to the next open, which deletes it.
func (s *Store) dropPart(index, to uint64) error {
	if err := s.writeDrop(index, to); err != nil {
		return err
	}
	if g := s.segs[0]; g.n == 0 || g.lastSeq() <= to {
		if err := s.syncActive(); err != nil {
			return err
		}
	}
	moved := false
	for s.segs[0].n == 0 || s.segs[0].lastSeq() <= to {
		s.bytes -= s.segs[0].bytes - s.firstPrefix
		s.firstPrefix, moved = 0, true
		if err := s.deleteFirst(); err != nil {
			return err
		}
	}
	g := s.segs[0]
	from := g.point(to + 1)
	if !moved && s.first >= from.seq { // walk on from first: fewer records
		from = position{seq: s.first, off: s.firstOff, sum: s.firstPrefix}
	}
	if err := s.flushThrough(to); err != nil {
		return err
	}
	at, err := g.walk(from, to+1, s.readEnd(g))
	if err != nil {
		return s.fail(err)
	}
	s.bytes -= at.sum - s.firstPrefix
	s.first, s.firstOff, s.firstPrefix = to+1, at.off, at.sum
	return nil
}

// flushThrough flushes when the record of seq is not in its file yet
// (such a message is in the cache: the invariant on flushed).
func (s *Store) flushThrough(seq uint64) error {
	if e := s.cache.entry(seq); e != nil && e.seg == s.active().id && e.end > s.flushed.Load() {
		return s.flush()
	}
	return nil
}

// readEnd is how far g's file may be read: all of a sealed segment, the
// flushed part of the active one.
func (s *Store) readEnd(g *segment) int64 {
	if g == s.active() {
		return s.flushed.Load()
	}
	return g.size
}

// syncActive flushes the active segment and syncs it to disk.
func (s *Store) syncActive() error {
	if err := s.flush(); err != nil {
		return err
	}
	if err := s.active().file.f.Sync(); err != nil {
		return s.fail(fmt.Errorf("sync segment: %w", err))
	}
	return nil
}

// dropAll drops everything: a new segment holding the drop record comes
// first, then every older segment is deleted.
func (s *Store) dropAll(index, to uint64) error {
	if err := s.roll(); err != nil {
		return err
	}
	if err := s.writeDrop(index, to); err != nil {
		return err
	}
	if err := s.syncActive(); err != nil {
		return err
	}
	for len(s.segs) > 1 {
		if err := s.deleteFirst(); err != nil {
			return err
		}
	}
	s.first, s.last, s.bytes, s.firstPrefix, s.firstOff = 0, 0, 0, 0, 0
	return nil
}

// deleteFirst removes the oldest segment's file (views still holding it
// keep reading it).
func (s *Store) deleteFirst() error {
	g := s.segs[0]
	s.segs = s.segs[1:]
	if err := os.Remove(s.path(g.id)); err != nil {
		return s.fail(fmt.Errorf("delete segment: %w", err))
	}
	if err := g.file.release(); err != nil {
		return s.fail(fmt.Errorf("close segment: %w", err))
	}
	return nil
}

// Get returns the message with seq, or queue.ErrNotStored.
func (s *Store) Get(seq uint64) (*queue.Message, error) {
	if s.empty() || seq < s.first || seq > s.last {
		return nil, queue.ErrNotStored
	}
	if m := s.cache.get(seq); m != nil {
		return m, nil
	}
	msgs, err := s.readDisk(seq, 1)
	if err != nil {
		return nil, err
	}
	return msgs[0], nil
}

// Read returns up to limit messages with Seq >= from, in order.
func (s *Store) Read(from uint64, limit int) ([]*queue.Message, error) {
	if limit <= 0 || s.empty() {
		return nil, nil
	}
	from = max(from, s.first)
	if from > s.last {
		return nil, nil
	}
	limit = int(min(uint64(limit), s.last-from+1))
	out := make([]*queue.Message, 0, min(limit, 1024))
	if cf := s.cache.firstSeq(); cf == 0 || from < cf {
		n := limit
		if cf != 0 {
			n = int(min(uint64(limit), cf-from))
		}
		msgs, err := s.readDisk(from, n)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return s.cache.appendRange(out, from+uint64(len(out)), limit-len(out)), nil
}

// readDisk reads n messages from seq on (all stored and in the files).
func (s *Store) readDisk(seq uint64, n int) ([]*queue.Message, error) {
	out := make([]*queue.Message, 0, min(n, 1024))
	for i := s.segmentOf(seq); len(out) < n && i < len(s.segs); i++ {
		g := s.segs[i]
		end := g.size
		if g == s.active() {
			end = s.flushed.Load()
		}
		var err error
		out, err = readSegment(g, seq+uint64(len(out)), end, n-len(out), out)
		if err != nil {
			return nil, err
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("%w: %d of %d messages from seq %d in the files", ErrDamaged, len(out), n, seq)
	}
	return out, nil
}

// readSegment appends up to n messages of g from seq on, reading no
// further than end.
func readSegment(g *segment, seq uint64, end int64, n int, out []*queue.Message) ([]*queue.Message, error) {
	if !g.holds(seq) {
		return out, nil
	}
	rr, err := g.seek(seq, end)
	if err != nil {
		return nil, err
	}
	defer rr.close()
	for got := 0; got < n; {
		r, _, err := rr.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", segmentName(g.id), err)
		}
		if r.kind == kindMsg {
			out = append(out, r.msg)
			got++
		}
	}
	return out, nil
}

// segmentOf is the index in segs of the segment holding seq (stored).
func (s *Store) segmentOf(seq uint64) int {
	lo, hi := 0, len(s.segs)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if g := s.segs[mid]; g.n > 0 && g.base <= seq {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// Close flushes and syncs the active segment and closes the files; views
// keep theirs open until they are closed.
func (s *Store) Close() error {
	if s.closed {
		return nil
	}
	var errs []error
	if s.err == nil {
		errs = append(errs, s.flush())
		if s.err == nil {
			errs = append(errs, s.active().file.f.Sync())
		}
	}
	s.closed = true
	for _, g := range s.segs {
		errs = append(errs, g.file.release())
	}
	s.segs, s.cache = nil, tailCache{}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close message store %s: %w", s.dir, err)
	}
	return nil
}

// Remove closes the store and deletes its directory.
func (s *Store) Remove() error {
	if !s.closed {
		s.err = errClosed // nothing more is written: the files go
		s.closed = true
		for _, g := range s.segs {
			_ = g.file.release() // the data is being deleted
		}
		s.segs, s.cache = nil, tailCache{}
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("remove message store: %w", err)
	}
	return nil
}
