package controller

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/internal/build"
	"github.com/carriermq/carrier/protocol"
)

// QueueCluster condition reasons (besides the shared ones).
const (
	ReasonClusterReady      = "ClusterReady"
	ReasonNoLeader          = "NoLeader"
	ReasonMembersNotReady   = "MembersNotReady"
	ReasonApplyFailed       = "ApplyFailed"
	ReasonStable            = "Stable"
	ReasonWaitingForMembers = "WaitingForMembers"
	ReasonRolloutPending    = "RolloutPending"
	ReasonScalePending      = "ScalePending"
)

// clusterStatus recomputes qc.Status from what v observed; err is a
// failure to apply the children or to run the operation step. Every field
// comes from the world (pods, the data plane), except bootstrapExpect.
func clusterStatus(qc *v1alpha1.QueueCluster, v *View, op *v1alpha1.OperationStatus, err error) {
	st := &qc.Status
	st.Replicas = int32(len(v.Pods))
	st.Selector = labels.SelectorFromSet(build.SelectorLabels(qc)).String()
	st.CurrentImage = podsImage(v)
	st.Operation = op
	if err == nil {
		st.ObservedGeneration = qc.Generation
	}
	if v.Err != nil {
		unreachableMembers(st)
		setFailed(&st.Conditions, v.Err, qc.Generation)
	} else {
		st.Members, st.Leader, st.Version = members(v), v.Cluster.Leader, membersVersion(v.Cluster.Members)
		st.ReadyReplicas = countReady(st.Members)
		readiness(qc)
		setCondition(&st.Conditions, v1alpha1.ConditionDegraded, false, ReasonAsExpected, "", qc.Generation)
	}
	if err != nil {
		setCondition(&st.Conditions, v1alpha1.ConditionDegraded, true, ReasonApplyFailed, err.Error(), qc.Generation)
	}
	if reason := stopped(op); reason != "" {
		setCondition(&st.Conditions, v1alpha1.ConditionDegraded, true, reason, op.Step, qc.Generation)
	}
	progressing(qc, v, op)
}

// stopped is the reason of an operation that cannot go on by itself,
// "<Type>Halted" (a step outlasted the step timeout) or "<Type>Refused"
// (the next step would cost the quorum, or was refused); "" otherwise.
func stopped(op *v1alpha1.OperationStatus) string {
	switch {
	case op == nil:
		return ""
	case op.Phase == v1alpha1.PhaseRefused:
		return string(op.Type) + "Refused"
	case op.Halted:
		return string(op.Type) + "Halted"
	}
	return ""
}

// unreachableMembers keeps the members known but says nothing is known of
// them: role Unknown, not ready, no leader.
func unreachableMembers(st *v1alpha1.QueueClusterStatus) {
	for i := range st.Members {
		st.Members[i].Role, st.Members[i].Ready = v1alpha1.RoleUnknown, false
	}
	st.Leader, st.ReadyReplicas = "", 0
}

// members are the Raft configuration's members, sorted by name, with
// their role, readiness and their pod's image.
func members(v *View) []v1alpha1.MemberStatus {
	images := map[string]string{}
	for _, p := range v.Pods {
		images[p.Name] = carrierImage(p.Spec.Containers)
	}
	var out []v1alpha1.MemberStatus
	for _, m := range v.Cluster.Members {
		if m.Suffrage != "Voter" && m.Suffrage != "Nonvoter" {
			continue
		}
		out = append(out, v1alpha1.MemberStatus{Name: m.ID, Role: role(m), Ready: v.Ready[m.ID], Image: images[m.ID]})
	}
	slices.SortFunc(out, func(a, b v1alpha1.MemberStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func role(m protocol.ClusterMember) v1alpha1.MemberRole {
	switch {
	case m.Leader:
		return v1alpha1.RoleLeader
	case m.Suffrage == "Nonvoter":
		return v1alpha1.RoleNonvoter
	default:
		return v1alpha1.RoleFollower
	}
}

func countReady(ms []v1alpha1.MemberStatus) int32 {
	var n int32
	for _, m := range ms {
		if m.Ready {
			n++
		}
	}
	return n
}

// membersVersion is the version every member reports, or "" while they
// differ (or some do not say).
func membersVersion(ms []protocol.ClusterMember) string {
	var v string
	for _, m := range ms {
		if m.Suffrage == "None" {
			continue
		}
		if m.Version == "" || (v != "" && m.Version != v) {
			return ""
		}
		v = m.Version
	}
	return v
}

// podsImage is the image every pod's carrier container runs, or "" while
// they differ (or there are no pods).
func podsImage(v *View) string {
	var img string
	for _, p := range v.Pods {
		i := carrierImage(p.Spec.Containers)
		if img != "" && i != img {
			return ""
		}
		img = i
	}
	return img
}

func carrierImage(cs []corev1.Container) string {
	for _, c := range cs {
		if c.Name == "carrier" {
			return c.Image
		}
	}
	return ""
}

// readiness sets Ready: a leader, and every one of spec.replicas members
// ready.
func readiness(qc *v1alpha1.QueueCluster) {
	st := &qc.Status
	want := qc.Spec.Replicas
	counts := fmt.Sprintf("%d of %d members ready", st.ReadyReplicas, want)
	switch {
	case st.Leader == "":
		setCondition(&st.Conditions, v1alpha1.ConditionReady, false, ReasonNoLeader, "no leader elected; "+counts, qc.Generation)
	case st.ReadyReplicas < want || int(st.ReadyReplicas) < len(st.Members):
		setCondition(&st.Conditions, v1alpha1.ConditionReady, false, ReasonMembersNotReady, counts+", leader "+st.Leader, qc.Generation)
	default:
		setCondition(&st.Conditions, v1alpha1.ConditionReady, true, ReasonClusterReady, counts+", leader "+st.Leader, qc.Generation)
	}
}

// progressing sets Progressing: False for an operation that stopped (its
// reason, as Degraded's), True for the operation in progress, else the work
// pending (pods on an older template, another replica count), else members
// still coming up.
func progressing(qc *v1alpha1.QueueCluster, v *View, op *v1alpha1.OperationStatus) {
	conds, gen := &qc.Status.Conditions, qc.Generation
	set := func(ok bool, reason, msg string) {
		setCondition(conds, v1alpha1.ConditionProgressing, ok, reason, msg, gen)
	}
	outdated := outdatedPods(v)
	switch {
	case stopped(op) != "":
		set(false, stopped(op), op.Step)
	case op != nil:
		set(true, string(op.Type), op.Step)
	case len(outdated) > 0:
		set(true, ReasonRolloutPending, fmt.Sprintf("pods %s run an older pod template; the rollout replaces them one at a time", strings.Join(outdated, ", ")))
	case v.StatefulSet != nil && v.StatefulSet.Spec.Replicas != nil && *v.StatefulSet.Spec.Replicas != qc.Spec.Replicas:
		set(true, ReasonScalePending, fmt.Sprintf("spec.replicas is %d, the StatefulSet has %d; the scale moves it one member at a time", qc.Spec.Replicas, *v.StatefulSet.Spec.Replicas))
	case v.Err == nil && !ready(qc):
		set(true, ReasonWaitingForMembers, "waiting for the members to be ready")
	default:
		set(false, ReasonStable, "")
	}
}

func ready(qc *v1alpha1.QueueCluster) bool {
	for _, c := range qc.Status.Conditions {
		if c.Type == v1alpha1.ConditionReady {
			return c.Status == "True"
		}
	}
	return false
}

// outdatedPods are the pods whose template hash is not the StatefulSet's.
func outdatedPods(v *View) []string {
	if v.StatefulSet == nil {
		return nil
	}
	want := v.StatefulSet.Annotations[build.TemplateHashAnnotation]
	var out []string
	for _, p := range v.Pods {
		if p.Annotations[build.TemplateHashAnnotation] != want {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out
}
