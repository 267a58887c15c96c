package cluster

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/carriermq/carrier/queue"
)

func TestResultCodecRoundTrip(t *testing.T) {
	info := &queue.QueueInfo{Name: "q", LastSeq: 7, Messages: 3,
		Config: queue.QueueConfig{MaxAge: time.Hour, Discard: queue.DiscardNew,
			Group: queue.GroupConfig{AckWait: time.Second, Start: queue.Position{Kind: queue.FromSeq, Seq: 4}}},
		Groups: []queue.GroupInfo{{Name: "g", Members: 2, AckFloor: 5}}}
	tests := []struct {
		name string
		in   outcome
	}{
		{name: "publish acks", in: outcome{index: 42, res: queue.Result{Published: []queue.PublishAck{
			{Seq: 1, ID: "a"}, {Seq: 1, ID: "b", Duplicate: true},
			{ID: "c", Err: queue.Errorf(queue.CodeQueueFull, "full")}}}}},
		{name: "state rejection", in: outcome{index: 3, res: queue.Result{Err: queue.Errorf(queue.CodeQueueNotFound, "no q")}}},
		{name: "count", in: outcome{index: 1 << 40, res: queue.Result{Count: 12}}},
		{name: "queue info", in: outcome{index: 9, res: queue.Result{Queue: info}}},
		{name: "bad command", in: outcome{err: queue.Errorf(queue.CodeBadCommand, "nope")}},
		{name: "plain error in a result", in: outcome{index: 2, res: queue.Result{Err: errors.New("odd")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeOutcomes(appendOutcome(nil, tt.in), 1, "n1")
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got[0], tt.in) {
				t.Errorf("round trip:\n got  %+v\n want %+v", got[0], tt.in)
			}
		})
	}
}

// TestResultCodecErrors: errors keep their meaning (not applied, maybe
// applied, unavailable) across the wire.
func TestResultCodecErrors(t *testing.T) {
	tests := []struct {
		in   error
		want error
	}{
		{ErrNotLeader, ErrNotLeader},
		{ErrClosed, ErrNotLeader},
		{fmt.Errorf("%w (%w): raft", ErrClosed, ErrUnknownOutcome), ErrUnknownOutcome},
		{fmt.Errorf("%w: lost", ErrUnknownOutcome), ErrUnknownOutcome},
		{fmt.Errorf("%w: disk", ErrUnavailable), ErrUnavailable},
	}
	for _, tt := range tests {
		got, err := decodeOutcomes(appendOutcome(nil, outcome{err: tt.in}), 1, "n1")
		if err != nil {
			t.Fatalf("decode %v: %v", tt.in, err)
		}
		if !errors.Is(got[0].err, tt.want) {
			t.Errorf("%v came back as %v, want %v in the chain", tt.in, got[0].err, tt.want)
		}
	}
}

// TestResultCodecCorrupt: truncated or padded responses are errors, never a panic.
func TestResultCodecCorrupt(t *testing.T) {
	b := appendOutcome(nil, outcome{index: 5, res: queue.Result{Published: []queue.PublishAck{{Seq: 1, ID: "abc"}}}})
	for i := range len(b) {
		if _, err := decodeOutcomes(b[:i], 1, "n1"); err == nil {
			t.Errorf("decoding %d of %d bytes succeeded", i, len(b))
		}
	}
	if _, err := decodeOutcomes(append(b, 0), 1, "n1"); err == nil {
		t.Error("trailing byte accepted")
	}
	if _, err := decodeOutcomes([]byte{99}, 1, "n1"); err == nil {
		t.Error("unknown status accepted")
	}
}
