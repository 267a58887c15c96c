package controller

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/carriermq/carrier/operator/api/v1alpha1"
)

// rollout replaces the pods on an older template, one at a time (the
// StatefulSet's OnDelete strategy leaves the order to the operator):
//
//  1. the pod replaced last must be back on the new template and ready
//     (its member answers /readyz); until then, wait;
//  2. pick the next outdated pod: one whose member is not ready first (it
//     serves nothing now), then followers, the leader last, highest
//     ordinal first among equals;
//  3. every other member a ready voter that names the leader; until
//     then, wait;
//  4. the leader is not stopped: its leadership goes to a ready voter
//     first, and the next reconcile sees it a follower;
//  5. the leader's safe-to-stop check passed for the pod; until then,
//     wait;
//  6. delete the pod; the StatefulSet controller creates it again from
//     the new template.
//
// Each wait is bounded by the step timeout, then the rollout halts
// (Degraded). Target is the template hash the step replaced a pod for.
func (s *step) rollout(ctx context.Context) (*v1alpha1.OperationStatus, error) {
	hash := s.templateHash()
	if op := s.replacing(); op != nil {
		return s.bounded(op), nil
	}
	outdated := s.outdated(hash)
	if len(outdated) == 0 {
		return nil, nil
	}
	cand := s.nextToReplace(outdated)
	progress := fmt.Sprintf("%d of %d pods on the new template", s.replicas()-int32(len(outdated)), s.replicas())
	if s.replicas() == 1 {
		return s.replaceOnly(ctx, cand, hash)
	}
	if why := s.unhealthy(cand.Name); why != "" {
		return s.bounded(s.at(v1alpha1.OperationRollout, v1alpha1.PhaseWaiting, cand.Name, hash,
			fmt.Sprintf("waiting to replace %s: %s; %s", cand.Name, why, progress))), nil
	}
	if cand.Name == s.leader() {
		return s.transferAway(ctx, cand.Name, v1alpha1.OperationRollout, hash)
	}
	_, why, err := s.stopCheck(ctx, cand.Name) // a pod not a member costs no quorum: why is ""
	if err != nil {
		return nil, err
	}
	if why != "" {
		return s.bounded(s.at(v1alpha1.OperationRollout, v1alpha1.PhaseWaiting, cand.Name, hash,
			fmt.Sprintf("waiting to replace %s: %s; %s", cand.Name, why, progress))), nil
	}
	if err := s.deletePod(ctx, cand); err != nil {
		return nil, err
	}
	s.event(false, "ReplacingPod", "Replace", "replacing pod %s (%s) with the new pod template; %s", cand.Name, s.roleOf(cand.Name), progress)
	op := s.fresh(s.at(v1alpha1.OperationRollout, v1alpha1.PhaseReplacing, cand.Name, hash,
		fmt.Sprintf("replaced %s (%s); %s", cand.Name, s.roleOf(cand.Name), progress)))
	op.PodUID = cand.UID
	return op, nil
}

// replaceOnly replaces the pod of a one-member cluster: there is no other
// member to hand over to, so the cluster is unavailable until the new pod
// is ready (the event says so). It waits for the data plane to answer, so
// a member that cannot be reached is not stopped blind.
func (s *step) replaceOnly(ctx context.Context, p *corev1.Pod, hash string) (*v1alpha1.OperationStatus, error) {
	if s.v.Err != nil {
		return s.bounded(s.at(v1alpha1.OperationRollout, v1alpha1.PhaseWaiting, p.Name, hash,
			"waiting to replace "+p.Name+": the data plane does not answer: "+s.v.Err.Error())), nil
	}
	if err := s.deletePod(ctx, p); err != nil {
		return nil, err
	}
	s.event(false, "ReplacingPod", "Replace", "replacing pod %s, the only member: the cluster is unavailable until the new pod is ready", p.Name)
	op := s.fresh(s.at(v1alpha1.OperationRollout, v1alpha1.PhaseReplacing, p.Name, hash, "replaced "+p.Name+", the only member"))
	op.PodUID = p.UID
	return op, nil
}

// replacing is the step waiting for the pod replaced last, nil when that
// step is over: its successor (another UID) is ready on the current
// template, or on another one (a template changed since, or a StatefulSet
// controller that created it from a stale template): then it is outdated
// and goes through the choice like the others.
func (s *step) replacing() *v1alpha1.OperationStatus {
	p := s.prev
	if p == nil || p.Type != v1alpha1.OperationRollout || p.Pod == "" || p.Phase != v1alpha1.PhaseReplacing {
		return nil
	}
	wait := func(why string) *v1alpha1.OperationStatus {
		op := s.at(v1alpha1.OperationRollout, v1alpha1.PhaseReplacing, p.Pod, p.Target, "replaced "+p.Pod+"; "+why)
		op.PodUID = p.PodUID
		return op
	}
	pod := s.pod(p.Pod)
	switch {
	case pod == nil:
		return wait("waiting for its pod to be created again")
	case pod.UID == p.PodUID:
		return wait("waiting for the old pod to go")
	case podHash(pod) != s.templateHash():
		return nil
	case !s.readyVoter(p.Pod):
		return wait("waiting for it to be a ready voter again")
	}
	return nil
}

// outdated are the pods of the StatefulSet's ordinals whose template is
// not hash.
func (s *step) outdated(hash string) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range s.v.Pods {
		p := &s.v.Pods[i]
		if n, ok := ordinal(s.stsName(), p.Name); ok && n < s.replicas() && podHash(p) != hash {
			out = append(out, p)
		}
	}
	return out
}

// nextToReplace orders the outdated pods: not a ready member first, then
// followers, the leader last; highest ordinal first within each.
func (s *step) nextToReplace(pods []*corev1.Pod) *corev1.Pod {
	rank := func(p *corev1.Pod) int {
		switch {
		case !s.v.Ready[p.Name] || !s.inConfiguration(p.Name):
			return 0
		case p.Name == s.leader():
			return 2
		}
		return 1
	}
	sorted := slices.Clone(pods)
	slices.SortFunc(sorted, func(a, b *corev1.Pod) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		na, _ := ordinal(s.stsName(), a.Name)
		nb, _ := ordinal(s.stsName(), b.Name)
		return cmp.Compare(nb, na)
	})
	return sorted[0]
}

func (s *step) roleOf(id string) string {
	m, ok := s.member(id)
	switch {
	case !ok || m.Suffrage == "None":
		return "not a member"
	case !s.v.Ready[id]:
		return "not ready"
	case id == s.leader():
		return "leader"
	case m.Suffrage == "Nonvoter":
		return "nonvoter"
	}
	return "follower"
}

// deletePod deletes p, only that very pod (its UID): one the StatefulSet
// controller created again meanwhile is not deleted.
func (s *step) deletePod(ctx context.Context, p *corev1.Pod) error {
	err := s.c.client.Delete(ctx, p, client.Preconditions{UID: &p.UID})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pod %s: %w", p.Name, err)
	}
	return nil
}
