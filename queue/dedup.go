package queue

import "time"

// dedupRecord remembers that a message id was first published as seq at time.
type dedupRecord struct {
	id   string
	seq  uint64
	time int64
}

// dedupIndex remembers the ids published to one queue within its
// DedupWindow. fifo holds the records in publish order, which is also time
// order because effective time never goes backwards; ids maps an id to its
// record. fifo is only ever resliced from the front or appended to, never
// written in place, so a captured slice header stays valid for snapshots.
//
// Invariant: ids and fifo hold the same records; fifo times are non-decreasing.
type dedupIndex struct {
	ids  map[string]dedupRecord
	fifo []dedupRecord
}

func newDedupIndex() dedupIndex {
	return dedupIndex{ids: make(map[string]dedupRecord)}
}

// lookup returns the record of id if it was published within window of now.
// The explicit time check makes the answer independent of when pruning ran.
func (d *dedupIndex) lookup(id string, now int64, window time.Duration) (dedupRecord, bool) {
	r, ok := d.ids[id]
	if !ok || addDur(r.time, window) <= now {
		return dedupRecord{}, false
	}
	return r, true
}

// add remembers id; the caller checked that it is not remembered. The oldest
// records are forgotten beyond MaxDedupIDs.
func (d *dedupIndex) add(id string, seq uint64, now int64) {
	r := dedupRecord{id: id, seq: seq, time: now}
	d.ids[id] = r
	d.fifo = append(d.fifo, r)
	for len(d.fifo) > MaxDedupIDs {
		d.popOldest()
	}
}

// prune forgets every record whose window has ended at now.
func (d *dedupIndex) prune(now int64, window time.Duration) {
	for len(d.fifo) > 0 && addDur(d.fifo[0].time, window) <= now {
		d.popOldest()
	}
}

func (d *dedupIndex) popOldest() {
	r := d.fifo[0]
	if cur, ok := d.ids[r.id]; ok && cur.seq == r.seq {
		delete(d.ids, r.id)
	}
	d.fifo = d.fifo[1:]
	if len(d.fifo) == 0 {
		d.fifo = nil // release the backing array
	}
}

// expiry is when the oldest record's window ends; ok is false when empty.
func (d *dedupIndex) expiry(window time.Duration) (int64, bool) {
	if len(d.fifo) == 0 {
		return 0, false
	}
	return addDur(d.fifo[0].time, window), true
}
