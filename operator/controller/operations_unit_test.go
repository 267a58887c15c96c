package controller

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/protocol"
)

// The StatefulSet's count moves only by the scale's steps, one at a time.
func TestConductorReplicas(t *testing.T) {
	c := NewConductor(nil, nil, time.Minute)
	live := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "q"}, Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3)}}
	qc := &v1alpha1.QueueCluster{Spec: v1alpha1.QueueClusterSpec{Replicas: 5}}
	for _, tc := range []struct {
		name string
		live *appsv1.StatefulSet
		op   *v1alpha1.OperationStatus
		want int32
	}{
		{"new cluster: spec", nil, nil, 5},
		{"no operation: live", live, nil, 3},
		{"adding q-3", live, &v1alpha1.OperationStatus{Type: v1alpha1.OperationScaleUp, Phase: v1alpha1.PhaseAdding, Pod: "q-3"}, 4},
		{"still waiting to add", live, &v1alpha1.OperationStatus{Type: v1alpha1.OperationScaleUp, Phase: v1alpha1.PhaseWaiting}, 3},
		{"q-2 out of the configuration", live, &v1alpha1.OperationStatus{Type: v1alpha1.OperationScaleDown, Phase: v1alpha1.PhaseRemoving, Pod: "q-2"}, 2},
		{"removal refused", live, &v1alpha1.OperationStatus{Type: v1alpha1.OperationScaleDown, Phase: v1alpha1.PhaseRefused, Pod: "q-2"}, 3},
		{"a rollout never scales", live, &v1alpha1.OperationStatus{Type: v1alpha1.OperationRollout, Phase: v1alpha1.PhaseReplacing, Pod: "q-2"}, 3},
		{"another StatefulSet's pod", live, &v1alpha1.OperationStatus{Type: v1alpha1.OperationScaleUp, Phase: v1alpha1.PhaseAdding, Pod: "other-3"}, 3},
	} {
		qc.Status.Operation = tc.op
		if got := c.Replicas(qc, tc.live); got != tc.want {
			t.Errorf("%s: replicas %d, want %d", tc.name, got, tc.want)
		}
	}
}

// The next pod of a rollout: a member that is not ready first, then
// followers, the leader last; highest ordinal first among equals.
func TestNextToReplace(t *testing.T) {
	pods := []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "q-0"}}, {ObjectMeta: metav1.ObjectMeta{Name: "q-1"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "q-2"}}, {ObjectMeta: metav1.ObjectMeta{Name: "q-3"}}}
	voters := func(ids ...string) []protocol.ClusterMember {
		var ms []protocol.ClusterMember
		for _, id := range ids {
			ms = append(ms, protocol.ClusterMember{ID: id, Suffrage: "Voter", Leader: id == "q-3"})
		}
		return ms
	}
	for _, tc := range []struct {
		name  string
		ready map[string]bool
		want  []string
	}{
		{"all ready", map[string]bool{"q-0": true, "q-1": true, "q-2": true, "q-3": true}, []string{"q-2", "q-1", "q-0", "q-3"}},
		{"q-0 not ready", map[string]bool{"q-1": true, "q-2": true, "q-3": true}, []string{"q-0", "q-2", "q-1", "q-3"}},
	} {
		s := &step{v: &View{
			StatefulSet: &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "q"}, Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](4)}},
			Pods:        pods, Ready: tc.ready,
			Cluster: protocol.ClusterStatus{Leader: "q-3", Members: voters("q-0", "q-1", "q-2", "q-3")},
		}}
		var left []*corev1.Pod
		for i := range pods {
			left = append(left, &pods[i])
		}
		var order []string
		for len(left) > 0 {
			p := s.nextToReplace(left)
			order = append(order, p.Name)
			for i := range left {
				if left[i] == p {
					left = append(left[:i], left[i+1:]...)
					break
				}
			}
		}
		if len(order) != len(tc.want) {
			t.Fatalf("%s: order %v, want %v", tc.name, order, tc.want)
		}
		for i := range order {
			if order[i] != tc.want[i] {
				t.Errorf("%s: order %v, want %v", tc.name, order, tc.want)
				break
			}
		}
	}
}

// A step keeps its start while it stays the same step (and whether it
// halted); a new pod or phase, or an action taken, starts a new one.
func TestStepTimes(t *testing.T) {
	then := metav1.NewTime(time.Now().Add(-time.Hour))
	prev := &v1alpha1.OperationStatus{Type: v1alpha1.OperationRollout, Phase: v1alpha1.PhaseReplacing, Pod: "q-1",
		Started: &then, StepStarted: &then, Halted: true}
	s := &step{c: &Conductor{stepTimeout: time.Minute}, prev: prev, now: time.Now()}
	same := s.at(v1alpha1.OperationRollout, v1alpha1.PhaseReplacing, "q-1", "h", "waiting")
	if !same.StepStarted.Equal(&then) || !same.Halted || !same.Started.Equal(&then) {
		t.Errorf("the same step: %+v; want its start and its halt kept", same)
	}
	next := s.at(v1alpha1.OperationRollout, v1alpha1.PhaseWaiting, "q-0", "h", "waiting")
	if next.StepStarted.Equal(&then) || next.Halted || !next.Started.Equal(&then) {
		t.Errorf("the next step: %+v; want a new step start, not halted, the operation's start kept", next)
	}
	if fresh := s.fresh(s.at(v1alpha1.OperationRollout, v1alpha1.PhaseReplacing, "q-1", "h", "replaced")); fresh.Halted || fresh.StepStarted.Equal(&then) {
		t.Errorf("an action: %+v; want a new step", fresh)
	}
	other := s.at(v1alpha1.OperationScaleUp, v1alpha1.PhaseAdding, "q-3", "5", "adding")
	if other.Started.Equal(&then) {
		t.Errorf("another operation: %+v; want its own start", other)
	}
}

// A halted or refused operation is Degraded with its own reason.
func TestStoppedReason(t *testing.T) {
	for _, tc := range []struct {
		op   *v1alpha1.OperationStatus
		want string
	}{
		{nil, ""},
		{&v1alpha1.OperationStatus{Type: v1alpha1.OperationRollout, Phase: v1alpha1.PhaseReplacing}, ""},
		{&v1alpha1.OperationStatus{Type: v1alpha1.OperationRollout, Phase: v1alpha1.PhaseReplacing, Halted: true}, "RolloutHalted"},
		{&v1alpha1.OperationStatus{Type: v1alpha1.OperationScaleDown, Phase: v1alpha1.PhaseRefused}, "ScaleDownRefused"},
		{&v1alpha1.OperationStatus{Type: v1alpha1.OperationStorageExpansion, Phase: v1alpha1.PhaseRefused}, "StorageExpansionRefused"},
	} {
		if got := stopped(tc.op); got != tc.want {
			t.Errorf("stopped(%+v) = %q, want %q", tc.op, got, tc.want)
		}
	}
}
