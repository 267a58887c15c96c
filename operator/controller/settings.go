package controller

import (
	"time"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/protocol"
)

// The spec's settings as Carrier's wire types hold only what the spec
// sets: a zero field is "default" on create and "unchanged" on update, so
// a setting the spec leaves out is never written by the operator, and
// whoever set it through the API or the CLI keeps it.

// queueConfig is the QueueSpec's settings.
func queueConfig(s v1alpha1.QueueSpec) protocol.QueueConfig {
	c := protocol.QueueConfig{Retention: s.Retention, Discard: s.Discard, DedupWindow: duration(s.DedupWindow)}
	if l := s.Limits; l != nil {
		c.MaxMessages, c.MaxAge = deref(l.MaxMessages), duration(l.MaxAge)
		if l.MaxBytes != nil {
			c.MaxBytes = l.MaxBytes.Value()
		}
		if l.MaxMessageSize != nil {
			c.MaxMessageSize = l.MaxMessageSize.Value()
		}
	}
	if s.DeadLetters != nil {
		c.MaxDeadLetters = deref(s.DeadLetters.MaxMessages)
	}
	if s.GroupDefaults != nil {
		c.Group = groupConfig(*s.GroupDefaults)
	}
	return c
}

// groupConfig is a GroupSettings' settings.
func groupConfig(g v1alpha1.GroupSettings) protocol.GroupConfig {
	c := protocol.GroupConfig{AckWait: duration(g.AckWait)}
	if g.MaxDeliver != nil {
		c.MaxDeliver = int(*g.MaxDeliver)
	}
	if g.MaxInFlight != nil {
		c.MaxInFlight = int(*g.MaxInFlight)
	}
	if p := g.Start; p != nil {
		c.Start = &protocol.Position{Kind: string(p.Kind), Seq: uint64(deref(p.Seq))}
		if p.Time != nil {
			c.Start.Time = p.Time.UTC().Format(time.RFC3339Nano)
		}
	}
	return c
}

// queueDrift names the settings of want that cur does not have.
func queueDrift(want, cur protocol.QueueConfig) []string {
	var d drift
	d.str("retention", want.Retention, cur.Retention)
	d.num("maxMessages", want.MaxMessages, cur.MaxMessages)
	d.num("maxBytes", want.MaxBytes, cur.MaxBytes)
	d.dur("maxAge", want.MaxAge, cur.MaxAge)
	d.num("maxMessageSize", want.MaxMessageSize, cur.MaxMessageSize)
	d.str("discard", want.Discard, cur.Discard)
	d.dur("dedupWindow", want.DedupWindow, cur.DedupWindow)
	d.num("maxDeadLetters", want.MaxDeadLetters, cur.MaxDeadLetters)
	for _, f := range groupDrift(want.Group, cur.Group, true) {
		d = append(d, "group."+f)
	}
	return d
}

// groupDrift names the settings of want that cur does not have; start
// only when withStart (a group's own start is fixed at creation).
func groupDrift(want, cur protocol.GroupConfig, withStart bool) []string {
	var d drift
	d.dur("ackWait", want.AckWait, cur.AckWait)
	d.num("maxDeliver", int64(want.MaxDeliver), int64(cur.MaxDeliver))
	d.num("maxInFlight", int64(want.MaxInFlight), int64(cur.MaxInFlight))
	if withStart && want.Start != nil && !samePosition(*want.Start, cur.Start) {
		d = append(d, "start")
	}
	return d
}

// drift collects the names of differing settings; a zero wanted value is
// "not set" and never differs.
type drift []string

func (d *drift) str(name, want, cur string) {
	if want != "" && want != cur {
		*d = append(*d, name)
	}
}

func (d *drift) num(name string, want, cur int64) {
	if want != 0 && want != cur {
		*d = append(*d, name)
	}
}

// dur compares durations by value ("60m" is "1h0m0s", as Carrier answers).
func (d *drift) dur(name, want, cur string) {
	if want == "" {
		return
	}
	w, errW := time.ParseDuration(want)
	c, errC := time.ParseDuration(cur)
	if errW != nil || errC != nil || w != c {
		*d = append(*d, name)
	}
}

func samePosition(want protocol.Position, cur *protocol.Position) bool {
	if cur == nil || want.Kind != cur.Kind || want.Seq != cur.Seq {
		return false
	}
	if want.Time == cur.Time {
		return true
	}
	w, errW := time.Parse(time.RFC3339Nano, want.Time)
	c, errC := time.Parse(time.RFC3339Nano, cur.Time)
	return errW == nil && errC == nil && w.Equal(c)
}

func duration(d *v1alpha1.Duration) string {
	if d == nil {
		return ""
	}
	return string(*d)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
