package checker

import "testing"

func deliveries(seqs ...uint64) []Delivery {
	out := make([]Delivery, len(seqs))
	for i, s := range seqs {
		out[i] = Delivery{ID: "m", Seq: s}
	}
	return out
}

func TestInOrder(t *testing.T) {
	for _, c := range []struct {
		seqs []uint64
		ok   bool
	}{
		{[]uint64{1, 2, 3}, true},
		{[]uint64{1, 1, 2, 2, 3}, true}, // redeliveries of the held message
		{[]uint64{1, 2, 3, 2, 4}, true}, // an old one again after a failover: duplicate
		{[]uint64{1, 3, 2}, false},      // 2 delivered first after 3
		{nil, true},
	} {
		if err := InOrder(deliveries(c.seqs...)); (err == nil) != c.ok {
			t.Errorf("InOrder(%v) = %v, want ok=%v", c.seqs, err, c.ok)
		}
	}
}

func TestContiguous(t *testing.T) {
	for _, c := range []struct {
		seqs []uint64
		ok   bool
	}{
		{[]uint64{5, 6, 7}, true},
		{[]uint64{1, 3}, false},    // gap
		{[]uint64{1, 2, 2}, false}, // repeat
		{[]uint64{2, 1}, false},    // back in time
		{nil, true},
	} {
		if err := Contiguous(deliveries(c.seqs...)); (err == nil) != c.ok {
			t.Errorf("Contiguous(%v) = %v, want ok=%v", c.seqs, err, c.ok)
		}
	}
}

// TestCheckReader: a message one reader got and another did not is lost
// for the second only.
func TestCheckReader(t *testing.T) {
	h := NewHistory()
	h.Attempt("a")
	h.Confirm("a", 1)
	h.Receive(Delivery{ID: "a", Seq: 1, Reader: "g1"})
	if err := CheckReader(h, "g1").Err(); err != nil {
		t.Errorf("g1: %v", err)
	}
	r := CheckReader(h, "g2")
	if len(r.Lost) != 1 || r.Err() == nil {
		t.Errorf("g2 report %s: want a as lost", r)
	}
	if m := h.MissingFor("g2"); len(m) != 1 {
		t.Errorf("MissingFor(g2) = %v", m)
	}
	if p := h.Publishes(); len(p) != 1 || p[0].Outcome != Confirmed || p[0].Decided.Before(p[0].Attempted) {
		t.Errorf("Publishes = %+v", p)
	}
}
