package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"time"
)

// The primitives of the binary formats (log entries and snapshots):
// unsigned integers as uvarints, signed ones (times, durations, counts that
// are ints) as zig-zag varints, booleans as one byte 0 or 1, strings and
// byte slices as a uvarint length and the bytes, maps as a count and the
// pairs in ascending key order.

// errMalformed wraps every decoding failure.
var errMalformed = errors.New("malformed encoding")

// encoder appends to buf. It never fails.
type encoder struct{ buf []byte }

func (e *encoder) byte(b byte)         { e.buf = append(e.buf, b) }
func (e *encoder) uvarint(v uint64)    { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) varint(v int64)      { e.buf = binary.AppendVarint(e.buf, v) }
func (e *encoder) int(v int)           { e.varint(int64(v)) }
func (e *encoder) dur(d time.Duration) { e.varint(int64(d)) }

func (e *encoder) bool(b bool) {
	if b {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

func (e *encoder) string(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// optionalString is a field appended to a command after its first release:
// written only when set, so an entry without it has the old encoding. It
// must be the body's last field.
func (e *encoder) optionalString(s string) {
	if s != "" {
		e.string(s)
	}
}

func (e *encoder) bytes(b []byte) {
	e.uvarint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *encoder) strMap(m map[string]string) {
	e.uvarint(uint64(len(m)))
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.string(k)
		e.string(m[k])
	}
}

func (e *encoder) seqs(seqs []uint64) {
	e.uvarint(uint64(len(seqs)))
	for _, s := range seqs {
		e.uvarint(s)
	}
}

// decoder reads the primitives from buf. In stream mode (r != nil) it
// refills buf from r as needed; otherwise buf is the whole input. The first
// failure sticks in err and every later read returns zero values, so callers
// check err once at the end of a structure.
type decoder struct {
	buf   []byte
	off   int
	r     io.Reader
	err   error
	alias bool        // bytes may return sub-slices of buf (buf is owned and immutable)
	sum   hash.Hash32 // stream mode: fed every byte consumed, when set
}

// chunk bounds how much a stream decoder reads ahead and allocates before
// it has seen the data: a length prefix alone never causes a large allocation.
const chunk = 64 << 10

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", errMalformed, fmt.Sprintf(format, args...), d.off)
	}
}

// avail returns how many bytes are buffered, reading up to want in stream
// mode (fewer at the end of the input).
func (d *decoder) avail(want int) int {
	have := len(d.buf) - d.off
	if have >= want || d.r == nil || d.err != nil {
		return have
	}
	d.discard()
	for len(d.buf) < want {
		if len(d.buf) == cap(d.buf) {
			d.buf = slices.Grow(d.buf, max(chunk, want))
		}
		n, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			d.err = fmt.Errorf("read: %w", err)
			break
		}
	}
	return len(d.buf) - d.off
}

// discard drops the consumed bytes from buf, feeding them to sum.
func (d *decoder) discard() {
	if d.sum != nil {
		d.sum.Write(d.buf[:d.off])
	}
	d.buf = append(d.buf[:0], d.buf[d.off:]...)
	d.off = 0
}

// remaining is a bound on the bytes left: exact for a buffer, unknown
// (max int) for a stream.
func (d *decoder) remaining() int {
	if d.r != nil {
		return int(^uint(0) >> 1)
	}
	return len(d.buf) - d.off
}

func (d *decoder) byte() byte {
	if d.avail(1) < 1 {
		d.fail("truncated")
		return 0
	}
	b := d.buf[d.off]
	d.off++
	return b
}

func (d *decoder) uvarint() uint64 {
	d.avail(binary.MaxVarintLen64)
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	d.avail(binary.MaxVarintLen64)
	v, n := binary.Varint(d.buf[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) int() int           { return int(d.varint()) }
func (d *decoder) dur() time.Duration { return time.Duration(d.varint()) }

func (d *decoder) bool() bool {
	switch b := d.byte(); b {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("bad bool %d", b)
		return false
	}
}

// length reads a byte length and checks it against what is left.
func (d *decoder) length() int {
	n := d.uvarint()
	if n > uint64(d.remaining()) {
		d.fail("length %d exceeds the input", n)
		return 0
	}
	return int(n)
}

// count reads an item count; every item takes at least one byte, so a count
// beyond the input is malformed. The returned hint is safe to preallocate.
func (d *decoder) count() (n, hint int) {
	n = d.length()
	return n, min(n, 1024)
}

// take returns the next n bytes: a view of buf for a buffer (valid while
// buf is), a fresh slice for a stream.
func (d *decoder) take(n int) []byte {
	if d.r == nil {
		if n > len(d.buf)-d.off {
			d.fail("truncated")
			return nil
		}
		b := d.buf[d.off : d.off+n : d.off+n]
		d.off += n
		return b
	}
	out := make([]byte, 0, min(n, chunk))
	for len(out) < n && d.err == nil {
		have := d.avail(min(n-len(out), chunk))
		if have == 0 {
			d.fail("truncated")
			break
		}
		take := min(have, n-len(out))
		out = append(out, d.buf[d.off:d.off+take]...)
		d.off += take
	}
	return out
}

func (d *decoder) string() string {
	n := d.length()
	if n == 0 {
		return ""
	}
	return string(d.take(n))
}

// optionalString reads a field written by encoder.optionalString: absent
// at the end of the body, or a non-empty string (an empty one would have
// two encodings, and is refused).
func (d *decoder) optionalString() string {
	if d.remaining() == 0 {
		return ""
	}
	s := d.string()
	if s == "" && d.err == nil {
		d.fail("optional string present but empty")
	}
	return s
}

func (d *decoder) bytes() []byte {
	n := d.length()
	if n == 0 {
		return nil
	}
	b := d.take(n)
	if d.r == nil && !d.alias {
		b = slices.Clone(b)
	}
	return b
}

func (d *decoder) strMap() map[string]string {
	n, hint := d.count()
	if n == 0 || d.err != nil {
		return nil
	}
	m := make(map[string]string, hint)
	prev := ""
	for i := 0; i < n && d.err == nil; i++ {
		k := d.string()
		if i > 0 && k <= prev {
			d.fail("map keys not in ascending order")
		}
		m[k] = d.string()
		prev = k
	}
	return m
}

func (d *decoder) seqs() []uint64 {
	n, hint := d.count()
	if n == 0 {
		return nil
	}
	out := make([]uint64, 0, hint)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.uvarint())
	}
	return out
}
