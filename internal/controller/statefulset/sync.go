package statefulset

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"tug/internal/controller/history"
	"tug/internal/controller/podutil"
)

// Labels every pod of a set carries besides its template's.
const (
	podNameLabel  = appsv1.StatefulSetPodNameLabel // statefulset.kubernetes.io/pod-name
	podIndexLabel = appsv1.PodIndexLabel           // apps.kubernetes.io/pod-index
)

// syncer is one reconcile of one set.
type syncer struct {
	c   *Controller
	set *appsv1.StatefulSet
	now time.Time

	revs            []*appsv1.ControllerRevision
	current, update *appsv1.ControllerRevision
	collisionCount  int32
	// requeue asks for another look after this long (a pod becoming available).
	requeue time.Duration
}

// ordinalOf returns the ordinal in a pod name <set>-<n>, or -1 for other names.
func ordinalOf(set *appsv1.StatefulSet, pod *corev1.Pod) int {
	rest, ok := strings.CutPrefix(pod.Name, set.Name+"-")
	if !ok || rest == "" || (len(rest) > 1 && rest[0] == '0') {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

func replicasOf(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

func revisionOf(pod *corev1.Pod) string { return pod.Labels[history.HashLabel] }

// healthy is what ordered creation and updates wait for: running, ready for
// minReadySeconds, and not being deleted.
func (s *syncer) healthy(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
		return false
	}
	if !podutil.IsAvailable(pod, s.set.Spec.MinReadySeconds, s.now) {
		s.requeue = requeueAt(s.requeue, podutil.AvailableIn(pod, s.set.Spec.MinReadySeconds, s.now))
		return false
	}
	return true
}

// revisions finds or creates the revision of the current template (the update
// revision) and the revision the set was at before (the current revision).
func (s *syncer) revisions(ctx context.Context, _ labels.Selector) error {
	revs, err := history.Owned(s.c.revs, s.set, labels.Everything())
	if err != nil {
		return err
	}
	data, err := history.TemplatePatch(&s.set.Spec.Template)
	if err != nil {
		return err
	}
	if s.set.Status.CollisionCount != nil {
		s.collisionCount = *s.set.Status.CollisionCount
	}
	s.update, s.revs, err = history.Client{Client: s.c.client}.Sync(ctx, revs, s.set, kind, s.set.Spec.Template.Labels, data, &s.collisionCount)
	if err != nil {
		return fmt.Errorf("statefulset %s/%s: revision: %w", s.set.Namespace, s.set.Name, err)
	}
	s.current = s.update
	for _, r := range s.revs {
		if r.Name == s.set.Status.CurrentRevision {
			s.current = r
		}
	}
	return nil
}

// run makes one step towards the desired pods. Ordered sets take one step at a time
// and wait for each pod to be healthy; parallel sets act on every pod at once.
func (s *syncer) run(ctx context.Context, pods []*corev1.Pod) error {
	set := s.set
	start, n := startOrdinal(set), replicasOf(set)
	members := make([]*corev1.Pod, n)
	var condemned []*corev1.Pod
	for _, p := range pods {
		if o := ordinalOf(set, p); o >= start && o < start+n {
			members[o-start] = p
		} else {
			condemned = append(condemned, p)
		}
	}
	sort.Slice(condemned, func(i, j int) bool { return ordinalOf(set, condemned[i]) > ordinalOf(set, condemned[j]) })
	ordered := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement

	// The first pod (in the order ordered sets go) that is not healthy.
	var firstUnhealthy *corev1.Pod
	for _, p := range append(append([]*corev1.Pod(nil), members...), condemned...) {
		if p != nil && firstUnhealthy == nil && !s.healthy(p) {
			firstUnhealthy = p
		}
	}

	for i, p := range members {
		ord := start + i
		switch {
		case p == nil:
			if err := s.createPod(ctx, ord); err != nil {
				return err
			}
			if ordered {
				return nil
			}
			continue
		case podutil.IsFinished(p) && p.DeletionTimestamp == nil:
			s.c.recorder.Eventf(set, corev1.EventTypeWarning, "RecreatingFailedPod",
				"StatefulSet %s/%s is recreating %s Pod %s", set.Namespace, set.Name, strings.ToLower(string(p.Status.Phase)), p.Name)
			if err := s.deletePod(ctx, p); err != nil {
				return err
			}
			if ordered {
				return nil
			}
			continue
		case p.DeletionTimestamp != nil:
			if ordered {
				return nil
			}
			continue
		}
		if err := s.ensureClaims(ctx, p, false); err != nil {
			return err
		}
		if err := s.ensureIdentity(ctx, p, ord); err != nil {
			return err
		}
		if ordered && !s.healthy(p) {
			return nil
		}
	}

	for _, p := range condemned {
		if p.DeletionTimestamp != nil {
			if ordered {
				return nil
			}
			continue
		}
		if ordered && firstUnhealthy != nil && firstUnhealthy != p {
			return nil
		}
		if err := s.ensureClaims(ctx, p, true); err != nil {
			return err
		}
		if err := s.deletePod(ctx, p); err != nil {
			return err
		}
		if ordered {
			return nil
		}
	}

	if set.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return nil
	}
	// Roll from the highest ordinal down to the partition, one pod at a time.
	low := start
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		low = start + int(*ru.Partition)
	}
	for ord := start + n - 1; ord >= low; ord-- {
		p := members[ord-start]
		if p == nil {
			return nil
		}
		if revisionOf(p) != s.update.Name && p.DeletionTimestamp == nil {
			return s.deletePod(ctx, p)
		}
		if !s.healthy(p) {
			return nil
		}
	}
	return nil
}

// revisionFor picks the revision a new pod at ord is made from: below the partition
// pods stay at the current revision, above it they get the update revision.
func (s *syncer) revisionFor(ord int) *appsv1.ControllerRevision {
	us := s.set.Spec.UpdateStrategy
	if us.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return s.update
	}
	limit := startOrdinal(s.set) + int(s.set.Status.CurrentReplicas)
	if us.RollingUpdate != nil && us.RollingUpdate.Partition != nil {
		limit = startOrdinal(s.set) + int(*us.RollingUpdate.Partition)
	}
	if ord < limit {
		return s.current
	}
	return s.update
}

// newPod builds the pod for one ordinal.
func (s *syncer) newPod(ord int) (*corev1.Pod, error) {
	set := s.set
	rev := s.revisionFor(ord)
	tmpl, err := history.Template(rev)
	if err != nil {
		return nil, err
	}
	pod := podutil.FromTemplate(tmpl, set.Namespace, "", podutil.NewControllerRef(set, kind))
	pod.GenerateName = ""
	pod.Name = fmt.Sprintf("%s-%d", set.Name, ord)
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[podNameLabel] = pod.Name
	pod.Labels[podIndexLabel] = strconv.Itoa(ord)
	pod.Labels[history.HashLabel] = rev.Name
	pod.Spec.Hostname = pod.Name
	pod.Spec.Subdomain = set.Spec.ServiceName
	for _, ct := range set.Spec.VolumeClaimTemplates {
		v := corev1.Volume{Name: ct.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName(ct.Name, pod.Name)},
		}}
		replaced := false
		for i := range pod.Spec.Volumes {
			if pod.Spec.Volumes[i].Name == ct.Name {
				pod.Spec.Volumes[i] = v
				replaced = true
			}
		}
		if !replaced {
			pod.Spec.Volumes = append(pod.Spec.Volumes, v)
		}
	}
	return pod, nil
}

func claimName(template, pod string) string { return template + "-" + pod }

func (s *syncer) createPod(ctx context.Context, ord int) error {
	pod, err := s.newPod(ord)
	if err != nil {
		return err
	}
	if err := s.ensureClaims(ctx, pod, false); err != nil {
		return err
	}
	_, err = s.c.client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// Our cache is behind; the pod will show up.
		return nil
	}
	if err != nil {
		s.c.recorder.Eventf(s.set, corev1.EventTypeWarning, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %v", pod.Name, s.set.Name, err)
		return fmt.Errorf("statefulset %s/%s: create pod %s: %w", s.set.Namespace, s.set.Name, pod.Name, err)
	}
	s.c.recorder.Eventf(s.set, corev1.EventTypeNormal, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", pod.Name, s.set.Name)
	return nil
}

func (s *syncer) deletePod(ctx context.Context, pod *corev1.Pod) error {
	uid := pod.UID
	err := s.c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		s.c.recorder.Eventf(s.set, corev1.EventTypeWarning, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %v", pod.Name, s.set.Name, err)
		return fmt.Errorf("statefulset %s/%s: delete pod %s: %w", s.set.Namespace, s.set.Name, pod.Name, err)
	}
	s.c.recorder.Eventf(s.set, corev1.EventTypeNormal, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", pod.Name, s.set.Name)
	return nil
}

// ensureIdentity puts back the identity labels of a member pod if someone removed
// them (the pod-name label is what per-pod Services select on).
func (s *syncer) ensureIdentity(ctx context.Context, pod *corev1.Pod, ord int) error {
	want := map[string]string{podNameLabel: pod.Name, podIndexLabel: strconv.Itoa(ord)}
	ok := true
	for k, v := range want {
		if pod.Labels[k] != v {
			ok = false
		}
	}
	if ok {
		return nil
	}
	patch, _ := json.Marshal(map[string]interface{}{"metadata": map[string]interface{}{"labels": want}})
	_, err := s.c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// ensureClaims creates the pod's missing claims and keeps their ownerReferences in
// line with the retention policy: owned by the set when claims go with it, owned by
// the pod when it is being scaled away and claims go with scale-down.
func (s *syncer) ensureClaims(ctx context.Context, pod *corev1.Pod, condemned bool) error {
	set := s.set
	if len(set.Spec.VolumeClaimTemplates) == 0 {
		return nil
	}
	rp := set.Spec.PersistentVolumeClaimRetentionPolicy
	whenDeleted := rp != nil && rp.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	whenScaled := rp != nil && rp.WhenScaled == appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	for _, ct := range set.Spec.VolumeClaimTemplates {
		name := claimName(ct.Name, pod.Name)
		existing, err := s.c.claims.PersistentVolumeClaims(set.Namespace).Get(name)
		if apierrors.IsNotFound(err) {
			if condemned {
				continue
			}
			claim := s.newClaim(&ct, name)
			claim.OwnerReferences = claimOwners(nil, set, pod, whenDeleted, false)
			_, err := s.c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Create(ctx, claim, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				s.c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Claim %s for Pod %s in StatefulSet %s failed error: %v", name, pod.Name, set.Name, err)
				return fmt.Errorf("statefulset %s/%s: create claim %s: %w", set.Namespace, set.Name, name, err)
			}
			s.c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Claim %s Pod %s in StatefulSet %s success", name, pod.Name, set.Name)
			continue
		}
		if err != nil {
			return err
		}
		want := claimOwners(existing.OwnerReferences, set, pod, whenDeleted, condemned && whenScaled && pod.UID != "")
		if equality.Semantic.DeepEqual(want, existing.OwnerReferences) {
			continue
		}
		cp := existing.DeepCopy()
		cp.OwnerReferences = want
		if _, err := s.c.client.CoreV1().PersistentVolumeClaims(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

func (s *syncer) newClaim(ct *corev1.PersistentVolumeClaim, name string) *corev1.PersistentVolumeClaim {
	l := labels.Merge(ct.Labels, nil)
	if s.set.Spec.Selector != nil {
		l = labels.Merge(l, s.set.Spec.Selector.MatchLabels)
	}
	if len(l) == 0 {
		l = nil
	}
	var ann map[string]string
	if len(ct.Annotations) > 0 {
		ann = labels.Merge(ct.Annotations, nil)
	}
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.set.Namespace, Labels: l, Annotations: ann},
		Spec:       *ct.Spec.DeepCopy(),
	}
}

// claimOwners returns refs with the set's and the pod's references added or removed
// as the retention policy wants; other owners are kept as they are.
func claimOwners(refs []metav1.OwnerReference, set *appsv1.StatefulSet, pod *corev1.Pod, bySet, byPod bool) []metav1.OwnerReference {
	var out []metav1.OwnerReference
	hasSet, hasPod := false, false
	for _, r := range refs {
		switch {
		case r.UID == set.UID:
			if !bySet {
				continue
			}
			hasSet = true
		case r.Kind == "Pod" && r.Name == pod.Name:
			if !byPod || r.UID != pod.UID {
				continue
			}
			hasPod = true
		}
		out = append(out, r)
	}
	if bySet && !hasSet {
		out = append(out, metav1.OwnerReference{APIVersion: kind.GroupVersion().String(), Kind: kind.Kind, Name: set.Name, UID: set.UID})
	}
	if byPod && !hasPod {
		out = append(out, metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID})
	}
	return out
}

// status counts the set's pods.
func (s *syncer) status(pods []*corev1.Pod) appsv1.StatefulSetStatus {
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: s.set.Generation,
		CurrentRevision:    s.current.Name,
		UpdateRevision:     s.update.Name,
		CollisionCount:     &s.collisionCount,
	}
	for _, p := range pods {
		st.Replicas++
		if p.Status.Phase == corev1.PodRunning && podutil.IsReady(p) {
			st.ReadyReplicas++
			if podutil.IsAvailable(p, s.set.Spec.MinReadySeconds, s.now) {
				st.AvailableReplicas++
			} else {
				s.requeue = requeueAt(s.requeue, podutil.AvailableIn(p, s.set.Spec.MinReadySeconds, s.now))
			}
		}
		if p.DeletionTimestamp != nil {
			continue
		}
		switch revisionOf(p) {
		case s.current.Name:
			st.CurrentReplicas++
			if s.current.Name == s.update.Name {
				st.UpdatedReplicas++
			}
		case s.update.Name:
			st.UpdatedReplicas++
		}
	}
	// Every pod at the update revision and ready: the update revision becomes current.
	if st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas {
		st.CurrentRevision = st.UpdateRevision
		st.CurrentReplicas = st.UpdatedReplicas
	}
	return st
}

// truncateHistory deletes revisions beyond revisionHistoryLimit that no pod uses.
func (s *syncer) truncateHistory(ctx context.Context, pods []*corev1.Pod) error {
	live := map[string]bool{}
	if s.current != nil {
		live[s.current.Name] = true
	}
	if s.update != nil {
		live[s.update.Name] = true
	}
	for _, p := range pods {
		live[revisionOf(p)] = true
	}
	limit := int32(10)
	if s.set.Spec.RevisionHistoryLimit != nil {
		limit = *s.set.Spec.RevisionHistoryLimit
	}
	return history.Client{Client: s.c.client}.Truncate(ctx, s.revs, live, limit)
}
