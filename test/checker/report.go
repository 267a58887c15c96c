package checker

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Report is the verdict on a History. Lost, Unexpected and Forked must be
// empty for a run to pass (Err); the rest is reported.
type Report struct {
	Attempted int // distinct message ids published
	Confirmed int // ids the server confirmed
	Unknown   int // ids whose publish ended in an error, timeout or never returned
	Received  int // deliveries to the group, duplicates included

	// Lost: confirmed, and never received by the group. Must be empty.
	Lost []string
	// Unexpected: received, but never published. Must be empty.
	Unexpected []string
	// Forked: one id received at two different seqs, or at a seq other than
	// the confirmed one — the queue stored a second copy, or a seq names two
	// messages. Must be empty.
	Forked []string
	// Duplicated: deliveries beyond the first of each id (at-least-once).
	Duplicated int
	// Recovered: unconfirmed ids that were received anyway.
	Recovered int
	// UnknownLeft: unconfirmed ids never received (they may or may not be
	// stored; never counted as lost).
	UnknownLeft int
}

// Check computes the Report of h. Call it after the run has healed and the
// group has drained (History.Missing is empty or its deadline passed).
func Check(h *History) Report {
	return check(h, func(Delivery) bool { return true })
}

// CheckReader is Check for the deliveries of one reader (a group or a
// tail): lost means confirmed and never received by that reader.
func CheckReader(h *History, reader string) Report {
	return check(h, func(d Delivery) bool { return d.Reader == reader })
}

func check(h *History, counts func(Delivery) bool) Report {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := Report{Attempted: len(h.published)}
	seqs := map[string]uint64{} // id → first seq received
	bySeq := map[uint64]string{}
	forked := map[string]bool{}
	unexpected := map[string]bool{}
	for _, d := range h.deliveries {
		if !counts(d) {
			continue
		}
		r.Received++
		p, ok := h.published[d.ID]
		switch {
		case !ok:
			unexpected[d.ID] = true
			continue
		case p.outcome == Confirmed && p.seq != 0 && d.Seq != p.seq:
			forked[d.ID] = true
		}
		if other, ok := bySeq[d.Seq]; ok && other != d.ID {
			forked[d.ID], forked[other] = true, true
		}
		bySeq[d.Seq] = d.ID
		if first, ok := seqs[d.ID]; ok {
			r.Duplicated++
			if first != d.Seq {
				forked[d.ID] = true
			}
			continue
		}
		seqs[d.ID] = d.Seq
	}
	r.Unexpected, r.Forked = sortedKeys(unexpected), sortedKeys(forked)
	r.countOutcomes(h, seqs)
	return r
}

// countOutcomes fills the producer-side counts and Lost. h.mu held.
func (r *Report) countOutcomes(h *History, received map[string]uint64) {
	for _, id := range h.order {
		_, got := received[id]
		switch h.published[id].outcome {
		case Confirmed:
			r.Confirmed++
			if !got {
				r.Lost = append(r.Lost, id)
			}
		default:
			r.Unknown++
			if got {
				r.Recovered++
			} else {
				r.UnknownLeft++
			}
		}
	}
}

// Err is nil when the run passed: nothing lost, nothing unexpected, no
// message stored twice. Otherwise it names the first offenders.
func (r Report) Err() error {
	var errs []error
	if len(r.Lost) > 0 {
		errs = append(errs, fmt.Errorf("%d confirmed messages lost: %s", len(r.Lost), sample(r.Lost)))
	}
	if len(r.Unexpected) > 0 {
		errs = append(errs, fmt.Errorf("%d unexpected messages received: %s", len(r.Unexpected), sample(r.Unexpected)))
	}
	if len(r.Forked) > 0 {
		errs = append(errs, fmt.Errorf("%d messages at two seqs or sharing a seq: %s", len(r.Forked), sample(r.Forked)))
	}
	return errors.Join(errs...)
}

// String is a one-line summary for test logs.
func (r Report) String() string {
	return fmt.Sprintf("attempted=%d confirmed=%d unknown=%d received=%d lost=%d unexpected=%d forked=%d duplicated=%d recovered=%d unknown-left=%d",
		r.Attempted, r.Confirmed, r.Unknown, r.Received, len(r.Lost), len(r.Unexpected), len(r.Forked),
		r.Duplicated, r.Recovered, r.UnknownLeft)
}

// sample lists up to 10 ids.
func sample(ids []string) string {
	const n = 10
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(slices.Clip(ids[:n]), ", ") + fmt.Sprintf(", … (%d more)", len(ids)-n)
}
