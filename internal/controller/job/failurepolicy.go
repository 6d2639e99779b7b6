package job

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// matchFailurePolicy finds the first rule of the job's pod failure policy that a
// failed pod matches and returns its action ("" when none matches: the failure
// counts as usual) and, for FailJob, the message of the job's condition.
func matchFailurePolicy(job *batchv1.Job, pod *corev1.Pod) (batchv1.PodFailurePolicyAction, string) {
	fp := job.Spec.PodFailurePolicy
	if fp == nil {
		return "", ""
	}
	for i, r := range fp.Rules {
		if r.OnExitCodes != nil {
			if c, code, ok := matchExitCodes(r.OnExitCodes, pod); ok {
				return r.Action, fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
					c, pod.Namespace, pod.Name, code, r.Action, i)
			}
			continue
		}
		for _, pc := range r.OnPodConditions {
			for _, c := range pod.Status.Conditions {
				if c.Type == pc.Type && c.Status == pc.Status {
					return r.Action, fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d", pod.Namespace, pod.Name, c.Type, r.Action, i)
				}
			}
		}
	}
	return "", ""
}

// matchExitCodes checks the terminated containers of a pod against a rule: In
// matches a listed code, NotIn any other non-zero code.
func matchExitCodes(req *batchv1.PodFailurePolicyOnExitCodesRequirement, pod *corev1.Pod) (string, int32, bool) {
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range statuses {
			if req.ContainerName != nil && *req.ContainerName != cs.Name {
				continue
			}
			t := cs.State.Terminated
			if t == nil || t.ExitCode == 0 {
				continue
			}
			listed := false
			for _, v := range req.Values {
				if v == t.ExitCode {
					listed = true
					break
				}
			}
			if listed == (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) {
				return cs.Name, t.ExitCode, true
			}
		}
	}
	return "", 0, false
}
