package deployment

import (
	"context"
	"fmt"
	"log/slog"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"tug/internal/controller/podutil"
)

// newSize is how many replicas the new ReplicaSet may have now.
func newSize(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	want := replicas(d.Spec.Replicas)
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		return want
	}
	cur := replicas(newRS.Spec.Replicas)
	room := want + maxSurge(d) - specSum(all)
	if room <= 0 {
		return cur
	}
	return cur + min(room, want-cur)
}

// scaleRS sets a ReplicaSet's size and the size annotations; it returns the stored
// ReplicaSet and whether the size changed.
func (dc *Controller) scaleRS(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, size int32) (*appsv1.ReplicaSet, bool, error) {
	want := replicas(d.Spec.Replicas)
	sizeChanged := replicas(rs.Spec.Replicas) != size
	c := rs.DeepCopy()
	annChanged := setReplicaAnnotations(c, want, want+maxSurge(d))
	if !sizeChanged && !annChanged {
		return rs, false, nil
	}
	from := replicas(rs.Spec.Replicas)
	c.Spec.Replicas = &size
	out, err := dc.client.AppsV1().ReplicaSets(c.Namespace).Update(ctx, c, metav1.UpdateOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("scale replica set %s/%s to %d: %w", rs.Namespace, rs.Name, size, err)
	}
	if sizeChanged {
		dir := "up"
		if size < from {
			dir = "down"
		}
		dc.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", dir, rs.Name, from, size)
	}
	*rs = *out
	return rs, sizeChanged, nil
}

// scalingEvent: the Deployment was resized since its live ReplicaSets were sized.
func scalingEvent(d *appsv1.Deployment, all []*appsv1.ReplicaSet) bool {
	want := replicas(d.Spec.Replicas)
	for _, rs := range active(all) {
		if n, ok := intAnnotation(rs.Annotations, DesiredReplicasAnnotation); ok && n != want {
			return true
		}
	}
	return false
}

// scale resizes the ReplicaSets after the Deployment was resized: a single live
// version takes the new size; during a rolling update the change is spread over
// the live versions in proportion to their sizes.
func (dc *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	want := replicas(d.Spec.Replicas)
	if one := activeOrLatest(newRS, old); one != nil {
		_, _, err := dc.scaleRS(ctx, d, one, want)
		return err
	}
	// The new version alone is at full size and available: the old ones go.
	if newRS != nil && replicas(newRS.Spec.Replicas) == want && newRS.Status.AvailableReplicas == want {
		if n, ok := intAnnotation(newRS.Annotations, DesiredReplicasAnnotation); ok && n == want {
			for _, rs := range active(old) {
				if _, _, err := dc.scaleRS(ctx, d, rs, 0); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		return nil
	}
	live := active(withNew(old, newRS))
	allowed := int32(0)
	if want > 0 {
		allowed = want + maxSurge(d)
	}
	toAdd := allowed - specSum(live)
	if toAdd == 0 {
		return nil
	}
	sizes := proportionalSizes(d, live, toAdd)
	for _, rs := range live {
		if _, _, err := dc.scaleRS(ctx, d, rs, sizes[rs.Name]); err != nil {
			return err
		}
	}
	return nil
}

// proportionalSizes spreads toAdd replicas (negative: removes) over the live
// ReplicaSets in proportion to their sizes; rounding leftovers go to the largest.
// live is reordered (largest first).
func proportionalSizes(d *appsv1.Deployment, live []*appsv1.ReplicaSet, toAdd int32) map[string]int32 {
	largestFirst(live, toAdd > 0)
	sizes := map[string]int32{}
	added := int32(0)
	for _, rs := range live {
		share := proportion(d, rs, toAdd, added)
		sizes[rs.Name] = replicas(rs.Spec.Replicas) + share
		added += share
	}
	if len(live) > 0 {
		first := live[0].Name
		sizes[first] += toAdd - added
		if sizes[first] < 0 {
			sizes[first] = 0
		}
	}
	return sizes
}

// proportion is rs's share of toAdd, given added already handed out.
func proportion(d *appsv1.Deployment, rs *appsv1.ReplicaSet, toAdd, added int32) int32 {
	cur := replicas(rs.Spec.Replicas)
	if cur == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	share := fraction(d, rs)
	left := toAdd - added
	if left > 0 {
		return min(share, left)
	}
	return max(share, left)
}

// fraction is how much rs should grow (shrink) for the Deployment's new size, from
// the maximum size it was last sized for.
func fraction(d *appsv1.Deployment, rs *appsv1.ReplicaSet) int32 {
	cur := replicas(rs.Spec.Replicas)
	want := replicas(d.Spec.Replicas)
	if want == 0 {
		return -cur
	}
	newMax := want + maxSurge(d)
	oldMax, ok := intAnnotation(rs.Annotations, MaxReplicasAnnotation)
	if !ok || oldMax == 0 {
		oldMax = d.Status.Replicas
	}
	if oldMax == 0 {
		return 0
	}
	return roundHalfUp(float64(cur)*float64(newMax)/float64(oldMax)) - cur
}

// activeOrLatest returns the only ReplicaSet with pods wanted; if none has, the new
// one or else the newest old one; nil when several have.
func activeOrLatest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(old) == 0 {
		return nil
	}
	live := active(withNew(old, newRS))
	switch len(live) {
	case 0:
		if newRS != nil {
			return newRS
		}
		sorted := append([]*appsv1.ReplicaSet(nil), old...)
		olderFirst(sorted)
		return sorted[len(sorted)-1]
	case 1:
		return live[0]
	}
	return nil
}

// rolling runs one step of a RollingUpdate.
func (dc *Controller) rolling(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := dc.syncVersions(ctx, d, rss, true)
	if err != nil {
		return err
	}
	all := withNew(old, newRS)
	up, err := dc.growNew(ctx, d, all, newRS)
	if err != nil {
		return err
	}
	if up {
		return dc.syncRolloutStatus(ctx, d, all, newRS)
	}
	down, err := dc.shrinkOld(ctx, d, all, active(old), newRS)
	if err != nil {
		return err
	}
	if down {
		return dc.syncRolloutStatus(ctx, d, all, newRS)
	}
	if st := dc.computeStatus(d, all, newRS); complete(d, &st) {
		if err := dc.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return dc.syncRolloutStatus(ctx, d, all, newRS)
}

// growNew scales the new ReplicaSet up as far as the surge allows (or down to the
// wanted size).
func (dc *Controller) growNew(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, error) {
	want := replicas(d.Spec.Replicas)
	cur := replicas(newRS.Spec.Replicas)
	if cur == want {
		return false, nil
	}
	if cur > want {
		_, changed, err := dc.scaleRS(ctx, d, newRS, want)
		return changed, err
	}
	_, changed, err := dc.scaleRS(ctx, d, newRS, newSize(d, all, newRS))
	return changed, err
}

// shrinkOld scales old ReplicaSets down as far as maxUnavailable allows: first the
// replicas that are not available anyway, then available ones.
func (dc *Controller) shrinkOld(ctx context.Context, d *appsv1.Deployment, all, old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, error) {
	if specSum(old) == 0 {
		return false, nil
	}
	want := replicas(d.Spec.Replicas)
	minAvailable := want - maxUnavailable(d)
	newUnavailable := replicas(newRS.Spec.Replicas) - newRS.Status.AvailableReplicas
	budget := specSum(all) - minAvailable - newUnavailable
	if budget <= 0 {
		return false, nil
	}
	sorted := append([]*appsv1.ReplicaSet(nil), old...)
	olderFirst(sorted)
	// Unavailable old replicas cost nothing to remove.
	cleaned := int32(0)
	for _, rs := range sorted {
		if cleaned >= budget {
			break
		}
		cur := replicas(rs.Spec.Replicas)
		if cur == 0 || cur <= rs.Status.AvailableReplicas {
			continue
		}
		n := min(budget-cleaned, cur-rs.Status.AvailableReplicas)
		if _, _, err := dc.scaleRS(ctx, d, rs, cur-n); err != nil {
			return false, err
		}
		cleaned += n
	}
	// Then available ones, keeping minAvailable available.
	availableNow := statusSum(withNew(sorted, newRS), available)
	scaledDown := int32(0)
	if availableNow > minAvailable {
		total := availableNow - minAvailable
		for _, rs := range sorted {
			if scaledDown >= total {
				break
			}
			cur := replicas(rs.Spec.Replicas)
			if cur == 0 {
				continue
			}
			n := min(cur, total-scaledDown)
			if _, _, err := dc.scaleRS(ctx, d, rs, cur-n); err != nil {
				return false, err
			}
			scaledDown += n
		}
	}
	return cleaned+scaledDown > 0, nil
}

// recreate runs one step of a Recreate rollout: every old pod goes first, then the
// new ReplicaSet is created at full size.
func (dc *Controller) recreate(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := dc.syncVersions(ctx, d, rss, false)
	if err != nil {
		return err
	}
	all := withNew(old, newRS)
	scaledDown := false
	for _, rs := range active(old) {
		_, changed, err := dc.scaleRS(ctx, d, rs, 0)
		if err != nil {
			return err
		}
		scaledDown = scaledDown || changed
	}
	if scaledDown || dc.oldPodsRunning(newRS, old) {
		return dc.syncRolloutStatus(ctx, d, all, newRS)
	}
	if newRS == nil {
		if newRS, old, err = dc.syncVersions(ctx, d, rss, true); err != nil {
			return err
		}
		all = withNew(old, newRS)
	}
	if _, _, err := dc.scaleRS(ctx, d, newRS, replicas(d.Spec.Replicas)); err != nil {
		return err
	}
	if st := dc.computeStatus(d, all, newRS); complete(d, &st) {
		if err := dc.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return dc.syncRolloutStatus(ctx, d, all, newRS)
}

// oldPodsRunning: an old ReplicaSet still reports pods, or owns a pod that has not
// finished (a terminating pod still runs until it is gone).
func (dc *Controller) oldPodsRunning(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) bool {
	if statusSum(old, actual) > 0 {
		return true
	}
	for _, rs := range old {
		if newRS != nil && rs.UID == newRS.UID {
			continue
		}
		objs, _ := dc.podIndexer.ByIndex(podutil.ControllerIndex, string(rs.UID))
		for _, o := range objs {
			if p, ok := o.(*corev1.Pod); ok && !podutil.IsFinished(p) {
				return true
			}
		}
	}
	return false
}

// cleanup deletes the oldest old ReplicaSets beyond revisionHistoryLimit, only those
// scaled to zero with no pods left.
func (dc *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) error {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range old {
		if rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	extra := len(alive) - int(*d.Spec.RevisionHistoryLimit)
	if extra <= 0 {
		return nil
	}
	byRevision(alive)
	for _, rs := range alive[:extra] {
		if rs.Status.Replicas != 0 || replicas(rs.Spec.Replicas) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		slog.Debug("deleting old replica set", "ns", rs.Namespace, "replicaset", rs.Name, "deployment", d.Name)
		uid := rs.UID
		err := dc.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !isGone(err) {
			return err
		}
	}
	return nil
}
