package deployment

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"tug/internal/controller/podutil"
)

// templatesEqual compares pod templates without the hash label, which only the
// ReplicaSet's copy carries.
func templatesEqual(a, b *corev1.PodTemplateSpec) bool {
	a, b = withoutHash(a), withoutHash(b)
	return semantic.DeepEqual(a, b)
}

func withoutHash(t *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
	if _, ok := t.Labels[HashLabel]; !ok {
		return t
	}
	c := t.DeepCopy()
	delete(c.Labels, HashLabel)
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
	return c
}

// templateHash names the version of d's template (with d's collision count).
func templateHash(d *appsv1.Deployment) string {
	return podutil.TemplateHash(withoutHash(&d.Spec.Template), d.Status.CollisionCount)
}

// findNew returns the ReplicaSet that runs d's current template: the oldest one
// with an equal template, so that the answer is stable if there are several.
func findNew(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	sorted := append([]*appsv1.ReplicaSet(nil), rss...)
	olderFirst(sorted)
	for _, rs := range sorted {
		if templatesEqual(&rs.Spec.Template, &d.Spec.Template) {
			return rs
		}
	}
	return nil
}

// versions splits d's ReplicaSets into the new one (nil if none runs the current
// template yet) and the old ones, and returns the revision the new one should have.
func versions(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, int64) {
	newRS := findNew(d, rss)
	var old []*appsv1.ReplicaSet
	var maxOld int64
	for _, rs := range rss {
		if rs == newRS {
			continue
		}
		old = append(old, rs)
		if r := revision(rs.Annotations); r > maxOld {
			maxOld = r
		}
	}
	return newRS, old, maxOld + 1
}

// copyAnnotations hands d's own annotations to rs; it reports whether rs changed.
func copyAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	changed := false
	for k, v := range d.Annotations {
		if notCopied[k] {
			continue
		}
		if cur, ok := rs.Annotations[k]; ok && cur == v {
			continue
		}
		if rs.Annotations == nil {
			rs.Annotations = map[string]string{}
		}
		rs.Annotations[k] = v
		changed = true
	}
	return changed
}

// setRevision gives rs the revision rev if it has an older one, keeping the older
// numbers in the revision history (a rollback reuses a ReplicaSet).
func setRevision(rs *appsv1.ReplicaSet, rev int64) bool {
	cur, hasCur := rs.Annotations[RevisionAnnotation]
	old, _ := strconv.ParseInt(cur, 10, 64)
	if hasCur && old >= rev {
		return false
	}
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	if hasCur && cur != "" {
		if h := rs.Annotations[RevisionHistoryAnnotation]; h != "" {
			rs.Annotations[RevisionHistoryAnnotation] = h + "," + cur
		} else {
			rs.Annotations[RevisionHistoryAnnotation] = cur
		}
	}
	rs.Annotations[RevisionAnnotation] = strconv.FormatInt(rev, 10)
	return true
}

// setReplicaAnnotations records the Deployment size a ReplicaSet was sized for; it
// reports whether anything changed.
func setReplicaAnnotations(rs *appsv1.ReplicaSet, desired, max int32) bool {
	d, m := strconv.Itoa(int(desired)), strconv.Itoa(int(max))
	if rs.Annotations[DesiredReplicasAnnotation] == d && rs.Annotations[MaxReplicasAnnotation] == m {
		return false
	}
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[DesiredReplicasAnnotation] = d
	rs.Annotations[MaxReplicasAnnotation] = m
	return true
}

// syncVersions finds the new ReplicaSet (creating it when create is set), brings its
// annotations and minReadySeconds up to date, and sets d's revision annotation.
func (dc *Controller) syncVersions(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	newRS, old, rev := versions(d, rss)
	if newRS != nil {
		updated, err := dc.refreshNew(ctx, d, newRS, rev)
		if err != nil {
			return nil, nil, err
		}
		if err := dc.setDeploymentRevision(ctx, d, updated.Annotations[RevisionAnnotation]); err != nil {
			return nil, nil, err
		}
		if hasDeadline(d) && getCondition(&d.Status, appsv1.DeploymentProgressing) == nil {
			st := *d.Status.DeepCopy()
			setCondition(&st, condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonFoundNewRS, fmt.Sprintf("Found new replica set %q", updated.Name), dc.clock.Now()))
			if err := dc.writeStatus(ctx, d, st); err != nil {
				return nil, nil, err
			}
		}
		return updated, old, nil
	}
	if !create {
		return nil, old, nil
	}
	created, err := dc.createNew(ctx, d, old, rev)
	if err != nil {
		return nil, nil, err
	}
	return created, old, nil
}

// refreshNew updates the new ReplicaSet's annotations and minReadySeconds.
func (dc *Controller) refreshNew(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, rev int64) (*appsv1.ReplicaSet, error) {
	c := rs.DeepCopy()
	changed := copyAnnotations(d, c)
	changed = setRevision(c, rev) || changed
	if _, ok := c.Annotations[DesiredReplicasAnnotation]; !ok {
		changed = setReplicaAnnotations(c, replicas(d.Spec.Replicas), replicas(d.Spec.Replicas)+maxSurge(d)) || changed
	}
	if c.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
		c.Spec.MinReadySeconds = d.Spec.MinReadySeconds
		changed = true
	}
	if !changed {
		return rs, nil
	}
	return dc.client.AppsV1().ReplicaSets(c.Namespace).Update(ctx, c, metav1.UpdateOptions{})
}

// setDeploymentRevision writes the revision annotation on d (in place).
func (dc *Controller) setDeploymentRevision(ctx context.Context, d *appsv1.Deployment, rev string) error {
	if rev == "" || d.Annotations[RevisionAnnotation] == rev {
		return nil
	}
	c := d.DeepCopy()
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[RevisionAnnotation] = rev
	out, err := dc.client.AppsV1().Deployments(c.Namespace).Update(ctx, c, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	*d = *out
	return nil
}

// createNew makes the ReplicaSet for d's current template, sized for the strategy.
func (dc *Controller) createNew(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet, rev int64) (*appsv1.ReplicaSet, error) {
	hash := templateHash(d)
	tmpl := d.Spec.Template.DeepCopy()
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[HashLabel] = hash
	sel := d.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[HashLabel] = hash
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			Labels:          tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{*podutil.NewControllerRef(d, deploymentKind)},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        new(int32),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        *tmpl,
		},
	}
	copyAnnotations(d, rs)
	setRevision(rs, rev)
	want := replicas(d.Spec.Replicas)
	setReplicaAnnotations(rs, want, want+maxSurge(d))
	size := newSize(d, withNew(old, rs), rs)
	rs.Spec.Replicas = &size

	created, err := dc.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		// Ours already, and the cache is behind? Then use it.
		existing, gerr := dc.client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, gerr
		}
		if podutil.IsControlledBy(existing, d.UID) && templatesEqual(&existing.Spec.Template, &d.Spec.Template) {
			return existing, dc.setDeploymentRevision(ctx, d, existing.Annotations[RevisionAnnotation])
		}
		// A different template hashed to the same name: try another hash.
		c := d.DeepCopy()
		n := int32(1)
		if c.Status.CollisionCount != nil {
			n = *c.Status.CollisionCount + 1
		}
		c.Status.CollisionCount = &n
		if _, uerr := dc.client.AppsV1().Deployments(c.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{}); uerr != nil {
			return nil, uerr
		}
		return nil, fmt.Errorf("replica set name %s is taken by another template; collision count is now %d", rs.Name, n)
	case err != nil:
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
			dc.recorder.Event(d, corev1.EventTypeWarning, reasonCreateError, msg)
			c := d.DeepCopy()
			setCondition(&c.Status, condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, reasonCreateError, msg, dc.clock.Now()))
			if _, uerr := dc.client.AppsV1().Deployments(c.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{}); uerr == nil {
				*d = *c
			}
		}
		return nil, err
	}
	if size > 0 {
		dc.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, size)
	}
	if err := dc.setDeploymentRevision(ctx, d, created.Annotations[RevisionAnnotation]); err != nil {
		return created, err
	}
	c := d.DeepCopy()
	setCondition(&c.Status, condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSCreated, fmt.Sprintf("Created new replica set %q", created.Name), dc.clock.Now()))
	out, err := dc.client.AppsV1().Deployments(c.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{})
	if err != nil {
		return created, err
	}
	*d = *out
	return created, nil
}
