package controller

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	carrier "github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/operator/dataplane"
	"github.com/carriermq/carrier/operator/internal/build"
	"github.com/carriermq/carrier/protocol"
)

// What the operations read of a View: pods by ordinal, members by id (a
// member is named like its pod), the leader, and health.

// ordinal is n of the pod "<sts>-<n>".
func ordinal(sts, pod string) (int32, bool) {
	s, ok := strings.CutPrefix(pod, sts+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 32)
	return int32(n), err == nil && n >= 0
}

func podName(sts string, n int32) string { return fmt.Sprintf("%s-%d", sts, n) }

func (s *step) replicas() int32 { return *s.v.StatefulSet.Spec.Replicas }

func (s *step) stsName() string { return s.v.StatefulSet.Name }

// templateHash is the StatefulSet's pod template hash: what every pod
// should run.
func (s *step) templateHash() string {
	return s.v.StatefulSet.Annotations[build.TemplateHashAnnotation]
}

func podHash(p *corev1.Pod) string { return p.Annotations[build.TemplateHashAnnotation] }

// pod returns the pod named name, nil when there is none.
func (s *step) pod(name string) *corev1.Pod {
	for i := range s.v.Pods {
		if s.v.Pods[i].Name == name {
			return &s.v.Pods[i]
		}
	}
	return nil
}

// member returns the member id as the cluster reports it (any suffrage,
// gossip-only ones included).
func (s *step) member(id string) (protocol.ClusterMember, bool) {
	for _, m := range s.v.Cluster.Members {
		if m.ID == id {
			return m, true
		}
	}
	return protocol.ClusterMember{}, false
}

// inConfiguration: id is a voter or a nonvoter of the Raft configuration.
func (s *step) inConfiguration(id string) bool {
	m, ok := s.member(id)
	return ok && (m.Suffrage == "Voter" || m.Suffrage == "Nonvoter")
}

// readyVoter: id votes and answers /readyz.
func (s *step) readyVoter(id string) bool {
	m, ok := s.member(id)
	return ok && m.Suffrage == "Voter" && s.v.Ready[id]
}

func (s *step) leader() string {
	if s.v.Err != nil {
		return ""
	}
	return s.v.Cluster.Leader
}

// unhealthy says why the cluster is not healthy, leaving out the member
// except ("" for none); "" when it is: the data plane answers, a leader,
// a pod for every replica, and every member of the configuration a ready
// voter (a nonvoter is a member still catching up) that names that leader
// itself (right after a leadership transfer, a member may still name the
// old leader, or none while the election settles).
func (s *step) unhealthy(except string) string {
	if s.v.Err != nil {
		return "the data plane does not answer: " + s.v.Err.Error()
	}
	if s.leader() == "" {
		return "the cluster has no leader"
	}
	for i := range s.replicas() {
		if name := podName(s.stsName(), i); name != except && s.pod(name) == nil {
			return "pod " + name + " does not exist yet"
		}
	}
	for _, m := range s.v.Cluster.Members {
		switch {
		case m.ID == except || m.Suffrage == "None":
		case m.Suffrage == "Nonvoter":
			return m.ID + " is still catching up (a nonvoter)"
		case !s.v.Ready[m.ID]:
			return m.ID + " is not ready"
		case s.v.Leaders[m.ID] != s.leader():
			return fmt.Sprintf("%s does not follow %s yet (it names %q)", m.ID, s.leader(), s.v.Leaders[m.ID])
		}
	}
	return ""
}

// stopCheck asks the leader about id: whether it is in the Raft
// configuration (the leader's own, not a follower's view that may lag)
// and, if so, why stopping it now would cost the quorum ("" when it would
// not).
func (s *step) stopCheck(ctx context.Context, id string) (member bool, why string, err error) {
	sc, err := dataplane.Do(ctx, s.v.DataPlane, func(a *carrier.Admin) (protocol.StopCheck, error) { return a.SafeToStop(ctx, id) })
	switch {
	case carrier.CodeOf(err) == protocol.CodeNotFound:
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("safe-to-stop %s: %w", id, err)
	case sc.Safe:
		return true, "", nil
	}
	return true, fmt.Sprintf("stopping %s now would leave %d caught-up voters of %d, a quorum is %d (%s)",
		id, len(sc.CaughtUp)-btoi(slices.Contains(sc.CaughtUp, id)), sc.Voters, sc.Quorum, sc.Reason), nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// transferAway moves the leadership from the member from to a ready voter,
// one on the current template first, and returns the step: phase
// TransferringLeadership, on from. The next reconcile sees the new
// leader.
func (s *step) transferAway(ctx context.Context, from string, t v1alpha1.OperationType, target string) (*v1alpha1.OperationStatus, error) {
	to := s.transferTarget(from)
	if to == "" {
		return s.bounded(s.at(t, v1alpha1.PhaseWaiting, from, target, "waiting for a ready voter to hand the leadership of "+from+" to")), nil
	}
	res, err := dataplane.Do(ctx, s.v.DataPlane, func(a *carrier.Admin) (protocol.LeaderTransfer, error) { return a.TransferLeadership(ctx, to) })
	if err != nil {
		return nil, fmt.Errorf("transfer the leadership from %s to %s: %w", from, to, err)
	}
	s.event(false, "LeadershipTransferred", "TransferLeadership", "moved the leadership from %s to %s before %s", from, res.Leader, words(t))
	return s.at(t, v1alpha1.PhaseTransferring, from, target, fmt.Sprintf("moved the leadership from %s to %s", from, res.Leader)), nil
}

// transferTarget is the voter to lead instead of from: ready, on the
// current template if one is, lowest ordinal first; "" when none is ready.
func (s *step) transferTarget(from string) string {
	var best string
	bestUpdated := false
	for i := range s.replicas() {
		name := podName(s.stsName(), i)
		if name == from || !s.readyVoter(name) {
			continue
		}
		p := s.pod(name)
		updated := p != nil && podHash(p) == s.templateHash()
		if best == "" || (updated && !bestUpdated) {
			best, bestUpdated = name, updated
		}
	}
	return best
}
