package diskstore

import (
	"errors"
	"fmt"
	"io"

	"github.com/carriermq/carrier/queue"
)

// view is a Capture: the segments as they were, each file held open, so
// that drops and a Remove after the capture do not change what it reads.
type view struct {
	segs        []segView
	first, last uint64
	err         error // the flush before the capture failed
}

type segView struct {
	seg segment // a copy: base, n, offs and the file
	end int64   // bytes of the file the capture covers
}

// Capture returns a frozen view of the stored messages (it flushes first,
// so the files hold them; no payload is copied).
func (s *Store) Capture() queue.MessageView {
	v := &view{first: s.first, last: s.last}
	if err := s.usable(); err != nil {
		v.err = err
		return v
	}
	if err := s.flush(); err != nil {
		v.err = err
		return v
	}
	for _, g := range s.segs {
		if g.n > 0 && !s.empty() && g.lastSeq() >= s.first {
			cp := *g
			cp.file = g.file.acquire()
			v.segs = append(v.segs, segView{seg: cp, end: g.size})
		}
	}
	return v
}

func (v *view) Len() int64 {
	if v.last == 0 {
		return 0
	}
	return int64(v.last - v.first + 1)
}

// Each reads the captured messages in order from the files.
func (v *view) Each(fn func(*queue.Message) error) error {
	if v.err != nil {
		return fmt.Errorf("capture: %w", v.err)
	}
	seq := v.first
	for i := range v.segs {
		next, err := v.segs[i].each(seq, v.last, fn)
		if err != nil {
			return err
		}
		seq = next
	}
	if v.last != 0 && seq != v.last+1 {
		return fmt.Errorf("%w: captured view ends at seq %d, want %d", ErrDamaged, seq-1, v.last)
	}
	return nil
}

// each calls fn for the segment's messages from seq through last and
// returns the seq after the last one it passed.
func (sv *segView) each(seq, last uint64, fn func(*queue.Message) error) (uint64, error) {
	g := &sv.seg
	if !g.holds(seq) {
		return seq, nil
	}
	rr, err := g.seek(seq, sv.end)
	if err != nil {
		return seq, err
	}
	defer rr.close()
	for seq <= last {
		r, _, err := rr.next()
		if errors.Is(err, io.EOF) {
			return seq, nil
		}
		if err != nil {
			return seq, fmt.Errorf("segment %s: %w", segmentName(g.id), err)
		}
		if r.kind != kindMsg {
			continue
		}
		if err := fn(r.msg); err != nil {
			return seq, err
		}
		seq++
	}
	return seq, nil
}

// Close releases the view's files.
func (v *view) Close() error {
	var errs []error
	for _, sv := range v.segs {
		errs = append(errs, sv.seg.file.release())
	}
	v.segs = nil
	return errors.Join(errs...)
}
