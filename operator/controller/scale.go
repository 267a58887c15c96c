package controller

import (
	"context"
	"fmt"
	"strconv"
	"time"

	carrier "github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/dataplane"
	"github.com/carriermq/carrier/protocol"
)

// scale moves the StatefulSet's replica count toward spec.replicas one
// member at a time (Conductor.Replicas applies the count each step allows):
//
//   - up: with the cluster healthy, admit pod n (the replica count rises by
//     one); the node joins as a nonvoter and the leader promotes it once it
//     has caught up; wait until it is a ready voter. A node that kept its
//     Raft state from an earlier membership (its volume was retained) is not
//     taken back by the cluster on its own: it is added explicitly.
//   - down: the highest ordinal leaves first. It is removed from the Raft
//     configuration through the admin API before its pod goes, and only if
//     the leader says stopping it keeps a quorum of caught-up voters;
//     otherwise the scale is refused (Degraded, an event) and tried again
//     on every reconcile. A leader hands its leadership over first. Once it
//     is out of the configuration, the replica count drops and the
//     StatefulSet controller deletes the pod (its claim as the retention
//     policy says).
func (s *step) scale(ctx context.Context) (*v1alpha1.OperationStatus, error) {
	if op, err := s.adding(ctx); op != nil || err != nil {
		return op, err
	}
	want, have := s.qc.Spec.Replicas, s.replicas()
	target := strconv.Itoa(int(want))
	switch {
	case want > have:
		if why := s.unhealthy(""); why != "" {
			return s.bounded(s.at(v1alpha1.OperationScaleUp, v1alpha1.PhaseWaiting, "", target, "waiting to add a member: "+why)), nil
		}
		name := podName(s.stsName(), have)
		s.event(false, "AddingMember", "Scale", "adding %s (%d → %d members)", name, have, want)
		return s.fresh(s.at(v1alpha1.OperationScaleUp, v1alpha1.PhaseAdding, name, target,
			fmt.Sprintf("adding %s; %d of %d members", name, have, want))), nil
	case want < have:
		return s.remove(ctx, podName(s.stsName(), have-1), target)
	}
	return nil, nil
}

// adding is the step waiting for the member added last to be a ready
// voter, nil when there is none or it is; a member that kept an earlier
// membership's Raft state is added back explicitly.
func (s *step) adding(ctx context.Context) (*v1alpha1.OperationStatus, error) {
	p := s.prev
	if p == nil || p.Type != v1alpha1.OperationScaleUp || p.Phase != v1alpha1.PhaseAdding || p.Pod == "" {
		return nil, nil
	}
	if n, ok := ordinal(s.stsName(), p.Pod); !ok || n >= s.qc.Spec.Replicas || s.readyVoter(p.Pod) {
		return nil, nil // joined, or no longer wanted (the scale turned down)
	}
	// A new, empty node is added by the leader itself as soon as gossip
	// shows it; one still outside the configuration after readdAfter kept
	// the Raft state of an earlier membership.
	if m, ok := s.member(p.Pod); ok && m.Suffrage == "None" && m.Gossip == "alive" && m.Address != "" && s.stepAge(p) > readdAfter {
		if _, err := dataplane.Do(ctx, s.v.DataPlane, func(a *carrier.Admin) (protocol.MemberChange, error) {
			return a.AddMember(ctx, m.ID, m.Address)
		}); err != nil {
			return nil, fmt.Errorf("add %s back to the configuration: %w", m.ID, err)
		}
		s.event(false, "MemberReadded", "Scale", "%s kept the Raft state of an earlier membership; added it back as a nonvoter", m.ID)
	}
	return s.bounded(s.at(v1alpha1.OperationScaleUp, v1alpha1.PhaseAdding, p.Pod, p.Target,
		fmt.Sprintf("waiting for %s to join and be promoted to a ready voter", p.Pod))), nil
}

// readdAfter is how long a new member may stay out of the configuration
// before it is added explicitly: the leader adds an empty node within a
// second or two of seeing it in gossip.
const readdAfter = 10 * time.Second

// stepAge is how long the step of op has lasted.
func (s *step) stepAge(op *v1alpha1.OperationStatus) time.Duration {
	if op.StepStarted == nil {
		return 0
	}
	return s.now.Sub(op.StepStarted.Time)
}

// remove takes the member name (the highest ordinal) out of the cluster
// before its pod goes.
func (s *step) remove(ctx context.Context, name, target string) (*v1alpha1.OperationStatus, error) {
	down := func(phase v1alpha1.OperationPhase, msg string) *v1alpha1.OperationStatus {
		return s.at(v1alpha1.OperationScaleDown, phase, name, target, msg)
	}
	if s.v.Err != nil {
		return s.bounded(down(v1alpha1.PhaseWaiting, "waiting to remove "+name+": the data plane does not answer")), nil
	}
	// The leader says whether it is a member: a follower's view of the
	// configuration may lag (not yet show a member just added).
	member, why, err := s.stopCheck(ctx, name)
	if err != nil {
		return nil, err
	}
	if !member {
		// Out of the configuration: Replicas lets the pod go.
		return down(v1alpha1.PhaseRemoving, fmt.Sprintf("%s is out of the cluster; its pod goes next", name)), nil
	}
	if why != "" {
		return s.refused(down(v1alpha1.PhaseRefused, fmt.Sprintf("not removing %s: %s", name, why))), nil
	}
	if name == s.leader() {
		return s.transferAway(ctx, name, v1alpha1.OperationScaleDown, target)
	}
	if _, err := dataplane.Do(ctx, s.v.DataPlane, func(a *carrier.Admin) (protocol.MemberChange, error) {
		return a.RemoveMember(ctx, name)
	}); err != nil {
		return nil, fmt.Errorf("remove %s from the cluster: %w", name, err)
	}
	s.event(false, "RemovedMember", "Scale", "removed %s from the cluster through the admin API; its pod goes next", name)
	return s.fresh(down(v1alpha1.PhaseRemoving, fmt.Sprintf("removed %s; its pod goes next", name))), nil
}
