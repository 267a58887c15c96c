package controller

import (
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/protocol"
)

func TestQueueConfigOnlyWhatTheSpecSets(t *testing.T) {
	got := queueConfig(v1alpha1.QueueSpec{Discard: "new",
		Limits:        &v1alpha1.QueueLimits{MaxBytes: ptr.To(resource.MustParse("64Mi")), MaxAge: ptr.To(v1alpha1.Duration("1h"))},
		DeadLetters:   &v1alpha1.DeadLetterSpec{MaxMessages: ptr.To[int64](7)},
		GroupDefaults: &v1alpha1.GroupSettings{MaxDeliver: ptr.To[int32](3), Start: &v1alpha1.StartPosition{Kind: v1alpha1.StartSeq, Seq: ptr.To[int64](9)}},
	})
	want := protocol.QueueConfig{Discard: "new", MaxBytes: 64 << 20, MaxAge: "1h", MaxDeadLetters: 7,
		Group: protocol.GroupConfig{MaxDeliver: 3, Start: &protocol.Position{Kind: "seq", Seq: 9}}}
	if got.Group.Start == nil || *got.Group.Start != *want.Group.Start {
		t.Fatalf("group start %+v, want %+v", got.Group.Start, want.Group.Start)
	}
	got.Group.Start, want.Group.Start = nil, nil
	if got != want {
		t.Errorf("queueConfig = %+v, want %+v", got, want)
	}
}

func TestDrift(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	want := queueConfig(v1alpha1.QueueSpec{Limits: &v1alpha1.QueueLimits{MaxAge: ptr.To(v1alpha1.Duration("60m")), MaxMessages: ptr.To[int64](5)},
		GroupDefaults: &v1alpha1.GroupSettings{Start: &v1alpha1.StartPosition{Kind: v1alpha1.StartTime, Time: &at}}})
	// As Carrier answers: every setting filled in, durations normalised.
	cur := protocol.QueueConfig{Retention: "limits", MaxMessages: 5, MaxBytes: 1 << 26, MaxAge: "1h0m0s", Discard: "old",
		Group: protocol.GroupConfig{AckWait: "30s", Start: &protocol.Position{Kind: "time", Time: "2026-01-02T03:04:05Z"}}}
	if d := queueDrift(want, cur); len(d) != 0 {
		t.Errorf("drift %v of equal settings", d)
	}
	cur.MaxMessages, cur.MaxAge, cur.Group.Start = 6, "2h", &protocol.Position{Kind: "first"}
	if d := queueDrift(want, cur); !slices.Equal(d, []string{"maxMessages", "maxAge", "group.start"}) {
		t.Errorf("drift %v", d)
	}
	if d := groupDrift(protocol.GroupConfig{Start: &protocol.Position{Kind: "new"}}, protocol.GroupConfig{}, false); len(d) != 0 {
		t.Errorf("a group's start compared (%v): it is fixed at creation", d)
	}
}
