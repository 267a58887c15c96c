package diskstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/carriermq/carrier/queue"
)

// Options tune the stores. Zero fields take the defaults.
type Options struct {
	// SegmentBytes is the size at which a segment is sealed and the next
	// one started (default 64 MiB). Retention frees space in steps of it.
	SegmentBytes int64
	// CacheBytes bounds each store's tail cache, in record bytes (default
	// 4 MiB); the newest message is always cached.
	CacheBytes int64
	// Log receives the repairs made when a store opens (default: discard).
	Log *slog.Logger
}

const writeBuffer = 256 << 10

func (o Options) withDefaults() Options {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = 4 << 20
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Stores opens the stores of one State's queues under one directory: one
// subdirectory per queue (queue.QueueID), named <name>~<created>.
type Stores struct {
	dir  string
	opts Options
}

var _ queue.Stores = (*Stores)(nil)

// New returns Stores under dir, which it creates if needed.
func New(dir string, opts Options) (*Stores, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("message stores: %w", err)
	}
	return &Stores{dir: dir, opts: opts.withDefaults()}, nil
}

// Dir is the directory holding the stores.
func (ss *Stores) Dir() string { return ss.dir }

// Open opens the store of id, creating it when it does not exist.
func (ss *Stores) Open(id queue.QueueID) (queue.Store, error) {
	if err := queue.ValidateName(id.Name); err != nil {
		return nil, fmt.Errorf("message store: %w", err)
	}
	return Open(filepath.Join(ss.dir, id.Name+"~"+strconv.FormatInt(id.Created, 10)), ss.opts)
}

// Open opens the store in dir, creating it when dir has no segment. A torn
// tail of the newest segment (a write a crash cut short) is cut off; any
// other damage fails with ErrDamaged.
func Open(dir string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("message store: %w", err)
	}
	s := &Store{dir: dir, opts: opts, w: bufio.NewWriterSize(nil, writeBuffer)}
	ids, err := segmentIDs(dir)
	if err != nil {
		return nil, err
	}
	if err := s.load(ids); err != nil {
		s.releaseAll()
		return nil, err
	}
	return s, nil
}

func (s *Store) path(id uint64) string { return filepath.Join(s.dir, segmentName(id)) }

func (s *Store) releaseAll() {
	for _, g := range s.segs {
		_ = g.file.release() // the open failed; that error is the one to report
	}
	s.segs = nil
}

// segmentIDs lists the ids of the segment files in dir, ascending.
func segmentIDs(dir string) ([]uint64, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	ids := make([]uint64, 0, len(names))
	for _, n := range names {
		id, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), ".seg"), 16, 64)
		if err != nil || segmentName(id) != filepath.Base(n) {
			return nil, fmt.Errorf("%w: unexpected file %s", ErrDamaged, n)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// load reads the segments ids (ascending) or starts the first one.
func (s *Store) load(ids []uint64) error {
	if len(ids) == 0 {
		s.nextID = 1
		return s.startActive()
	}
	for i, id := range ids {
		if i > 0 && id != ids[i-1]+1 {
			return fmt.Errorf("%w: segment %s missing", ErrDamaged, segmentName(ids[i-1]+1))
		}
	}
	drop := uint64(0)
	for i, id := range ids {
		g, d, err := s.scan(id, i == len(ids)-1)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, g)
		drop = max(drop, d)
	}
	s.nextID = ids[len(ids)-1] + 1
	if ids[0] != 1 && drop == 0 {
		return fmt.Errorf("%w: segments before %s missing", ErrDamaged, segmentName(ids[0]))
	}
	if err := s.settle(drop); err != nil {
		return err
	}
	g := s.active()
	if _, err := g.file.f.Seek(g.size, io.SeekStart); err != nil {
		return fmt.Errorf("seek segment: %w", err)
	}
	s.w.Reset(g.file.f)
	s.flushed.Store(g.size)
	return nil
}

// startActive creates the next segment as the active one.
func (s *Store) startActive() error {
	g, err := createSegment(s.dir, s.nextID)
	if err != nil {
		return err
	}
	s.nextID++
	s.segs = append(s.segs, g)
	s.w.Reset(g.file.f)
	s.flushed.Store(g.size)
	return s.syncDir()
}

// settle sets the bounds from the loaded segments and the newest drop
// (every seq <= drop is gone), deleting the segments a crash left behind
// after their drop.
func (s *Store) settle(drop uint64) error {
	for len(s.segs) > 1 && (s.segs[0].n == 0 || s.segs[0].lastSeq() <= drop) {
		if err := s.deleteFirst(); err != nil {
			return err
		}
	}
	var prev *segment
	for _, g := range s.segs {
		if g.n == 0 {
			continue
		}
		if prev != nil && g.base != prev.lastSeq()+1 {
			return fmt.Errorf("%w: segment %s starts at seq %d after %d", ErrDamaged, segmentName(g.id), g.base, prev.lastSeq())
		}
		prev = g
	}
	if prev == nil || prev.lastSeq() <= drop {
		return nil // empty
	}
	g := s.segs[0]
	s.first = max(g.base, drop+1)
	if drop > 0 && g.base > drop+1 && !g.dropFirst { // seqs jump only after a drop of everything
		return fmt.Errorf("%w: dropped through %d but the first segment starts at %d", ErrDamaged, drop, g.base)
	}
	p, err := g.walk(g.point(s.first), s.first, g.size)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	s.firstPrefix, s.firstOff, s.last = p.sum, p.off, prev.lastSeq()
	for _, g := range s.segs {
		s.bytes += g.bytes
	}
	s.bytes -= p.sum
	return nil
}

// scan reads segment id, building its index, and returns it with the
// newest drop it records. The newest segment (last) may end in a torn or
// unverifiable record: it is cut there, since a write a crash cut short
// was never reported as done. Anywhere else that is damage.
func (s *Store) scan(id uint64, last bool) (*segment, uint64, error) {
	f, err := os.OpenFile(s.path(id), os.O_RDWR, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: open segment: %w", ErrDamaged, err)
	}
	g := &segment{id: id, file: newFileRef(f)}
	drop, err := s.scanRecords(g, last)
	if err != nil {
		_ = g.file.release()
		return nil, 0, err
	}
	return g, drop, nil
}

func (s *Store) scanRecords(g *segment, last bool) (uint64, error) {
	f := g.file.f
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat segment: %w", err)
	}
	if err := checkMagic(f, st.Size(), last); err != nil {
		return 0, s.cut(g, 0, st.Size(), err, last)
	}
	g.size = int64(len(magic))
	rr := newRecordReader(f, g.size, st.Size())
	defer rr.close()
	drop := uint64(0)
	for {
		off := rr.off
		r, n, err := rr.next()
		if errors.Is(err, io.EOF) {
			return drop, nil
		}
		if err != nil {
			return drop, s.cut(g, off, st.Size(), err, last)
		}
		if err := s.loaded(g, r, off, n); err != nil {
			return drop, err
		}
		s.applied = max(s.applied, r.index)
		if r.kind == kindDrop {
			drop = max(drop, r.seq)
		}
	}
}

// loaded adds a scanned record to g.
func (s *Store) loaded(g *segment, r record, off int64, n int) error {
	if r.kind != kindMsg {
		g.size = off + int64(n)
		g.dropFirst = g.dropFirst || g.n == 0
		return nil
	}
	if g.n > 0 && r.seq != g.lastSeq()+1 || r.seq == 0 {
		return fmt.Errorf("%w: segment %s: seq %d after %d", ErrDamaged, segmentName(g.id), r.seq, g.lastSeq())
	}
	g.added(r.seq, off, int64(n), r.msg.Size())
	return nil
}

func checkMagic(f *os.File, size int64, last bool) error {
	b := make([]byte, len(magic))
	if _, err := f.ReadAt(b, 0); err != nil {
		if last && size < int64(len(magic)) {
			return errTorn
		}
		return fmt.Errorf("read segment header: %w", err)
	}
	if string(b) != magic {
		return fmt.Errorf("%w: bad segment header", errCorrupt)
	}
	return nil
}

// cut handles a bad record at off: in the newest segment the file is cut
// there (rewriting the header when even that was torn); elsewhere it is
// damage.
func (s *Store) cut(g *segment, off, size int64, cause error, last bool) error {
	if !last {
		return fmt.Errorf("%w: segment %s at offset %d: %w", ErrDamaged, segmentName(g.id), off, cause)
	}
	s.opts.Log.Warn("message store: cutting the newest segment's tail, which a crash left unfinished",
		"dir", s.dir, "segment", segmentName(g.id), "offset", off, "bytes", size-off, "cause", cause)
	if err := g.file.f.Truncate(off); err != nil { // the torn bytes carry nothing confirmed: the Raft log has them
		return fmt.Errorf("cut segment tail: %w", err)
	}
	if off == 0 {
		if _, err := g.file.f.WriteAt([]byte(magic), 0); err != nil {
			return fmt.Errorf("rewrite segment header: %w", err)
		}
		off = int64(len(magic))
	}
	g.size = off
	if _, err := g.file.f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("seek segment: %w", err)
	}
	return g.file.f.Sync()
}
