package diskstore

import "github.com/carriermq/carrier/queue"

// maxCached bounds the tail cache's count whatever the messages' sizes.
const maxCached = 1 << 16

// tailCache holds the newest appended messages, in seq order (contiguous
// seqs), within a budget of record bytes. Live deliveries and short
// replays read from it; older messages come from the files.
//
// Only the store's writer changes it (push, evict, dropThrough); readers
// only read it, never concurrently with the writer.
type tailCache struct {
	ents  []cached // ring buffer
	head  int      // index of the oldest
	n     int
	bytes int64
}

type cached struct {
	msg *queue.Message
	seg uint64 // id of the segment holding its record
	end int64  // offset just past its record
	len int64  // record bytes
}

func (c *tailCache) at(i int) *cached { return &c.ents[(c.head+i)%len(c.ents)] }

func (c *tailCache) push(m *queue.Message, seg uint64, end, recLen int64) {
	if c.n == len(c.ents) {
		c.grow()
	}
	*c.at(c.n) = cached{msg: m, seg: seg, end: end, len: recLen}
	c.n++
	c.bytes += recLen
}

func (c *tailCache) grow() {
	ents := make([]cached, max(16, 2*len(c.ents)))
	for i := range c.n {
		ents[i] = *c.at(i)
	}
	c.ents, c.head = ents, 0
}

// over reports whether the cache holds more than budget bytes (or
// messages) and more than one message: the newest always stays.
func (c *tailCache) over(budget int64) bool {
	return c.n > 1 && (c.bytes > budget || c.n > maxCached)
}

func (c *tailCache) oldest() *cached { return c.at(0) }

func (c *tailCache) evict() {
	e := c.at(0)
	c.bytes -= e.len
	*e = cached{}
	c.head = (c.head + 1) % len(c.ents)
	c.n--
}

// firstSeq is the oldest cached seq, 0 when the cache is empty.
func (c *tailCache) firstSeq() uint64 {
	if c.n == 0 {
		return 0
	}
	return c.oldest().msg.Seq
}

// get returns the cached message with seq, or nil.
func (c *tailCache) get(seq uint64) *queue.Message {
	if e := c.entry(seq); e != nil {
		return e.msg
	}
	return nil
}

// entry returns the cache entry of seq, or nil.
func (c *tailCache) entry(seq uint64) *cached {
	first := c.firstSeq()
	if c.n == 0 || seq < first || seq-first >= uint64(c.n) {
		return nil
	}
	return c.at(int(seq - first))
}

// appendRange appends up to n cached messages from seq on.
func (c *tailCache) appendRange(out []*queue.Message, seq uint64, n int) []*queue.Message {
	for ; n > 0; n-- {
		m := c.get(seq)
		if m == nil {
			break
		}
		out = append(out, m)
		seq++
	}
	return out
}

// dropThrough forgets the cached messages with Seq <= seq.
func (c *tailCache) dropThrough(seq uint64) {
	for c.n > 0 && c.oldest().msg.Seq <= seq {
		c.evict()
	}
}
