package faulttest

import (
	"strings"
	"testing"

	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/test/checker"
)

// A divergence the probe found is counted once, under its scenario, when
// the end-of-run check finds it again; a new one at the end goes to the
// window whose probe compared its seq.
func TestTableCountsEachFindingOnce(t *testing.T) {
	ws := []window{
		{scenario: "kill-leader", spans: map[string]span{"orders": {1, 100}}},
		{scenario: "pause-leader-kill-follower", spans: map[string]span{"orders": {101, 250}}},
	}
	restamped := checker.Stored{Seq: 120, ID: "orders-pn1-000041", Time: "2026-12-01T10:00:01.130Z"}
	committed := restamped
	committed.Time = "2026-12-01T10:00:01.100Z"
	probeFound := []checker.Difference{{Seq: 120, Node: "n3", Got: &restamped, Ref: "n1", Want: &committed}}
	tbl := newTable()
	tbl.diverged("orders", probeFound, func(uint64) string { return ws[1].scenario })
	atEnd := append(probeFound, checker.Difference{Seq: 7, Node: "n2", Ref: "n1", Want: &committed},
		checker.Difference{Seq: 400, Node: "n2", Ref: "n1", Want: &committed})
	tbl.diverged("orders", atEnd, func(seq uint64) string { return bySeq(ws, "orders", seq) })
	tbl.mismatched("orders", []checker.Mismatch{{Node: "n3", ID: "orders-pn1-000041", Seq: 121, Got: &restamped}},
		func(string) string { return ws[1].scenario })
	tbl.mismatched("orders", []checker.Mismatch{{Node: "n3", ID: "orders-pn1-000041", Seq: 121, Got: &restamped}},
		func(string) string { return between })

	for name, want := range map[string][2]int{"kill-leader": {1, 0}, "pause-leader-kill-follower": {1, 1}, between: {1, 0}} {
		r := tbl.row(name)
		if r.divergence != want[0] || r.mismatch != want[1] {
			t.Errorf("%s: divergence %d, seq mismatch %d, want %d, %d", name, r.divergence, r.mismatch, want[0], want[1])
		}
	}
	md := tbl.markdown()
	if !strings.Contains(md, "| divergence | seq mismatch |") || !strings.Contains(md, "| **total** | 0 | 0 | 0 | 0 | 3 | 1 |") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestSpanOf(t *testing.T) {
	infos := map[string]map[string]protocol.QueueInfo{
		"n1": {"orders": {Name: "orders", FirstSeq: 1, LastSeq: 900}},
		"n2": {"orders": {Name: "orders", FirstSeq: 3, LastSeq: 880}, "fault-fill": {Name: "fault-fill", FirstSeq: 1, LastSeq: 30}},
		"n3": {"orders": {Name: "orders", FirstSeq: 1, LastSeq: 905}},
	}
	for _, c := range []struct {
		q    string
		lo   uint64
		want span
		ok   bool
	}{
		{"orders", 501, span{501, 880}, true},     // up to the lowest lastSeq
		{"orders", 1, span{3, 880}, true},         // not below any node's first seq
		{"orders", 881, span{881, 880}, false},    // nothing new on every node
		{"fault-fill", 1, span{1, 30}, true},      // only n2 has it: n1 and n3 store nothing
		{"fault-minority", 1, span{lo: 1}, false}, // no node has it
	} {
		got, ok := spanOf(infos, c.q, c.lo)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("spanOf(%s, %d) = %v, %v; want %v, %v", c.q, c.lo, got, ok, c.want, c.ok)
		}
	}
	if got := lowestLast(infos, "orders"); got != 880 {
		t.Errorf("lowestLast(orders) = %d, want 880", got)
	}
	if got := lowestLast(infos, "fault-fill"); got != 0 {
		t.Errorf("lowestLast(fault-fill) = %d, want 0 (n1 and n3 lack it: compare all of it)", got)
	}
}
