package diskstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// indexEvery is the spacing of a segment's sparse index: one entry per
// indexEvery messages (16 bytes per 32 messages in memory).
const indexEvery = 32

// segment is one file of a store: its message records have contiguous seqs
// base..base+n-1.
//
// The fields are written by the store's writer only; readers (and views,
// which copy what they need at capture) read them while no write runs.
type segment struct {
	id   uint64
	file *fileRef
	// base is the seq of the first message record; n the number of them
	// (0: none yet, base undefined).
	base uint64
	n    int64
	// size is the file's length with the records not flushed yet.
	size int64
	// bytes is the sum of Size of every message record of the file.
	bytes int64
	// offs[k] is the offset of the record of message base+k*indexEvery and
	// cum[k] the sum of Size of the messages before it in this file.
	offs, cum []int64
	// dropFirst: a drop record precedes the first message record (a drop
	// of everything starts a segment so; the seqs after it may jump).
	dropFirst bool
}

func segmentName(id uint64) string { return fmt.Sprintf("%016x.seg", id) }

// lastSeq is the seq of the segment's last message record (valid when n > 0).
func (g *segment) lastSeq() uint64 { return g.base + uint64(g.n) - 1 }

// holds reports whether seq is one of the segment's message records.
func (g *segment) holds(seq uint64) bool { return g.n > 0 && seq >= g.base && seq <= g.lastSeq() }

// added records a message record of size bytes (Size) at off.
func (g *segment) added(seq uint64, off, recLen, size int64) {
	if g.n == 0 {
		g.base = seq
	}
	if g.n%indexEvery == 0 {
		g.offs = append(g.offs, off)
		g.cum = append(g.cum, g.bytes)
	}
	g.n++
	g.bytes += size
	g.size = off + recLen
}

// fileRef is an open segment file shared by the store and its views; the
// file is closed when the last holder releases it (a view keeps reading a
// file the store has removed since).
type fileRef struct {
	f    *os.File
	refs atomic.Int32
}

func newFileRef(f *os.File) *fileRef {
	r := &fileRef{f: f}
	r.refs.Store(1)
	return r
}

func (r *fileRef) acquire() *fileRef { r.refs.Add(1); return r }

// release drops one hold and closes the file with the last.
func (r *fileRef) release() error {
	if r.refs.Add(-1) == 0 {
		return r.f.Close()
	}
	return nil
}

// createSegment creates the segment file id in dir with its header, synced
// with its directory entry.
func createSegment(dir string, id uint64) (*segment, error) {
	f, err := os.OpenFile(filepath.Join(dir, segmentName(id)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if _, err := f.Write([]byte(magic)); err != nil {
		return nil, errors.Join(fmt.Errorf("write segment header: %w", err), f.Close())
	}
	return &segment{id: id, file: newFileRef(f), size: int64(len(magic))}, nil
}

// readerPool holds the buffered readers of record scans.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// recordReader reads the records of a file sequentially from an offset.
type recordReader struct {
	br  *bufio.Reader
	off int64 // offset of the next record
	end int64 // offset where the data read ends
	buf []byte
}

func newRecordReader(f *os.File, off, end int64) *recordReader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(io.NewSectionReader(f, off, end-off))
	return &recordReader{br: br, off: off, end: end}
}

func (rr *recordReader) close() { rr.br.Reset(nil); readerPool.Put(rr.br) }

// next reads the next record and returns it with its length. io.EOF at the
// end; errTorn when the data ends inside a record; errCorrupt when a record
// does not verify.
func (rr *recordReader) next() (record, int, error) {
	head, err := rr.br.Peek(headerLen)
	if len(head) == 0 && err == io.EOF {
		return record{}, 0, io.EOF
	}
	if err != nil && err != io.EOF {
		if len(head) < headerLen && errors.Is(err, io.EOF) {
			return record{}, 0, errTorn
		}
		return record{}, 0, fmt.Errorf("read segment: %w", err)
	}
	n, err := recordLen(head)
	if err != nil {
		return record{}, 0, err
	}
	if rr.off+int64(n) > rr.end { // no allocation for a length the data cannot hold
		return record{}, 0, errTorn
	}
	rr.buf = append(rr.buf[:0], make([]byte, n)...)
	if _, err := io.ReadFull(rr.br, rr.buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return record{}, 0, errTorn
		}
		return record{}, 0, fmt.Errorf("read segment: %w", err)
	}
	r, _, err := decodeRecord(rr.buf)
	if err != nil {
		return record{}, 0, err
	}
	rr.off += int64(n)
	return r, n, nil
}

// seek returns a reader positioned at the record of message seq of g
// (g.holds(seq)) and skips to it. end bounds the bytes read.
func (g *segment) seek(seq uint64, end int64) (*recordReader, error) {
	k := (seq - g.base) / indexEvery
	rr := newRecordReader(g.file.f, g.offs[k], end)
	for skip := seq - g.base - k*indexEvery; skip > 0; {
		r, _, err := rr.next()
		if err != nil {
			rr.close()
			return nil, fmt.Errorf("segment %s: %w", segmentName(g.id), eofAsCorrupt(err))
		}
		if r.kind == kindMsg {
			skip--
		}
	}
	return rr, nil
}

// position is a place among a segment's message records: the record of
// message seq starts at or after off (only other records between), and sum
// is the Size of the segment's messages before it.
type position struct {
	seq      uint64
	off, sum int64
}

// point is the sparse index entry at or before message seq of g.
func (g *segment) point(seq uint64) position {
	k := (min(seq, g.lastSeq()) - g.base) / indexEvery
	return position{seq: g.base + k*indexEvery, off: g.offs[k], sum: g.cum[k]}
}

// walkBuffer is the read size of walk: a drop usually reads one record or
// a few, never more than indexEvery.
const walkBuffer = 8 << 10

var walkPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, walkBuffer) }}

// walk reads g's records from p up to message to (base <= p.seq <= to <=
// last+1; the file read no further than end) and returns the position of
// message to.
func (g *segment) walk(p position, to uint64, end int64) (position, error) {
	if to > g.lastSeq() {
		return position{seq: to, off: g.size, sum: g.bytes}, nil
	}
	br := walkPool.Get().(*bufio.Reader)
	br.Reset(io.NewSectionReader(g.file.f, p.off, end-p.off))
	rr := &recordReader{br: br, off: p.off, end: end}
	defer func() { br.Reset(nil); walkPool.Put(br) }()
	for p.seq < to {
		r, _, err := rr.next()
		if err != nil {
			return p, fmt.Errorf("segment %s: %w", segmentName(g.id), eofAsCorrupt(err))
		}
		if r.kind == kindMsg {
			p.sum += r.msg.Size()
			p.seq++
		}
		p.off = rr.off
	}
	return p, nil
}

// eofAsCorrupt: a record the index says is there and is not is damage.
func eofAsCorrupt(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: record missing", errCorrupt)
	}
	return err
}
