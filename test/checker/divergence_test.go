package checker

import (
	"slices"
	"strings"
	"testing"
)

// msg is a stored message with the time and body a node would return.
func msg(seq uint64, id, time string) Stored {
	return Stored{Seq: seq, ID: id, Time: time, Body: "b-" + id}
}

// committed is what the two healthy nodes store in the shape:
// three publishes stamped by the new leader.
var committed = []Stored{
	msg(7, "orders-pn1-000041", "2026-12-01T10:00:01.100Z"),
	msg(8, "orders-pn2-000017", "2026-12-01T10:00:01.100Z"),
	msg(9, "orders-pn3-000052", "2026-12-01T10:00:01.100Z"),
}

// restamped is the old leader's own, never committed batch: the same ids
// at the same seqs, stamped by it 30 ms later.
var restamped = []Stored{
	msg(7, "orders-pn1-000041", "2026-12-01T10:00:01.130Z"),
	msg(8, "orders-pn2-000017", "2026-12-01T10:00:01.130Z"),
	msg(9, "orders-pn3-000052", "2026-12-01T10:00:01.130Z"),
}

// shifted is the old leader's batch in its own seq order.
var shifted = []Stored{
	msg(7, "orders-pn3-000052", "2026-12-01T10:00:01.130Z"),
	msg(8, "orders-pn1-000041", "2026-12-01T10:00:01.130Z"),
	msg(9, "orders-pn2-000017", "2026-12-01T10:00:01.130Z"),
}

func TestDifferencesSameIDOtherTime(t *testing.T) {
	ds := Differences(map[string][]Stored{"n1": committed, "n2": committed, "n3": restamped})
	if len(ds) != 3 {
		t.Fatalf("got %d differences, want 3 (one per restamped seq): %v", len(ds), ds)
	}
	for i, d := range ds {
		if d.Node != "n3" || d.Ref != "n1" || d.Seq != committed[i].Seq {
			t.Errorf("difference %d = %v, want node n3 against n1 at seq %d", i, d, committed[i].Seq)
		}
		if *d.Got != restamped[i] || *d.Want != committed[i] {
			t.Errorf("difference %d shows %v / %v, want both versions %v / %v", i, *d.Got, *d.Want, restamped[i], committed[i])
		}
	}
	want := `seq 7: node n3 stores seq 7 id "orders-pn1-000041" time 2026-12-01T10:00:01.130Z body b-orders-pn1-000041, ` +
		`node n1 stores seq 7 id "orders-pn1-000041" time 2026-12-01T10:00:01.100Z body b-orders-pn1-000041`
	if got := ds[0].String(); got != want {
		t.Errorf("String =\n%s\nwant\n%s", got, want)
	}
}

func TestDifferencesNamesTheOddNode(t *testing.T) {
	// The odd node sorts first: the majority, not name order, is the reference.
	ds := Differences(map[string][]Stored{"n1": shifted, "n2": committed, "n3": committed})
	if len(ds) != 3 {
		t.Fatalf("got %d differences, want 3: %v", len(ds), ds)
	}
	for _, d := range ds {
		if d.Node != "n1" || d.Ref != "n2" {
			t.Errorf("%v: want node n1 against n2", d)
		}
	}
}

func TestDifferencesMissingAndExtra(t *testing.T) {
	extra := append(slices.Clone(committed), msg(10, "orders-pn1-000042", "2026-12-01T10:00:01.200Z"))
	ds := Differences(map[string][]Stored{"n1": committed[:2], "n2": committed, "n3": extra})
	want := []struct {
		seq  uint64
		node string
		got  bool
		ref  string
		want bool
	}{
		{9, "n1", false, "n2", true}, // n1 lacks seq 9 that two nodes store
		{10, "n3", true, "n1", false},
	}
	if len(ds) != len(want) {
		t.Fatalf("got %v, want %d differences", ds, len(want))
	}
	for i, w := range want {
		d := ds[i]
		if d.Seq != w.seq || d.Node != w.node || (d.Got != nil) != w.got || d.Ref != w.ref || (d.Want != nil) != w.want {
			t.Errorf("difference %d = %v, want %+v", i, d, w)
		}
	}
	if !strings.Contains(ds[0].String(), "node n1 stores nothing") {
		t.Errorf("%q does not say n1 stores nothing", ds[0])
	}
}

func TestDiverged(t *testing.T) {
	tests := []struct {
		name     string
		contents map[string][]Stored
		wantErr  string
	}{
		{"all agree", map[string][]Stored{"n1": committed, "n2": committed, "n3": committed}, ""},
		{"one node", map[string][]Stored{"n1": committed}, ""},
		{"nothing stored", map[string][]Stored{"n1": nil, "n2": nil}, ""},
		{"same ids, other times", map[string][]Stored{"n1": committed, "n2": committed, "n3": restamped},
			"3 differences: seq 7: node n3 stores"},
		{"a node misses the tail", map[string][]Stored{"n1": committed, "n2": committed[:1]}, "seq 8: node n2 stores nothing"},
		{"out of order", map[string][]Stored{"n1": committed, "n2": {committed[1], committed[0], committed[2]}},
			"node n2: messages are not in seq order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Diverged(tt.contents)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Diverged = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Diverged = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// confirmedAt is a history in which each id of ms was confirmed at its seq.
func confirmedAt(ms []Stored) *History {
	h := NewHistory()
	for _, m := range ms {
		h.Attempt(m.ID)
		h.Confirm(m.ID, m.Seq)
	}
	return h
}

func TestSeqMismatches(t *testing.T) {
	h := confirmedAt(committed)
	h.Attempt("orders-pn2-000018") // never confirmed: never checked
	h.Fail("orders-pn2-000018")

	if ms := SeqMismatches(h, map[string][]Stored{"n1": committed, "n2": committed, "n3": restamped}, 1, 100); len(ms) != 0 {
		t.Errorf("restamped copies at the confirmed seqs: %v, want no mismatch (that is a divergence)", ms)
	}
	ms := SeqMismatches(h, map[string][]Stored{"n1": committed, "n2": committed[:2], "n3": shifted}, 1, 100)
	want := []Mismatch{
		{Node: "n2", ID: "orders-pn3-000052", Seq: 9},
		{Node: "n3", ID: "orders-pn1-000041", Seq: 7, Got: &shifted[0]},
		{Node: "n3", ID: "orders-pn2-000017", Seq: 8, Got: &shifted[1]},
		{Node: "n3", ID: "orders-pn3-000052", Seq: 9, Got: &shifted[2]},
	}
	if len(ms) != len(want) {
		t.Fatalf("got %v, want %v", ms, want)
	}
	for i := range want {
		if ms[i].String() != want[i].String() {
			t.Errorf("mismatch %d = %v, want %v", i, ms[i], want[i])
		}
	}
	if err := SeqMismatchErr(ms); err == nil || !strings.Contains(err.Error(), "4 confirmed messages not at their confirmed seq") {
		t.Errorf("SeqMismatchErr = %v", err)
	}
	if err := SeqMismatchErr(nil); err != nil {
		t.Errorf("SeqMismatchErr(nil) = %v", err)
	}
}

func TestSeqMismatchesRange(t *testing.T) {
	h := confirmedAt(committed)
	// Only seq 9 lies in the window; n3's shifted 7 and 8 are outside it.
	ms := SeqMismatches(h, map[string][]Stored{"n1": committed[2:], "n3": shifted[2:]}, 9, 9)
	if len(ms) != 1 || ms[0].Node != "n3" || ms[0].Seq != 9 || ms[0].Got.ID != "orders-pn2-000017" {
		t.Errorf("got %v, want n3's seq 9 only", ms)
	}
}
