package checker

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Stored is one message as a node stores it, with everything that tells
// two stored messages apart: the same id stamped twice (by two leaders, at
// two times) is two different Stored values.
type Stored struct {
	Seq  uint64
	ID   string
	Time string // the publish time the leader stamped, as the node returns it
	Body string // a digest of event, data, headers and delivery time (clustertest.ReadAll)
}

// String shows every field, for failure messages that print both versions.
func (s Stored) String() string {
	return fmt.Sprintf("seq %d id %q time %s body %s", s.Seq, s.ID, s.Time, s.Body)
}

// Difference is one seq at which a node stores another message (or none)
// than most nodes do.
type Difference struct {
	Seq  uint64
	Node string  // the node that differs
	Got  *Stored // what Node stores at Seq; nil: nothing
	Ref  string  // a node that stores the majority's version
	Want *Stored // the majority's version; nil: nothing
}

func (d Difference) String() string {
	return fmt.Sprintf("seq %d: node %s stores %s, node %s stores %s", d.Seq, d.Node, describe(d.Got), d.Ref, describe(d.Want))
}

func describe(s *Stored) string {
	if s == nil {
		return "nothing"
	}
	return s.String()
}

// version is what one node stores at one seq (ok false: nothing).
type version struct {
	ok bool
	s  Stored
}

func (v version) ptr() *Stored {
	if !v.ok {
		return nil
	}
	s := v.s
	return &s
}

// Differences compares each node's contents of one queue (node name → its
// messages) seq by seq: at every seq some node stores, the version most
// nodes hold (on a tie, the one of the first node in name order) is the
// reference, and every node holding another one, or nothing, is a
// Difference. Sorted by seq, then node. Compare nodes that have applied the
// same commit index over the same seq range, or a lagging node shows up.
func Differences(contents map[string][]Stored) []Difference {
	names := sortedKeys(contents)
	bySeq := map[uint64]map[string]Stored{}
	for _, n := range names {
		for _, m := range contents[n] {
			if bySeq[m.Seq] == nil {
				bySeq[m.Seq] = map[string]Stored{}
			}
			bySeq[m.Seq][n] = m
		}
	}
	seqs := make([]uint64, 0, len(bySeq))
	for s := range bySeq {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	var out []Difference
	for _, s := range seqs {
		out = append(out, differencesAt(s, names, bySeq[s])...)
	}
	return out
}

// differencesAt lists the nodes whose version at seq is not the majority's.
func differencesAt(seq uint64, names []string, at map[string]Stored) []Difference {
	versions := make([]version, len(names))
	count := map[version]int{}
	for i, n := range names {
		m, ok := at[n]
		versions[i] = version{ok: ok, s: m}
		count[versions[i]]++
	}
	best := 0
	for i := range versions {
		if count[versions[i]] > count[versions[best]] {
			best = i
		}
	}
	var out []Difference
	for i, n := range names {
		if versions[i] != versions[best] {
			out = append(out, Difference{Seq: seq, Node: n, Got: versions[i].ptr(), Ref: names[best], Want: versions[best].ptr()})
		}
	}
	return out
}

// Diverged returns an error naming the first differences between the
// nodes' contents of one queue (see Differences), or a node's messages out
// of seq order; nil when all agree.
func Diverged(contents map[string][]Stored) error {
	var errs []error
	for _, n := range sortedKeys(contents) {
		if !slices.IsSortedFunc(contents[n], func(x, y Stored) int { return cmp.Compare(x.Seq, y.Seq) }) {
			errs = append(errs, fmt.Errorf("node %s: messages are not in seq order", n))
		}
	}
	return errors.Join(append(errs, DifferencesErr(Differences(contents)))...)
}

// DifferencesErr is nil for no differences, else an error naming the first.
func DifferencesErr(ds []Difference) error {
	if len(ds) == 0 {
		return nil
	}
	return fmt.Errorf("%d differences: %s", len(ds), sampleOf(ds))
}

// Mismatch is a confirmed message that a node does not store at the seq
// its publisher was told.
type Mismatch struct {
	Node string
	ID   string
	Seq  uint64  // the confirmed seq
	Got  *Stored // what Node stores at Seq; nil: nothing
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s confirmed at seq %d: node %s stores %s", m.ID, m.Seq, m.Node, describe(m.Got))
}

// SeqMismatches checks, on every node, that each publish of h confirmed at
// a seq in [lo, hi] is stored at exactly that seq with its id. contents
// holds each node's messages of h's queue over at least that range (a node
// storing nothing at a confirmed seq is a mismatch). Sorted by node, then
// seq.
func SeqMismatches(h *History, contents map[string][]Stored, lo, hi uint64) []Mismatch {
	confirmed := map[uint64]string{}
	var seqs []uint64
	for _, p := range h.Publishes() {
		if p.Outcome == Confirmed && p.Seq >= lo && p.Seq <= hi && p.Seq != 0 {
			confirmed[p.Seq] = p.ID
			seqs = append(seqs, p.Seq)
		}
	}
	slices.Sort(seqs)
	var out []Mismatch
	for _, n := range sortedKeys(contents) {
		at := make(map[uint64]Stored, len(contents[n]))
		for _, m := range contents[n] {
			at[m.Seq] = m
		}
		for _, s := range seqs {
			m, ok := at[s]
			if ok && m.ID == confirmed[s] {
				continue
			}
			mm := Mismatch{Node: n, ID: confirmed[s], Seq: s}
			if ok {
				mm.Got = &m
			}
			out = append(out, mm)
		}
	}
	return out
}

// SeqMismatchErr is nil for no mismatches, else an error naming the first.
func SeqMismatchErr(ms []Mismatch) error {
	if len(ms) == 0 {
		return nil
	}
	return fmt.Errorf("%d confirmed messages not at their confirmed seq (seq mismatch): %s", len(ms), sampleOf(ms))
}

// sampleOf lists up to 5 items.
func sampleOf[T fmt.Stringer](items []T) string {
	const n = 5
	var parts []string
	for _, it := range items[:min(n, len(items))] {
		parts = append(parts, it.String())
	}
	s := strings.Join(parts, "; ")
	if len(items) > n {
		s += fmt.Sprintf("; … (%d more)", len(items)-n)
	}
	return s
}
