package scheduler

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// APIPlanner carries decisions out through the API server.
type APIPlanner struct {
	Client   kubernetes.Interface
	Recorder record.EventRecorder
	Clock    clock.Clock
}

// Bind posts a pods/binding and reports the Scheduled event.
func (p *APIPlanner) Bind(ctx context.Context, pod *corev1.Pod, node string) error {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	if err := p.Client.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		return err
	}
	p.Recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
	return nil
}

// conditionPatch is a strategic merge patch of pod status.
type conditionPatch struct {
	Status struct {
		Conditions        []corev1.PodCondition `json:"conditions,omitempty"`
		NominatedNodeName *string               `json:"nominatedNodeName,omitempty"`
	} `json:"status"`
}

func (p *APIPlanner) patchStatus(ctx context.Context, pod *corev1.Pod, cp *conditionPatch) error {
	body, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	_, err = p.Client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{}, "status")
	return err
}

// Unschedulable reports FailedScheduling and sets PodScheduled=False with the
// message, unless the pod already says exactly that.
func (p *APIPlanner) Unschedulable(ctx context.Context, pod *corev1.Pod, message string) error {
	p.Recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", message)
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == message {
			return nil
		}
	}
	now := metav1.NewTime(p.Clock.Now())
	var cp conditionPatch
	cp.Status.Conditions = []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: message, LastTransitionTime: now,
	}}
	return p.patchStatus(ctx, pod, &cp)
}

// Preempt records the nominated node on the preemptor, then marks and deletes
// each victim with a Preempted event.
func (p *APIPlanner) Preempt(ctx context.Context, pod *corev1.Pod, node string, victims []*corev1.Pod) error {
	var cp conditionPatch
	cp.Status.NominatedNodeName = &node
	if err := p.patchStatus(ctx, pod, &cp); err != nil {
		return fmt.Errorf("nominate %s for %s/%s: %w", node, pod.Namespace, pod.Name, err)
	}
	now := metav1.NewTime(p.Clock.Now())
	for _, v := range victims {
		msg := fmt.Sprintf("Preempted by pod %s/%s on node %s", pod.Namespace, pod.Name, node)
		var vp conditionPatch
		vp.Status.Conditions = []corev1.PodCondition{{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "PreemptionByScheduler",
			Message: fmt.Sprintf("%s: preempting to accommodate a higher priority pod", Name), LastTransitionTime: now,
		}}
		if err := p.patchStatus(ctx, v, &vp); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		uid := v.UID
		err := p.Client.CoreV1().Pods(v.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete victim %s/%s: %w", v.Namespace, v.Name, err)
		}
		p.Recorder.Event(v, corev1.EventTypeNormal, "Preempted", msg)
	}
	return nil
}
