package deployment

import (
	"context"
	"fmt"
	"math"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons (the values kubectl and users look for).
const (
	reasonNewRSCreated   = "NewReplicaSetCreated"
	reasonFoundNewRS     = "FoundNewReplicaSet"
	reasonRSUpdated      = "ReplicaSetUpdated"
	reasonNewRSAvailable = "NewReplicaSetAvailable"
	reasonTimedOut       = "ProgressDeadlineExceeded"
	reasonPaused         = "DeploymentPaused"
	reasonResumed        = "DeploymentResumed"
	reasonCreateError    = "ReplicaSetCreateError"
	reasonMinAvailable   = "MinimumReplicasAvailable"
	reasonMinUnavailable = "MinimumReplicasUnavailable"
)

func condition(t appsv1.DeploymentConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	ts := metav1.NewTime(now)
	return appsv1.DeploymentCondition{Type: t, Status: s, Reason: reason, Message: msg, LastUpdateTime: ts, LastTransitionTime: ts}
}

func getCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition replaces the condition of c's type. A condition with the same status
// and reason is left as it is; one with the same status keeps its transition time.
func setCondition(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	if cur := getCondition(st, c.Type); cur != nil {
		if cur.Status == c.Status && cur.Reason == c.Reason {
			return
		}
		if cur.Status == c.Status {
			c.LastTransitionTime = cur.LastTransitionTime
		}
	}
	removeCondition(st, c.Type)
	st.Conditions = append(st.Conditions, c)
}

func removeCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	out := st.Conditions[:0:0]
	for _, c := range st.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	st.Conditions = out
}

func hasDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

// computeStatus sums the ReplicaSets' status into d's, with the Available condition.
func (dc *Controller) computeStatus(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) appsv1.DeploymentStatus {
	avail := statusSum(all, available)
	unavailable := specSum(all) - avail
	if unavailable < 0 {
		unavailable = 0
	}
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            statusSum(all, actual),
		ReadyReplicas:       statusSum(all, ready),
		AvailableReplicas:   avail,
		UnavailableReplicas: unavailable,
		CollisionCount:      d.Status.CollisionCount,
		Conditions:          append([]appsv1.DeploymentCondition(nil), d.Status.Conditions...),
	}
	if newRS != nil {
		st.UpdatedReplicas = newRS.Status.Replicas
	}
	now := dc.clock.Now()
	want := replicas(d.Spec.Replicas)
	if avail >= want-maxUnavailable(d) {
		setCondition(&st, condition(appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinAvailable, "Enough replicas are available: no more are unavailable than maxUnavailable allows.", now))
	} else {
		setCondition(&st, condition(appsv1.DeploymentAvailable, corev1.ConditionFalse, reasonMinUnavailable, "Fewer replicas are available than the Deployment needs.", now))
	}
	// A ReplicaSet that cannot create pods makes the Deployment fail the same way.
	var failure *appsv1.ReplicaSetCondition
	for _, rs := range all {
		for i := range rs.Status.Conditions {
			if c := rs.Status.Conditions[i]; c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
				failure = &c
			}
		}
	}
	if failure != nil {
		setCondition(&st, appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: failure.Reason, Message: failure.Message, LastUpdateTime: metav1.NewTime(now), LastTransitionTime: failure.LastTransitionTime})
	} else {
		removeCondition(&st, appsv1.DeploymentReplicaFailure)
	}
	return st
}

// complete: every wanted pod runs the current template and is available, and no
// old pod is left.
func complete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	want := replicas(d.Spec.Replicas)
	return st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want && st.ObservedGeneration >= d.Generation
}

// progressed: the rollout moved forward since the status d carries.
func progressed(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas ||
		st.AvailableReplicas > old.AvailableReplicas
}

// timedOut: no progress was recorded for progressDeadlineSeconds.
func (dc *Controller) timedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	if !hasDeadline(d) {
		return false
	}
	c := getCondition(st, appsv1.DeploymentProgressing)
	if c == nil || c.Reason == reasonNewRSAvailable {
		return false
	}
	if c.Reason == reasonTimedOut {
		return true
	}
	deadline := c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second)
	return deadline.Before(dc.clock.Now())
}

// syncStatus writes the summed status without touching Progressing (scaling, a
// paused Deployment, one being deleted).
func (dc *Controller) syncStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	st := dc.computeStatus(d, all, newRS)
	return dc.writeStatus(ctx, d, st)
}

// syncRolloutStatus writes the status of a rollout: Progressing follows the new
// ReplicaSet until it is complete, or until the deadline passes with no progress.
func (dc *Controller) syncRolloutStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	st := dc.computeStatus(d, all, newRS)
	if !hasDeadline(d) {
		removeCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := getCondition(&st, appsv1.DeploymentProgressing)
	done := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == reasonNewRSAvailable
	if hasDeadline(d) && !done {
		now := dc.clock.Now()
		what := fmt.Sprintf("Deployment %q", d.Name)
		if newRS != nil {
			what = fmt.Sprintf("ReplicaSet %q", newRS.Name)
		}
		switch {
		case complete(d, &st):
			setCondition(&st, condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSAvailable, what+" has finished its rollout.", now))
		case progressed(d, &st):
			c := condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonRSUpdated, what+" is rolling out.", now)
			// Progress moves the deadline: refresh the update time even when the
			// reason stays the same.
			if cur != nil && cur.Status == corev1.ConditionTrue {
				c.LastTransitionTime = cur.LastTransitionTime
			}
			removeCondition(&st, appsv1.DeploymentProgressing)
			st.Conditions = append(st.Conditions, c)
		case dc.timedOut(d, &st):
			setCondition(&st, condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, reasonTimedOut, fmt.Sprintf("%s made no progress for %ds.", what, *d.Spec.ProgressDeadlineSeconds), now))
		}
	}
	if err := dc.writeStatus(ctx, d, st); err != nil {
		return err
	}
	dc.requeueForDeadline(d, &st)
	return nil
}

// requeueForDeadline looks at a rollout again when its deadline would pass, so that
// ProgressDeadlineExceeded is reported without any other event.
func (dc *Controller) requeueForDeadline(d *appsv1.Deployment, st *appsv1.DeploymentStatus) {
	c := getCondition(st, appsv1.DeploymentProgressing)
	if !hasDeadline(d) || c == nil || c.Reason == reasonNewRSAvailable || c.Reason == reasonTimedOut || complete(d, st) {
		return
	}
	after := c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(dc.clock.Now())
	if after < time.Second {
		after = time.Second
	}
	dc.queue.AddAfter(d.Namespace+"/"+d.Name, after)
}

func (dc *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment, st appsv1.DeploymentStatus) error {
	if semantic.DeepEqual(d.Status, st) {
		return nil
	}
	c := d.DeepCopy()
	c.Status = st
	out, err := dc.client.AppsV1().Deployments(c.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	*d = *out
	return nil
}

// syncPaused records pausing and resuming in the Progressing condition (a paused
// rollout never times out).
func (dc *Controller) syncPaused(ctx context.Context, d *appsv1.Deployment) error {
	if !hasDeadline(d) {
		return nil
	}
	cur := getCondition(&d.Status, appsv1.DeploymentProgressing)
	if cur != nil && cur.Reason == reasonTimedOut {
		return nil
	}
	isPaused := cur != nil && cur.Reason == reasonPaused
	st := *d.Status.DeepCopy()
	switch {
	case d.Spec.Paused && !isPaused:
		setCondition(&st, condition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonPaused, "Deployment is paused", dc.clock.Now()))
	case !d.Spec.Paused && isPaused:
		setCondition(&st, condition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonResumed, "Deployment is resumed", dc.clock.Now()))
	default:
		return nil
	}
	return dc.writeStatus(ctx, d, st)
}
