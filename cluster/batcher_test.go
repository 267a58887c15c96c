package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/carriermq/carrier/queue"
)

func publishOfSize(n int) queue.Publish {
	return queue.Publish{Queue: "q", Messages: []*queue.Message{{ID: "m", Data: []byte(strings.Repeat("x", n))}}}
}

// TestCollectLimits checks the packing of waiting proposals into one entry:
// bounded by commands and by estimated bytes, with the proposal that did not
// fit carried over to the next entry, and canceled proposals dropped.
func TestCollectLimits(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name       string
		maxCmds    int
		maxBytes   int
		sizes      []int  // message sizes of the queued proposals, first included
		dead       []bool // proposals whose context has ended
		wantBatch  int
		wantCarry  bool // the next proposal did not fit and waits in carry
		wantQueued int  // proposals left in the queue
	}{
		{name: "all fit", maxCmds: 10, maxBytes: 1 << 20, sizes: []int{10, 10, 10}, wantBatch: 3},
		{name: "command limit", maxCmds: 2, maxBytes: 1 << 20, sizes: []int{10, 10, 10}, wantBatch: 2, wantQueued: 1},
		{name: "byte limit", maxCmds: 10, maxBytes: 1200, sizes: []int{400, 400, 400}, wantBatch: 2, wantCarry: true},
		{name: "oversize goes alone", maxCmds: 10, maxBytes: 1000, sizes: []int{5000, 10}, wantBatch: 1, wantCarry: true},
		{name: "canceled dropped", maxCmds: 10, maxBytes: 1 << 20, sizes: []int{10, 10, 10}, dead: []bool{false, true, false}, wantBatch: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxBatchCommands, cfg.MaxBatchBytes = tc.maxCmds, tc.maxBytes
			b := newBatcher(nil, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			var ps []*proposal
			for i, size := range tc.sizes {
				ctx := context.Background()
				if i < len(tc.dead) && tc.dead[i] {
					ctx = canceled
				}
				cmd := publishOfSize(size)
				ps = append(ps, &proposal{ctx: ctx, cmd: cmd, size: commandSize(cmd), done: make(chan outcome, 1)})
			}
			for _, p := range ps[1:] {
				b.queue <- p
			}
			batch := b.collect(ps[0])
			if len(batch) != tc.wantBatch || (b.carry != nil) != tc.wantCarry || len(b.queue) != tc.wantQueued {
				t.Errorf("batch of %d, carry %v, queued %d; want %d, %v, %d",
					len(batch), b.carry != nil, len(b.queue), tc.wantBatch, tc.wantCarry, tc.wantQueued)
			}
			for i, p := range ps {
				if i < len(tc.dead) && tc.dead[i] {
					if o := <-p.done; !errors.Is(o.err, context.Canceled) {
						t.Errorf("canceled proposal %d answered %v", i, o.err)
					}
				}
			}
		})
	}
}

func TestRaftErrorMapping(t *testing.T) {
	tests := []struct {
		in      error
		want    []error
		notWant error
	}{
		{in: raft.ErrNotLeader, want: []error{ErrNotLeader, raft.ErrNotLeader}, notWant: ErrUnknownOutcome},
		{in: raft.ErrLeadershipTransferInProgress, want: []error{ErrNotLeader}, notWant: ErrUnknownOutcome},
		{in: raft.ErrLeadershipLost, want: []error{ErrUnknownOutcome, raft.ErrLeadershipLost}, notWant: ErrNotLeader},
		{in: raft.ErrAbortedByRestore, want: []error{ErrUnknownOutcome}, notWant: ErrNotLeader},
		{in: raft.ErrRaftShutdown, want: []error{ErrClosed, ErrUnknownOutcome}, notWant: ErrNotLeader},
		{in: errors.New("disk full"), want: []error{ErrUnavailable}, notWant: ErrUnknownOutcome},
	}
	for _, tc := range tests {
		got := raftError(tc.in)
		for _, w := range tc.want {
			if !errors.Is(got, w) {
				t.Errorf("raftError(%v) = %v: not %v", tc.in, got, w)
			}
		}
		if errors.Is(got, tc.notWant) {
			t.Errorf("raftError(%v) = %v: is %v", tc.in, got, tc.notWant)
		}
	}
}

func TestCommandSize(t *testing.T) {
	small := commandSize(publishOfSize(10))
	big := commandSize(publishOfSize(10000))
	ptr := publishOfSize(10000)
	if big-small != 9990 || commandSize(&ptr) != big {
		t.Errorf("publish sizes: 10 B → %d, 10000 B → %d, pointer → %d", small, big, commandSize(&ptr))
	}
	if a := commandSize(queue.Ack{Seqs: make([]uint64, 100)}); a <= commandSize(queue.Ack{}) {
		t.Errorf("ack of 100 seqs sized %d", a)
	}
}
