package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// The next look comes after Refresh, and while unreachable after as long
// as the outage has lasted, within [Refresh, MaxBackoff].
func TestNextBacksOff(t *testing.T) {
	r := &reconciler{opts: Options{Refresh: 5 * time.Second, MaxBackoff: time.Minute}}
	now := time.Now()
	down := func(since time.Duration, reason string) []metav1.Condition {
		return []metav1.Condition{{Type: v1alpha1.ConditionDegraded, Status: metav1.ConditionTrue, Reason: reason,
			LastTransitionTime: metav1.NewTime(now.Add(-since))}}
	}
	for _, c := range []struct {
		conds []metav1.Condition
		want  time.Duration
	}{
		{nil, 5 * time.Second},
		{down(time.Second, ReasonUnreachable), 5 * time.Second},
		{down(20*time.Second, ReasonUnreachable), 20 * time.Second},
		{down(time.Hour, ReasonUnavailable), time.Minute},
		{down(time.Hour, ReasonApplyFailed), 5 * time.Second},
	} {
		if got := r.next(c.conds, now); got != c.want {
			t.Errorf("next(%v) = %v, want %v", c.conds, got, c.want)
		}
	}
}

func TestSyncTimeHeartbeat(t *testing.T) {
	now := time.Now()
	recent := metav1.NewTime(now.Add(-time.Second))
	old := metav1.NewTime(now.Add(-2 * statusHeartbeat))
	if got := syncTime(false, &recent, now); got != &recent {
		t.Error("an unchanged status with a recent lastSync is written")
	}
	if got := syncTime(false, &old, now); !got.Time.Equal(now) {
		t.Error("a stale lastSync is not refreshed")
	}
	if got := syncTime(true, &recent, now); !got.Time.Equal(now) {
		t.Error("a changed status keeps its old lastSync")
	}
}
