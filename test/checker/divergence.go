package checker

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Stored is one message as a node stores it.
type Stored struct {
	Seq uint64
	ID  string
}

// Diverged compares each node's contents of one queue (node name → its
// messages in seq order) and returns an error naming the first difference
// between any node and the first node in name order; nil when all agree.
// Read the nodes after the run has healed and every node has applied the
// same commit index, or a lagging node shows up as a difference.
func Diverged(contents map[string][]Stored) error {
	names := sortedKeys(contents)
	if len(names) < 2 {
		return nil
	}
	ref := contents[names[0]]
	var errs []error
	for _, name := range names[1:] {
		if err := compare(ref, contents[name]); err != nil {
			errs = append(errs, fmt.Errorf("node %s differs from node %s: %w", name, names[0], err))
		}
	}
	return errors.Join(errs...)
}

// compare returns the first difference of b from a.
func compare(a, b []Stored) error {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Errorf("message %d is seq %d id %q, want seq %d id %q", i, b[i].Seq, b[i].ID, a[i].Seq, a[i].ID)
		}
	}
	if len(a) != len(b) {
		return fmt.Errorf("%d messages, want %d", len(b), len(a))
	}
	if !slices.IsSortedFunc(b, func(x, y Stored) int { return cmp.Compare(x.Seq, y.Seq) }) {
		return errors.New("messages are not in seq order")
	}
	return nil
}
