package diskstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/carriermq/carrier/queue"
)

// A segment file is a header and records:
//
//	file   = magic(8) record*
//	record = length(4, LE) crc32c(4, LE) kind(1) body    (length and crc cover kind and body)
//	body   = uvarint(index) message                      kind 1: a message (queue.AppendMessage)
//	       | uvarint(index) uvarint(seq)                 kind 2: every seq <= seq is dropped
//
// index is the Raft index of the entry that wrote the record.
const (
	magic      = "CRSEG01\n"
	headerLen  = 8 // length and crc
	kindMsg    = 1
	kindDrop   = 2
	maxRecord  = 80 << 20 // a 64 MiB message and its fields, with room
	minBodyLen = 2        // kind and a one-byte index
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Decoding errors. errTorn: the bytes end inside a record (a write cut
// short). errCorrupt: a record is there but does not verify.
var (
	errTorn    = errors.New("torn record")
	errCorrupt = errors.New("corrupt record")
)

// record is one decoded record.
type record struct {
	kind  byte
	index uint64
	msg   *queue.Message // kindMsg
	seq   uint64         // kindDrop; the message's seq for kindMsg
}

// appendMsgRecord appends the record of m written by the entry at index.
func appendMsgRecord(b []byte, index uint64, m *queue.Message) []byte {
	start := len(b)
	b = append(b, make([]byte, headerLen)...)
	b = append(b, kindMsg)
	b = binary.AppendUvarint(b, index)
	b = queue.AppendMessage(b, m)
	return seal(b, start)
}

// appendDropRecord appends the record of a drop through seq at index.
func appendDropRecord(b []byte, index, seq uint64) []byte {
	start := len(b)
	b = append(b, make([]byte, headerLen)...)
	b = append(b, kindDrop)
	b = binary.AppendUvarint(b, index)
	b = binary.AppendUvarint(b, seq)
	return seal(b, start)
}

// seal fills in the length and checksum of the record starting at start.
func seal(b []byte, start int) []byte {
	body := b[start+headerLen:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(body, castagnoli))
	return b
}

// recordLen reads the length of the record whose header starts b: the
// whole record's size, errTorn when b is shorter than the header, and
// errCorrupt for a length no record can have.
func recordLen(b []byte) (int, error) {
	if len(b) < headerLen {
		return 0, errTorn
	}
	n := binary.LittleEndian.Uint32(b)
	if n < minBodyLen || n > maxRecord {
		return 0, fmt.Errorf("%w: length %d", errCorrupt, n)
	}
	return headerLen + int(n), nil
}

// decodeRecord decodes the record at the start of b and returns it with its
// size. errTorn: b ends inside the record; errCorrupt: it does not verify
// or decode.
func decodeRecord(b []byte) (record, int, error) {
	n, err := recordLen(b)
	if err != nil {
		return record{}, 0, err
	}
	if len(b) < n {
		return record{}, 0, errTorn
	}
	body := b[headerLen:n]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return record{}, 0, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	r, err := decodeBody(body)
	return r, n, err
}

func decodeBody(body []byte) (record, error) {
	r := record{kind: body[0]}
	index, k := binary.Uvarint(body[1:])
	if k <= 0 {
		return record{}, fmt.Errorf("%w: bad index", errCorrupt)
	}
	r.index, body = index, body[1+k:]
	switch r.kind {
	case kindMsg:
		m, err := queue.DecodeMessage(body)
		if err != nil {
			return record{}, fmt.Errorf("%w: %w", errCorrupt, err)
		}
		r.msg, r.seq = m, m.Seq
	case kindDrop:
		seq, k := binary.Uvarint(body)
		if k <= 0 || k != len(body) {
			return record{}, fmt.Errorf("%w: bad drop record", errCorrupt)
		}
		r.seq = seq
	default:
		return record{}, fmt.Errorf("%w: unknown kind %d", errCorrupt, r.kind)
	}
	return r, nil
}
