package job

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"tug/internal/controller/podutil"
)

// Reasons and messages of the job conditions.
const (
	reasonBackoffLimit   = "BackoffLimitExceeded"
	reasonDeadline       = "DeadlineExceeded"
	reasonPodFailurePol  = "PodFailurePolicy"
	reasonCompletions    = "CompletionsReached"
	messageBackoffLimit  = "Job has reached the specified backoff limit"
	messageDeadline      = "Job was active longer than specified deadline"
	messageCompletions   = "Reached expected number of succeeded pods"
	messageFailedIndexes = "Job has failed indexes"
	messageMaxFailed     = "Job has exceeded the specified maximal number of failed indexes"
	maxCreatesPerSync    = 500
	backoffBase          = 10 * time.Second
	backoffCap           = 6 * time.Minute
)

// syncer is one reconcile of one job.
type syncer struct {
	c      *Controller
	key    string
	job    *batchv1.Job // the newest version this reconcile knows (after its own writes)
	pods   []*corev1.Pod
	now    time.Time
	mayAct bool

	// failJob is set when a pod matched a FailJob rule of the pod failure policy.
	failJob string
	requeue time.Duration
	// events about the job's state wait until the state is written.
	events []event
}

type event struct{ kind, reason, message string }

func (s *syncer) eventAfterWrite(kind, reason, message string) {
	s.events = append(s.events, event{kind, reason, message})
}

func (s *syncer) after(d time.Duration) {
	if d > 0 && (s.requeue == 0 || d < s.requeue) {
		s.requeue = d
	}
}

func condition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if job.Status.Conditions[i].Type == t && job.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

func finished(job *batchv1.Job) bool {
	return condition(job, batchv1.JobComplete) != nil || condition(job, batchv1.JobFailed) != nil
}

// finishTime is when a finished job got its terminal condition.
func finishTime(job *batchv1.Job) (time.Time, bool) {
	for _, t := range []batchv1.JobConditionType{batchv1.JobComplete, batchv1.JobFailed} {
		if c := condition(job, t); c != nil {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

func suspended(job *batchv1.Job) bool { return job.Spec.Suspend != nil && *job.Spec.Suspend }

func onlyFailedReplaced(job *batchv1.Job) bool {
	return job.Spec.PodReplacementPolicy != nil && *job.Spec.PodReplacementPolicy == batchv1.Failed
}

// setCondition adds or updates a condition; it reports whether anything changed.
func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) bool {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status == status && c.Reason == reason && c.Message == message {
			return false
		}
		if c.Status != status {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = status, reason, message, metav1.NewTime(now)
		return true
	}
	st.Conditions = append(st.Conditions, batchv1.JobCondition{Type: t, Status: status, Reason: reason, Message: message,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)})
	return true
}

// writeStatus sends st when it differs from what the job has.
func (s *syncer) writeStatus(ctx context.Context, st batchv1.JobStatus) error {
	if equality.Semantic.DeepEqual(s.job.Status, st) {
		return nil
	}
	cp := s.job.DeepCopy()
	cp.Status = st
	updated, err := s.c.client.BatchV1().Jobs(cp.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("job %s: update status: %w", s.key, err)
	}
	s.job = updated
	for _, e := range s.events {
		s.c.recorder.Event(updated, e.kind, e.reason, e.message)
	}
	s.events = nil
	return nil
}

func (s *syncer) run(ctx context.Context) error {
	if err := s.track(ctx); err != nil {
		return err
	}
	return s.manage(ctx)
}

// track counts finished pods exactly once (see the package comment).
func (s *syncer) track(ctx context.Context) error {
	job := s.job
	indexed := isIndexed(job)
	completions := 0
	if job.Spec.Completions != nil {
		completions = int(*job.Spec.Completions)
	}
	st := *job.Status.DeepCopy()
	if st.UncountedTerminatedPods == nil {
		st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	unc := st.UncountedTerminatedPods
	inUncounted := map[types.UID]bool{}
	for _, u := range unc.Succeeded {
		inUncounted[u] = true
	}
	for _, u := range unc.Failed {
		inUncounted[u] = true
	}
	completed := parseIndexes(st.CompletedIndexes, completions)
	perIndex := indexed && job.Spec.BackoffLimitPerIndex != nil
	var failedIdx indexSet
	if perIndex {
		failedIdx = parseIndexes(deref(st.FailedIndexes), completions)
	}
	failing := condition(job, batchv1.JobFailureTarget) != nil
	succeeding := condition(job, batchv1.JobSuccessCriteriaMet) != nil

	var newSucceeded, newFailed int
	var lastFailure time.Time
	var release []*corev1.Pod // finalizer goes without counting
	for _, p := range s.pods {
		if !hasFinalizer(p) || s.c.released.has(s.key, p.UID) || inUncounted[p.UID] {
			continue
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			if indexed {
				ix := podIndex(p, completions)
				if ix < 0 || completed[ix] {
					release = append(release, p)
					continue
				}
				completed[ix] = true
			}
			unc.Succeeded = append(unc.Succeeded, p.UID)
			newSucceeded++
		case p.Status.Phase == corev1.PodFailed:
			action, msg := matchFailurePolicy(job, p)
			switch action {
			case batchv1.PodFailurePolicyActionIgnore:
				release = append(release, p)
				continue
			case batchv1.PodFailurePolicyActionFailJob:
				if s.failJob == "" {
					s.failJob = msg
				}
			}
			if perIndex {
				// An index that failed more often than its own limit (or that a
				// FailIndex rule matched) is given up.
				if ix := podIndex(p, completions); ix >= 0 && (action == batchv1.PodFailurePolicyActionFailIndex ||
					indexFailures(p)+1 > int(*job.Spec.BackoffLimitPerIndex)) {
					failedIdx[ix] = true
				}
			}
			unc.Failed = append(unc.Failed, p.UID)
			newFailed++
			lastFailure = latest(lastFailure, podFinishedAt(p, s.now))
		case p.DeletionTimestamp != nil:
			// Being deleted before it finished: a failure, unless this controller
			// deleted it on purpose.
			if !failing && (succeeding || suspended(job) || s.c.quiet.has(s.key, p.UID)) {
				release = append(release, p)
				continue
			}
			unc.Failed = append(unc.Failed, p.UID)
			newFailed++
			lastFailure = latest(lastFailure, s.now)
		}
	}
	if perIndex {
		fs := failedIdx.String()
		st.FailedIndexes = &fs
	}
	if newSucceeded+newFailed > 0 {
		if indexed {
			st.CompletedIndexes = completed.String()
		}
		if err := s.writeStatus(ctx, st); err != nil {
			return err
		}
		s.c.backoffs.observe(s.key, newSucceeded, newFailed, lastFailure)
		st = *s.job.Status.DeepCopy()
		unc = st.UncountedTerminatedPods
	}

	// Release every pod whose UID is recorded, and those not to be counted.
	recorded := map[types.UID]bool{}
	for _, u := range unc.Succeeded {
		recorded[u] = true
	}
	for _, u := range unc.Failed {
		recorded[u] = true
	}
	present := map[types.UID]*corev1.Pod{}
	for _, p := range s.pods {
		present[p.UID] = p
		if recorded[p.UID] && hasFinalizer(p) && !s.c.released.has(s.key, p.UID) {
			release = append(release, p)
		}
	}
	done, relErr := s.c.removeFinalizers(ctx, s.key, release)

	// Move released UIDs to the counters.
	gone := func(u types.UID) bool {
		p, ok := present[u]
		return !ok || done[u] || !hasFinalizer(p) || s.c.released.has(s.key, u)
	}
	var keepS, keepF []types.UID
	for _, u := range unc.Succeeded {
		if gone(u) {
			st.Succeeded++
		} else {
			keepS = append(keepS, u)
		}
	}
	for _, u := range unc.Failed {
		if gone(u) {
			st.Failed++
		} else {
			keepF = append(keepF, u)
		}
	}
	unc.Succeeded, unc.Failed = keepS, keepF
	if err := s.writeStatus(ctx, st); err != nil {
		return err
	}
	return relErr
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// podFinishedAt is when the last container of a finished pod ended.
func podFinishedAt(p *corev1.Pod, fallback time.Time) time.Time {
	var t time.Time
	for _, cs := range p.Status.ContainerStatuses {
		if term := cs.State.Terminated; term != nil && term.FinishedAt.After(t) {
			t = term.FinishedAt.Time
		}
	}
	if t.IsZero() {
		return fallback
	}
	return t
}

// manage decides the job's state and makes or removes pods.
func (s *syncer) manage(ctx context.Context) error {
	job := s.job
	st := *job.Status.DeepCopy()
	unc := st.UncountedTerminatedPods
	if unc == nil {
		unc = &batchv1.UncountedTerminatedPods{}
	}
	var active, terminating []*corev1.Pod
	var ready int32
	for _, p := range s.pods {
		switch {
		case podutil.IsFinished(p):
		case p.DeletionTimestamp != nil:
			terminating = append(terminating, p)
		default:
			active = append(active, p)
			if podutil.IsReady(p) {
				ready++
			}
		}
	}
	succeeded := int(st.Succeeded) + len(unc.Succeeded)
	failed := int(st.Failed) + len(unc.Failed)
	completions := -1
	if job.Spec.Completions != nil {
		completions = int(*job.Spec.Completions)
	}
	completed := parseIndexes(st.CompletedIndexes, max(completions, 0))
	failedIdx := parseIndexes(deref(st.FailedIndexes), max(completions, 0))

	// Has the job reached its end?
	var target *batchv1.JobCondition
	if c := condition(job, batchv1.JobFailureTarget); c != nil {
		target = c
	} else if c := condition(job, batchv1.JobSuccessCriteriaMet); c != nil {
		target = c
	} else {
		reason, message := "", ""
		maxFailed := job.Spec.MaxFailedIndexes
		switch {
		case s.failJob != "":
			reason, message = reasonPodFailurePol, s.failJob
		case maxFailed != nil && len(failedIdx) > int(*maxFailed):
			reason, message = batchv1.JobReasonMaxFailedIndexesExceeded, messageMaxFailed
		case failed > int(backoffLimit(job)) || restartsExceeded(job, active):
			reason, message = reasonBackoffLimit, messageBackoffLimit
		case deadlinePassed(job, s.now):
			reason, message = reasonDeadline, messageDeadline
		case len(failedIdx) > 0 && len(failedIdx)+len(completed) >= max(completions, 0) && len(active) == 0:
			reason, message = batchv1.JobReasonFailedIndexes, messageFailedIndexes
		}
		if reason != "" {
			setCondition(&st, batchv1.JobFailureTarget, corev1.ConditionTrue, reason, message, s.now)
		} else if rule, ok := successPolicyMet(job, completed, succeeded); ok {
			setCondition(&st, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonSuccessPolicy, fmt.Sprintf("Matched rules at index %d", rule), s.now)
		} else if len(failedIdx) == 0 && successReached(job, succeeded, completed, len(active)) {
			setCondition(&st, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, reasonCompletions, messageCompletions, s.now)
		}
		for _, t := range []batchv1.JobConditionType{batchv1.JobFailureTarget, batchv1.JobSuccessCriteriaMet} {
			for i := range st.Conditions {
				if st.Conditions[i].Type == t && st.Conditions[i].Status == corev1.ConditionTrue {
					target = &st.Conditions[i]
				}
			}
		}
	}

	var toDelete []*corev1.Pod
	var toCreate []int // completion indexes, or -1s
	switch {
	case target != nil:
		toDelete = active
		if len(active) == 0 && len(terminating) == 0 && len(unc.Succeeded) == 0 && len(unc.Failed) == 0 {
			s.finish(&st, target)
		}
	case suspended(job):
		toDelete = active
		if setCondition(&st, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", s.now) {
			s.eventAfterWrite(corev1.EventTypeNormal, "Suspended", "Job suspended")
		}
		st.StartTime = nil
	default:
		if c := condition(job, batchv1.JobSuspended); c != nil {
			setCondition(&st, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", s.now)
			s.eventAfterWrite(corev1.EventTypeNormal, "Resumed", "Job resumed")
			st.StartTime = nil
		}
		if st.StartTime == nil {
			t := metav1.NewTime(s.now)
			st.StartTime = &t
		}
		if d := job.Spec.ActiveDeadlineSeconds; d != nil {
			s.after(st.StartTime.Add(time.Duration(*d) * time.Second).Sub(s.now))
		}
		if isIndexed(job) {
			toCreate, toDelete = s.planIndexed(active, terminating, completed, failedIdx, max(completions, 0))
		} else {
			toCreate, toDelete = s.planCounted(active, terminating, succeeded, completions)
		}
		if len(toCreate) > 0 {
			if wait := s.c.backoffs.wait(s.key, s.now); wait > 0 {
				toCreate = nil
				s.after(wait)
			}
		}
	}

	if !s.mayAct {
		toCreate, toDelete = nil, nil
	}
	if len(toCreate) > maxCreatesPerSync {
		toCreate = toCreate[:maxCreatesPerSync]
	}
	// Pods this controller stops did not fail (when the job is failing, track
	// counts them as failed all the same).
	s.markQuiet(toDelete)
	created, actErr := s.act(ctx, toCreate, toDelete)

	st.Active = int32(len(active) + created - len(toDelete))
	st.Ready = &ready
	term := int32(len(terminating))
	st.Terminating = &term
	if err := s.writeStatus(ctx, st); err != nil {
		return err
	}
	return actErr
}

func backoffLimit(job *batchv1.Job) int32 {
	if job.Spec.BackoffLimit == nil {
		return 6
	}
	return *job.Spec.BackoffLimit
}

// restartsExceeded: pods that restart in place (OnFailure) fail by restarting; their
// restarts count towards the back-off limit.
func restartsExceeded(job *batchv1.Job, active []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var n int32
	for _, p := range active {
		n += podutil.Restarts(p)
		for _, s := range p.Status.InitContainerStatuses {
			n += s.RestartCount
		}
	}
	return n > 0 && n >= backoffLimit(job)
}

func deadlinePassed(job *batchv1.Job, now time.Time) bool {
	d := job.Spec.ActiveDeadlineSeconds
	if d == nil || job.Status.StartTime == nil || suspended(job) {
		return false
	}
	return !now.Before(job.Status.StartTime.Add(time.Duration(*d) * time.Second))
}

func successReached(job *batchv1.Job, succeeded int, completed indexSet, active int) bool {
	if job.Spec.Completions == nil {
		// A work queue: done once one pod succeeded and the others have ended.
		return succeeded > 0 && active == 0
	}
	n := int(*job.Spec.Completions)
	if isIndexed(job) {
		return len(completed) >= n
	}
	return succeeded >= n
}

// finish turns the interim condition into the terminal one.
func (s *syncer) finish(st *batchv1.JobStatus, target *batchv1.JobCondition) {
	if target.Type == batchv1.JobSuccessCriteriaMet {
		setCondition(st, batchv1.JobComplete, corev1.ConditionTrue, target.Reason, target.Message, s.now)
		t := metav1.NewTime(s.now)
		st.CompletionTime = &t
		s.eventAfterWrite(corev1.EventTypeNormal, "Completed", "Job completed")
		return
	}
	setCondition(st, batchv1.JobFailed, corev1.ConditionTrue, target.Reason, target.Message, s.now)
	s.eventAfterWrite(corev1.EventTypeWarning, target.Reason, target.Message)
}

func (s *syncer) markQuiet(pods []*corev1.Pod) {
	for _, p := range pods {
		s.c.quiet.add(s.key, p.UID)
	}
}

func parallelism(job *batchv1.Job) int {
	if job.Spec.Parallelism == nil {
		return 1
	}
	return int(*job.Spec.Parallelism)
}

// planCounted sizes a NonIndexed job: as many pods as parallelism allows and the
// remaining completions need.
func (s *syncer) planCounted(active, terminating []*corev1.Pod, succeeded, completions int) (create []int, del []*corev1.Pod) {
	want := parallelism(s.job)
	switch {
	case completions >= 0:
		want = min(want, max(completions-succeeded, 0))
	case succeeded > 0:
		// A work queue with a success: let the running pods finish, start no more.
		want = len(active)
	}
	running := len(active)
	if onlyFailedReplaced(s.job) {
		running += len(terminating)
	}
	switch {
	case running > want:
		extra := append([]*corev1.Pod(nil), active...)
		podutil.SortForDeletion(extra)
		del = extra[:min(running-want, len(extra))]
	case running < want:
		for i := 0; i < want-running; i++ {
			create = append(create, -1)
		}
	}
	return create, del
}

// planIndexed gives every index without a success one pod, lowest first, as many
// at a time as parallelism allows; duplicates and pods of finished or unknown
// indexes go.
func (s *syncer) planIndexed(active, terminating []*corev1.Pod, completed, failed indexSet, completions int) (create []int, del []*corev1.Pod) {
	byIndex := map[int][]*corev1.Pod{}
	for _, p := range active {
		ix := podIndex(p, completions)
		if ix < 0 || completed[ix] || failed[ix] {
			del = append(del, p)
			continue
		}
		byIndex[ix] = append(byIndex[ix], p)
	}
	busy := map[int]bool{}
	for ix, ps := range byIndex {
		busy[ix] = true
		if len(ps) > 1 {
			podutil.SortForDeletion(ps)
			del = append(del, ps[:len(ps)-1]...)
		}
	}
	if onlyFailedReplaced(s.job) {
		for _, p := range terminating {
			if ix := podIndex(p, completions); ix >= 0 {
				busy[ix] = true
			}
		}
	}
	want := min(parallelism(s.job), completions-len(completed)-len(failed))
	if n := len(busy); n > want {
		// Parallelism went down: stop the highest indexes.
		var ixs []int
		for ix := range byIndex {
			ixs = append(ixs, ix)
		}
		sort.Sort(sort.Reverse(sort.IntSlice(ixs)))
		for _, ix := range ixs[:min(n-want, len(ixs))] {
			del = append(del, byIndex[ix][len(byIndex[ix])-1])
		}
	} else {
		for ix := 0; ix < completions && len(create) < want-n; ix++ {
			if !completed[ix] && !failed[ix] && !busy[ix] {
				create = append(create, ix)
			}
		}
	}
	return create, del
}

// act deletes and creates pods; it returns how many pods were made.
func (s *syncer) act(ctx context.Context, create []int, del []*corev1.Pod) (int, error) {
	if len(create) == 0 && len(del) == 0 {
		return 0, nil
	}
	job := s.job
	var uids []types.UID
	for _, p := range del {
		uids = append(uids, p.UID)
	}
	s.c.expect.Expect(s.key, len(create), uids)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for _, p := range del {
		wg.Add(1)
		go func(p *corev1.Pod) {
			defer wg.Done()
			err := s.c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
			if err == nil {
				s.c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
				return
			}
			s.c.expect.DeletionObserved(s.key, p.UID)
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				return
			}
			s.c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
			mu.Lock()
			if first == nil {
				first = fmt.Errorf("job %s: delete pod %s: %w", s.key, p.Name, err)
			}
			mu.Unlock()
		}(p)
	}
	made, err := podutil.SlowStartBatch(len(create), 1, func(i int) error {
		pod := newPod(job, create[i])
		if create[i] >= 0 && job.Spec.BackoffLimitPerIndex != nil {
			pod.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(s.indexFailuresSoFar(create[i]))
		}
		created, err := s.c.client.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				s.c.expect.CreationObserved(s.key)
				return nil
			}
			s.c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		s.c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", created.Name)
		return nil
	})
	if missed := len(create) - made; missed > 0 {
		s.c.expect.CreationsObserved(s.key, missed)
	}
	wg.Wait()
	if err != nil {
		return made, fmt.Errorf("job %s: create pods: %w", s.key, err)
	}
	return made, first
}

// backoffs remembers, per job, the failures since the last success and when the
// last one happened; replacements wait 10s, 20s, 40s, ... up to 6 minutes.
type backoffs struct {
	mu sync.Mutex
	m  map[string]*backoffRecord
}

type backoffRecord struct {
	failures int
	last     time.Time
}

func (b *backoffs) observe(key string, succeeded, failed int, last time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.m[key]
	if r == nil {
		r = &backoffRecord{}
		b.m[key] = r
	}
	if succeeded > 0 {
		r.failures = 0
	}
	if failed > 0 {
		r.failures += failed
		r.last = latest(r.last, last)
	}
}

func (b *backoffs) wait(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.m[key]
	if r == nil || r.failures == 0 {
		return 0
	}
	d := backoffBase
	for i := 1; i < r.failures && d < backoffCap; i++ {
		d *= 2
	}
	if d > backoffCap {
		d = backoffCap
	}
	return r.last.Add(d).Sub(now)
}

func (b *backoffs) forget(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, key)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// indexFailures is how many pods of the pod's index failed before it.
func indexFailures(p *corev1.Pod) int {
	n, err := strconv.Atoi(p.Annotations[batchv1.JobIndexFailureCountAnnotation])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// indexFailuresSoFar counts the failed pods of an index, for its next pod.
func (s *syncer) indexFailuresSoFar(ix int) int {
	completions := 0
	if s.job.Spec.Completions != nil {
		completions = int(*s.job.Spec.Completions)
	}
	n := 0
	for _, p := range s.pods {
		if podIndex(p, completions) != ix {
			continue
		}
		c := indexFailures(p)
		if p.Status.Phase == corev1.PodFailed || (p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded) {
			c++
		}
		n = max(n, c)
	}
	return n
}

// successPolicyMet checks the success policy of an Indexed job; it returns the
// index of the first rule met.
func successPolicyMet(job *batchv1.Job, completed indexSet, succeeded int) (int, bool) {
	sp := job.Spec.SuccessPolicy
	if sp == nil || !isIndexed(job) || job.Spec.Completions == nil {
		return 0, false
	}
	n := int(*job.Spec.Completions)
	for i, r := range sp.Rules {
		switch {
		case r.SucceededIndexes != nil:
			want := parseIndexes(*r.SucceededIndexes, n)
			have := 0
			for ix := range want {
				if completed[ix] {
					have++
				}
			}
			if (r.SucceededCount != nil && have >= int(*r.SucceededCount)) || (r.SucceededCount == nil && have == len(want)) {
				return i, true
			}
		case r.SucceededCount != nil:
			if len(completed) >= int(*r.SucceededCount) {
				return i, true
			}
		}
	}
	return 0, false
}
