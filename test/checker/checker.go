// Package checker is the total-queue checker of Carrier's fault tests
// (docs: test/checker/DESIGN.md). A test records a History while it runs —
// every publish attempt with its outcome, every delivery a consumer group
// received — and Check turns it into a Report: lost, unexpected, duplicated,
// recovered and unknown messages. Divergence compares what each node stores.
//
// A message is known by its id, which must be unique per publish attempt
// (retries of one message reuse its id, as the client does).
package checker

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Outcome is what the producer learned about a publish.
type Outcome int

// Outcomes of a publish, in the order they can be learned.
const (
	// Pending: sent, no answer recorded yet. Check treats it as Unknown.
	Pending Outcome = iota
	// Confirmed: the server confirmed it (committed and fsynced by a majority).
	Confirmed
	// Unknown: an error or timeout; it may or may not be stored.
	Unknown
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case Pending:
		return "pending"
	case Confirmed:
		return "confirmed"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// publish is one message's producer-side record.
type publish struct {
	outcome   Outcome
	seq       uint64    // set when confirmed
	attempted time.Time // first Attempt
	decided   time.Time // Confirm, or the last Fail
}

// Delivery is one message a reader received.
type Delivery struct {
	ID   string
	Seq  uint64
	Node string // which node served it (for reports only)
	// Reader names who received it: a consumer group or a tail. Check
	// merges every reader; CheckReader and MissingFor look at one.
	Reader string
}

// History is the record of one run. All methods are safe for concurrent
// use by producers and consumers; each takes the History's mutex briefly.
type History struct {
	mu         sync.Mutex
	published  map[string]*publish
	order      []string // publish ids in the order they were first attempted
	deliveries []Delivery
}

// NewHistory returns an empty History.
func NewHistory() *History {
	return &History{published: map[string]*publish{}}
}

// Attempt records that message id is about to be published. Call it before
// the publish is sent, so that a delivery can never precede it.
func (h *History) Attempt(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attemptLocked(id)
}

// Confirm records the server's confirmation of id at seq. A confirmation
// wins over an earlier Unknown (a retry of the same id succeeded).
func (h *History) Confirm(id string, seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.attemptLocked(id)
	p.outcome, p.seq, p.decided = Confirmed, seq, time.Now()
}

// Fail records that the publish of id ended without a confirmation (error
// or timeout). It never downgrades a confirmation.
func (h *History) Fail(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.attemptLocked(id)
	if p.outcome != Confirmed {
		p.outcome, p.decided = Unknown, time.Now()
	}
}

// attemptLocked returns id's record, creating it. h.mu held.
func (h *History) attemptLocked(id string) *publish {
	p, ok := h.published[id]
	if !ok {
		p = &publish{attempted: time.Now()}
		h.published[id] = p
		h.order = append(h.order, id)
	}
	return p
}

// Receive records one delivery to the group under test.
func (h *History) Receive(d Delivery) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliveries = append(h.deliveries, d)
}

// Confirmed returns the ids confirmed so far, in attempt order.
func (h *History) Confirmed() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, id := range h.order {
		if h.published[id].outcome == Confirmed {
			out = append(out, id)
		}
	}
	return out
}

// Missing returns the confirmed ids no reader has received yet, in
// attempt order; a test polls it until it is empty before calling Check.
func (h *History) Missing() []string { return h.missing(func(Delivery) bool { return true }) }

// MissingFor is Missing for the deliveries of one reader.
func (h *History) MissingFor(reader string) []string {
	return h.missing(func(d Delivery) bool { return d.Reader == reader })
}

func (h *History) missing(counts func(Delivery) bool) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := make(map[string]bool, len(h.deliveries))
	for _, d := range h.deliveries {
		if counts(d) {
			seen[d.ID] = true
		}
	}
	var out []string
	for _, id := range h.order {
		if h.published[id].outcome == Confirmed && !seen[id] {
			out = append(out, id)
		}
	}
	return out
}

// Counts returns how many publishes are confirmed and how many deliveries
// were received so far.
func (h *History) Counts() (confirmed, received int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.published {
		if p.outcome == Confirmed {
			confirmed++
		}
	}
	return confirmed, len(h.deliveries)
}

// Publish is the producer-side record of one message id.
type Publish struct {
	ID        string
	Outcome   Outcome
	Seq       uint64    // when confirmed
	Attempted time.Time // first attempt
	Decided   time.Time // confirmation or last failure; zero while pending
}

// Publishes returns every message id's record, in attempt order.
func (h *History) Publishes() []Publish {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Publish, 0, len(h.order))
	for _, id := range h.order {
		p := h.published[id]
		out = append(out, Publish{ID: id, Outcome: p.outcome, Seq: p.seq, Attempted: p.attempted, Decided: p.decided})
	}
	return out
}

// Deliveries returns a copy of every delivery of reader, in arrival order.
func (h *History) Deliveries(reader string) []Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Delivery
	for _, d := range h.deliveries {
		if d.Reader == reader {
			out = append(out, d)
		}
	}
	return out
}

// sortedKeys returns m's keys sorted, for stable reports.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
