package checker

import "fmt"

// InOrder checks a reader that may hold one message at a time (a group
// with maxInFlight 1 and one member): leaving out redeliveries of a seq it
// already got, the seqs it received must increase. A message delivered
// again after a later one (a failover re-sending an acked message) is a
// duplicate, not disorder, so only first deliveries count.
func InOrder(ds []Delivery) error {
	seen := map[uint64]bool{}
	var last uint64
	for i, d := range ds {
		if seen[d.Seq] {
			continue
		}
		seen[d.Seq] = true
		if d.Seq < last {
			return fmt.Errorf("delivery %d: seq %d (%s) after seq %d", i, d.Seq, d.ID, last)
		}
		last = d.Seq
	}
	return nil
}

// Contiguous checks a tail reader: it must receive seqs from its first one
// up, each exactly once, with no gap and never going back — a tail resumes
// after the last seq it was given, on whichever node it reconnects to.
func Contiguous(ds []Delivery) error {
	for i := 1; i < len(ds); i++ {
		if want := ds[i-1].Seq + 1; ds[i].Seq != want {
			return fmt.Errorf("delivery %d: seq %d (%s) after seq %d, want %d", i, ds[i].Seq, ds[i].ID, ds[i-1].Seq, want)
		}
	}
	return nil
}
