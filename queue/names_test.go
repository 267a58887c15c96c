package queue

import (
	"strings"
	"testing"
	"time"
)

func TestValidateName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"a", true}, {"0", true}, {"Orders.v2_EU-west", true}, {strings.Repeat("x", 128), true},
		{"", false}, {strings.Repeat("x", 129), false}, {"_a", false}, {"-a", false}, {".a", false},
		{"a b", false}, {"a/b", false}, {"é", false}, {"a\x00", false}, {"a*", false},
	}
	for _, c := range cases {
		err := ValidateName(c.name)
		if (err == nil) != c.ok || (err != nil && CodeOf(err) != CodeBadName) {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestDefaults(t *testing.T) {
	d := DefaultQueueConfig()
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	want := QueueConfig{Retention: RetentionLimits, MaxMessages: 1000000, MaxBytes: 64 << 20,
		MaxMessageSize: 1 << 20, Discard: DiscardOld, DedupWindow: 2 * time.Minute, MaxDeadLetters: 10000,
		Group: GroupConfig{AckWait: 30 * time.Second, MaxDeliver: 5, MaxInFlight: 100, Start: Position{Kind: FromFirst}}}
	if d != want {
		t.Fatalf("defaults %+v, want %+v", d, want)
	}
	if got := (QueueConfig{}).WithDefaults(d); got != d {
		t.Fatalf("zero config with defaults: %+v", got)
	}
	partial := QueueConfig{MaxMessages: 5, Discard: DiscardNew, Group: GroupConfig{MaxDeliver: 2, Start: Position{Kind: FromNew}}}
	got := partial.WithDefaults(d)
	if got.MaxMessages != 5 || got.Discard != DiscardNew || got.MaxBytes != d.MaxBytes ||
		got.Group.MaxDeliver != 2 || got.Group.AckWait != d.Group.AckWait || got.Group.Start.Kind != FromNew {
		t.Fatalf("partial config with defaults: %+v", got)
	}
}

// TestJoinWithoutMemberID covers what the script syntax cannot express.
func TestJoinWithoutMemberID(t *testing.T) {
	s := New(nil)
	r, _ := s.Apply(1, Entry{Commands: []Command{CreateQueue{Name: "q"}, Join{Queue: "q", Group: "g"}}})
	if CodeOf(r[1].Err) != CodeBadCommand {
		t.Fatalf("join without member id: %v", r[1].Err)
	}
	if _, err := s.Group("q", "g"); CodeOf(err) != CodeGroupNotFound {
		t.Fatalf("a failed join created the group: %v", err)
	}
}

// TestApplyDoesNotMutateCommands checks that Apply copies published
// messages instead of stamping the caller's.
func TestApplyDoesNotMutateCommands(t *testing.T) {
	m := &Message{ID: "a", Data: []byte("{}")}
	s := New(nil)
	s.Apply(1, Entry{Time: 5, Commands: []Command{CreateQueue{Name: "q"}, &Publish{Queue: "q", Messages: []*Message{m}}}})
	if m.Seq != 0 || m.Time != 0 {
		t.Fatalf("caller's message stamped: %+v", m)
	}
	got, _ := s.Read("q", 1, 1)
	if len(got) != 1 || got[0].Seq != 1 || got[0].Time != 5 {
		t.Fatalf("stored %+v", got)
	}
}
