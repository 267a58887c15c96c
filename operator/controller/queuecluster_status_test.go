package controller

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/dataplane"
	"github.com/carriermq/carrier/operator/internal/build"
	"github.com/carriermq/carrier/protocol"
)

func statusCluster() (*v1alpha1.QueueCluster, *View) {
	qc := &v1alpha1.QueueCluster{ObjectMeta: metav1.ObjectMeta{Name: "q", Generation: 2},
		Spec: v1alpha1.QueueClusterSpec{Replicas: 3, Image: "carrier:1"}}
	sts := build.StatefulSet(qc, build.StatefulSetParams{BootstrapExpect: 3})
	hash := sts.Annotations[build.TemplateHashAnnotation]
	pod := func(name, h string) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{build.TemplateHashAnnotation: h}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "carrier", Image: "carrier:1"}}}}
	}
	v := &View{StatefulSet: sts, Pods: []corev1.Pod{pod("q-0", hash), pod("q-1", hash), pod("q-2", hash)},
		Cluster: protocol.ClusterStatus{Leader: "q-1", Members: []protocol.ClusterMember{
			{ID: "q-2", Suffrage: "Nonvoter", Version: "1"}, {ID: "q-1", Suffrage: "Voter", Leader: true, Version: "1"},
			{ID: "q-0", Suffrage: "Voter", Version: "1"}, {ID: "q-9", Suffrage: "None"},
		}},
		Ready: map[string]bool{"q-0": true, "q-1": true, "q-2": false}}
	return qc, v
}

func reason(qc *v1alpha1.QueueCluster, typ string) string {
	if c := meta.FindStatusCondition(qc.Status.Conditions, typ); c != nil {
		return string(c.Status) + "/" + c.Reason
	}
	return ""
}

func TestClusterStatus(t *testing.T) {
	qc, v := statusCluster()
	clusterStatus(qc, v, nil, nil)
	st := qc.Status
	want := []v1alpha1.MemberStatus{{Name: "q-0", Role: v1alpha1.RoleFollower, Ready: true, Image: "carrier:1"},
		{Name: "q-1", Role: v1alpha1.RoleLeader, Ready: true, Image: "carrier:1"}, {Name: "q-2", Role: v1alpha1.RoleNonvoter, Image: "carrier:1"}}
	if len(st.Members) != 3 || st.Members[0] != want[0] || st.Members[1] != want[1] || st.Members[2] != want[2] {
		t.Errorf("members %+v, want %+v (sorted, no suffrage None)", st.Members, want)
	}
	if st.ReadyReplicas != 2 || st.Replicas != 3 || st.Leader != "q-1" || st.Version != "1" || st.CurrentImage != "carrier:1" || st.ObservedGeneration != 2 {
		t.Errorf("status %+v", st)
	}
	if r := reason(qc, v1alpha1.ConditionReady); r != "False/MembersNotReady" {
		t.Errorf("Ready %s", r)
	}
	if r := reason(qc, v1alpha1.ConditionProgressing); r != "True/WaitingForMembers" {
		t.Errorf("Progressing %s", r)
	}
}

func TestClusterStatusPending(t *testing.T) {
	qc, v := statusCluster()
	v.Pods[1].Annotations[build.TemplateHashAnnotation] = "old"
	clusterStatus(qc, v, nil, nil)
	if r := reason(qc, v1alpha1.ConditionProgressing); r != "True/RolloutPending" {
		t.Errorf("a pod on an old template: Progressing %s", r)
	}
	qc, v = statusCluster()
	v.StatefulSet.Spec.Replicas = ptr.To[int32](5)
	clusterStatus(qc, v, nil, nil)
	if r := reason(qc, v1alpha1.ConditionProgressing); r != "True/ScalePending" {
		t.Errorf("another replica count: Progressing %s", r)
	}
	qc, v = statusCluster()
	clusterStatus(qc, v, &v1alpha1.OperationStatus{Type: v1alpha1.OperationRollout, Step: "restart q-0"}, errors.New("refused"))
	if r := reason(qc, v1alpha1.ConditionProgressing); r != "True/Rollout" || qc.Status.Operation == nil || qc.Status.ObservedGeneration != 0 {
		t.Errorf("an operation: Progressing %s, operation %v, observedGeneration %d", r, qc.Status.Operation, qc.Status.ObservedGeneration)
	}
	if r := reason(qc, v1alpha1.ConditionDegraded); r != "True/ApplyFailed" {
		t.Errorf("a failure: Degraded %s", r)
	}
}

// Unreachable: the members stay known but Unknown, nothing ready, no
// leader; the conditions say why.
func TestClusterStatusUnreachable(t *testing.T) {
	qc, v := statusCluster()
	clusterStatus(qc, v, nil, nil)
	v.Err, v.Cluster, v.Ready = &dataplane.Unreachable{URLs: []string{"http://q.ns.svc:7420"}, Err: errors.New("refused")}, protocol.ClusterStatus{}, nil
	clusterStatus(qc, v, nil, nil)
	st := qc.Status
	if len(st.Members) != 3 || st.Members[1].Role != v1alpha1.RoleUnknown || st.Members[1].Ready || st.Leader != "" || st.ReadyReplicas != 0 {
		t.Errorf("status while unreachable %+v", st)
	}
	if r := reason(qc, v1alpha1.ConditionReady); r != "False/DataPlaneUnreachable" {
		t.Errorf("Ready %s", r)
	}
	if r := reason(qc, v1alpha1.ConditionDegraded); r != "True/DataPlaneUnreachable" {
		t.Errorf("Degraded %s", r)
	}
}
