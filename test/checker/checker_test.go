package checker

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// step is one event of a synthetic history.
type step struct {
	op  string // attempt, confirm, fail, receive
	id  string
	seq uint64
}

func build(steps []step) *History {
	h := NewHistory()
	for _, s := range steps {
		switch s.op {
		case "attempt":
			h.Attempt(s.id)
		case "confirm":
			h.Confirm(s.id, s.seq)
		case "fail":
			h.Fail(s.id)
		case "receive":
			h.Receive(Delivery{ID: s.id, Seq: s.seq, Node: "n1"})
		}
	}
	return h
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		steps   []step
		want    Report // Attempted..UnknownLeft; slices compared too
		wantErr string // substring; "" means the run passes
	}{
		{
			name: "clean run",
			steps: []step{{"attempt", "a", 0}, {"confirm", "a", 1}, {"attempt", "b", 0}, {"confirm", "b", 2},
				{"receive", "a", 1}, {"receive", "b", 2}},
			want: Report{Attempted: 2, Confirmed: 2, Received: 2},
		},
		{
			name:    "a confirmed message never received is lost",
			steps:   []step{{"attempt", "a", 0}, {"confirm", "a", 1}, {"attempt", "b", 0}, {"confirm", "b", 2}, {"receive", "a", 1}},
			want:    Report{Attempted: 2, Confirmed: 2, Received: 1, Lost: []string{"b"}},
			wantErr: "1 confirmed messages lost: b",
		},
		{
			name:    "a message never published is unexpected",
			steps:   []step{{"attempt", "a", 0}, {"confirm", "a", 1}, {"receive", "a", 1}, {"receive", "zz", 2}},
			want:    Report{Attempted: 1, Confirmed: 1, Received: 2, Unexpected: []string{"zz"}},
			wantErr: "1 unexpected messages received: zz",
		},
		{
			name: "redeliveries are duplicates, not errors",
			steps: []step{{"attempt", "a", 0}, {"confirm", "a", 1}, {"receive", "a", 1}, {"receive", "a", 1},
				{"receive", "a", 1}},
			want: Report{Attempted: 1, Confirmed: 1, Received: 3, Duplicated: 2},
		},
		{
			name: "unconfirmed messages are recovered or unknown, never lost",
			steps: []step{{"attempt", "a", 0}, {"fail", "a", 0}, {"attempt", "b", 0}, {"fail", "b", 0},
				{"attempt", "c", 0}, {"receive", "a", 1}},
			want: Report{Attempted: 3, Unknown: 3, Received: 1, Recovered: 1, UnknownLeft: 2},
		},
		{
			name:  "a confirmation after a failed try wins",
			steps: []step{{"attempt", "a", 0}, {"fail", "a", 0}, {"confirm", "a", 4}, {"fail", "a", 0}, {"receive", "a", 4}},
			want:  Report{Attempted: 1, Confirmed: 1, Received: 1},
		},
		{
			name:    "a message stored twice is forked",
			steps:   []step{{"attempt", "a", 0}, {"confirm", "a", 1}, {"receive", "a", 1}, {"receive", "a", 2}},
			want:    Report{Attempted: 1, Confirmed: 1, Received: 2, Duplicated: 1, Forked: []string{"a"}},
			wantErr: "1 messages at two seqs",
		},
		{
			name: "two messages at one seq are forked",
			steps: []step{{"attempt", "a", 0}, {"fail", "a", 0}, {"attempt", "b", 0}, {"fail", "b", 0},
				{"receive", "a", 7}, {"receive", "b", 7}},
			want:    Report{Attempted: 2, Unknown: 2, Received: 2, Recovered: 2, Forked: []string{"a", "b"}},
			wantErr: "2 messages at two seqs or sharing a seq: a, b",
		},
		{
			name:    "received at a seq other than the confirmed one",
			steps:   []step{{"attempt", "a", 0}, {"confirm", "a", 3}, {"receive", "a", 5}},
			want:    Report{Attempted: 1, Confirmed: 1, Received: 1, Forked: []string{"a"}},
			wantErr: "1 messages at two seqs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(build(tt.steps))
			if !sameReport(got, tt.want) {
				t.Errorf("Check:\n got %+v\nwant %+v", got, tt.want)
			}
			err := got.Err()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Err() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Err() = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func sameReport(a, b Report) bool {
	return a.Attempted == b.Attempted && a.Confirmed == b.Confirmed && a.Unknown == b.Unknown &&
		a.Received == b.Received && a.Duplicated == b.Duplicated && a.Recovered == b.Recovered &&
		a.UnknownLeft == b.UnknownLeft && slices.Equal(a.Lost, b.Lost) &&
		slices.Equal(a.Unexpected, b.Unexpected) && slices.Equal(a.Forked, b.Forked)
}

func TestMissingShrinksAsDeliveriesArrive(t *testing.T) {
	h := build([]step{{"attempt", "a", 0}, {"confirm", "a", 1}, {"attempt", "b", 0}, {"confirm", "b", 2},
		{"attempt", "c", 0}, {"fail", "c", 0}})
	if got, want := h.Missing(), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("Missing() = %v, want %v", got, want)
	}
	h.Receive(Delivery{ID: "b", Seq: 2})
	if got, want := h.Missing(), []string{"a"}; !slices.Equal(got, want) {
		t.Fatalf("after receiving b: Missing() = %v, want %v", got, want)
	}
	if got, want := h.Confirmed(), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("Confirmed() = %v, want %v", got, want)
	}
	if c, r := h.Counts(); c != 2 || r != 1 {
		t.Fatalf("Counts() = %d, %d, want 2, 1", c, r)
	}
}

func TestHistoryIsSafeForConcurrentUse(t *testing.T) {
	h := NewHistory()
	var wg sync.WaitGroup
	const producers, each = 4, 200
	for p := range producers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("p%d-%d", p, i)
				h.Attempt(id)
				h.Confirm(id, uint64(p*each+i+1))
			}
		}()
		go func() {
			defer wg.Done()
			for range each {
				_ = h.Missing()
			}
		}()
	}
	wg.Wait()
	if c, _ := h.Counts(); c != producers*each {
		t.Fatalf("confirmed %d, want %d", c, producers*each)
	}
	if r := Check(h); len(r.Lost) != producers*each {
		t.Fatalf("lost %d with no deliveries, want %d", len(r.Lost), producers*each)
	}
}
