package main

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// snapshot is the pod with the status the kubelet would report now.
func (r *podRun) snapshot() *corev1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	pod := r.pod.DeepCopy()
	st := &pod.Status
	st.HostIP = r.hostIP()
	st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	st.PodIP = r.ip.String()
	st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	st.StartTime = &r.started
	st.QOSClass = qosClass(pod)
	st.ContainerStatuses = make([]corev1.ContainerStatus, len(r.ctrs))
	for i, c := range r.ctrs {
		st.ContainerStatuses[i] = *c.status.DeepCopy()
		if w := st.ContainerStatuses[i].State.Waiting; w != nil && w.Reason == "ContainerCreating" && r.lastMsg != "" {
			w.Message = r.lastMsg
		}
	}
	st.Phase = r.phaseLocked()
	st.Conditions = r.conditionsLocked(pod)
	return pod
}

// phaseLocked: Pending until a container has run; Succeeded or Failed
// once every container has stopped for good (all exited 0, or not);
// Running otherwise, a container waiting to restart included.
func (r *podRun) phaseLocked() corev1.PodPhase {
	ran, final, failed := false, true, false
	for _, c := range r.ctrs {
		ran = ran || c.everRan
		final = final && c.final
		if t := c.status.State.Terminated; c.final && (t == nil || t.ExitCode != 0) {
			failed = true
		}
	}
	switch {
	case final && failed:
		return corev1.PodFailed
	case final:
		return corev1.PodSucceeded
	case ran:
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// conditionsLocked are the scheduler's and others' conditions as they
// are, and the kubelet's, with a transition time that changes only with
// the status.
func (r *podRun) conditionsLocked(pod *corev1.Pod) []corev1.PodCondition {
	ready := len(r.ctrs) > 0
	for _, c := range r.ctrs {
		ready = ready && c.status.Ready
	}
	own := map[corev1.PodConditionType]bool{
		corev1.PodReadyToStartContainers: r.sandbox,
		corev1.PodInitialized:            true,
		corev1.ContainersReady:           ready,
		corev1.PodReady:                  ready,
	}
	var out []corev1.PodCondition
	for _, c := range pod.Status.Conditions {
		if _, mine := own[c.Type]; !mine {
			out = append(out, c)
		}
	}
	for _, t := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		status := corev1.ConditionFalse
		if own[t] {
			status = corev1.ConditionTrue
		}
		c, ok := r.conditions[t]
		if !ok || c.Status != status {
			c = corev1.PodCondition{Type: t, Status: status, LastTransitionTime: metav1.Now()}
			if status == corev1.ConditionFalse && (t == corev1.PodReady || t == corev1.ContainersReady) {
				c.Reason = "ContainersNotReady"
			}
			r.conditions[t] = c
		}
		out = append(out, c)
	}
	return out
}

// qosClass as the kubelet computes it, roughly: BestEffort without any
// request or limit, Guaranteed when every container's limits equal its
// requests for CPU and memory, Burstable otherwise.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	any, guaranteed := false, true
	for _, c := range pod.Spec.Containers {
		res := c.Resources
		if len(res.Requests) > 0 || len(res.Limits) > 0 {
			any = true
		}
		for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			l, ok := res.Limits[n]
			q, hasReq := res.Requests[n]
			if !ok || (hasReq && q.Cmp(l) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
