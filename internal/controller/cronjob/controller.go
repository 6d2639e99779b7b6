// Package cronjob runs CronJobs: at every time the schedule names (in the CronJob's
// time zone) it creates a Job <cronjob>-<scheduled time in minutes since the epoch>,
// as the concurrency policy allows and unless the time is older than
// startingDeadlineSeconds, keeps status.active and the last schedule and success
// times, and deletes finished jobs beyond the history limits. It wakes up exactly at
// the next scheduled time through the work queue; it never polls.
package cronjob

import (
	"context"
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"tug/internal/controller"
	"tug/internal/controller/loop"
	"tug/internal/controller/podutil"
	"tug/internal/registry"
)

var kind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// ScheduledTimestampAnnotation records on each Job the time it was scheduled for.
const ScheduledTimestampAnnotation = batchv1.CronJobScheduledTimestampAnnotation

// maxMissed is how many missed times are tolerated quietly; beyond it an event
// suggests setting startingDeadlineSeconds.
const maxMissed = 100

func init() {
	controller.Register("cronjob", func(c *controller.Context) (controller.Runner, error) {
		return New(c)
	})
}

// Controller reconciles CronJobs.
type Controller struct {
	client   kubernetes.Interface
	clock    clock.PassiveClock
	cronJobs batchlisters.CronJobLister
	jobs     cache.Indexer // with podutil.ControllerIndex
	synced   []cache.InformerSynced
	queue    *loop.Queue
	recorder record.EventRecorder
	workers  int
}

// New wires the controller to the shared informers.
func New(c *controller.Context) (*Controller, error) {
	cjInf := c.Informers.Batch().V1().CronJobs()
	jobInf := c.Informers.Batch().V1().Jobs()
	if err := podutil.AddControllerIndex(jobInf.Informer()); err != nil {
		return nil, err
	}
	ctl := &Controller{
		client:   c.Client,
		clock:    c.Clock,
		cronJobs: cjInf.Lister(),
		jobs:     jobInf.Informer().GetIndexer(),
		synced:   []cache.InformerSynced{cjInf.Informer().HasSynced, jobInf.Informer().HasSynced},
		queue:    loop.New("cronjob", c.Clock),
		recorder: c.Recorder("cronjob-controller"),
		workers:  c.Options.Workers,
	}
	cjInf.Informer().AddEventHandler(ctl.queue.Handler())
	owner := func(obj interface{}) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		j, ok := obj.(*batchv1.Job)
		if !ok {
			return
		}
		if ref := metav1.GetControllerOfNoCopy(j); ref != nil && ref.Kind == kind.Kind && ref.APIVersion == kind.GroupVersion().String() {
			ctl.queue.Add(j.Namespace + "/" + ref.Name)
		}
	}
	jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    owner,
		UpdateFunc: func(_, cur interface{}) { owner(cur) },
		DeleteFunc: owner,
	})
	return ctl, nil
}

// Run implements controller.Runner.
func (c *Controller) Run(ctx context.Context) {
	c.queue.Run(ctx, c.workers, c.reconcile, c.synced...)
}

func jobFinished(j *batchv1.Job) (batchv1.JobConditionType, bool) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type, true
		}
	}
	return "", false
}

// JobName is the name of the job for a scheduled time.
func JobName(cronJob string, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cronJob, scheduled.Unix()/60)
}

func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cj, err := c.cronJobs.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cj.DeletionTimestamp != nil {
		return nil
	}
	jobs := podutil.OwnedOrOrphan[*batchv1.Job](c.jobs, ns, cj.UID)
	owned := jobs[:0:0]
	for _, j := range jobs {
		if podutil.IsControlledBy(j, cj.UID) {
			owned = append(owned, j)
		}
	}
	s := &syncer{c: c, cj: cj, st: *cj.Status.DeepCopy(), jobs: owned, now: c.clock.Now()}
	syncErr := s.run(ctx)
	if err := c.writeStatus(ctx, cj, s.st); err != nil {
		return err
	}
	if syncErr != nil {
		return syncErr
	}
	if s.requeue > 0 {
		c.queue.AddAfter(key, s.requeue)
	}
	return nil
}

func (c *Controller) writeStatus(ctx context.Context, cj *batchv1.CronJob, st batchv1.CronJobStatus) error {
	if equality.Semantic.DeepEqual(cj.Status, st) {
		return nil
	}
	cp := cj.DeepCopy()
	cp.Status = st
	_, err := c.client.BatchV1().CronJobs(cp.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cronjob %s/%s: update status: %w", cj.Namespace, cj.Name, err)
	}
	return nil
}

// syncer is one reconcile of one CronJob.
type syncer struct {
	c       *Controller
	cj      *batchv1.CronJob
	st      batchv1.CronJobStatus
	jobs    []*batchv1.Job
	now     time.Time
	requeue time.Duration
}

func (s *syncer) run(ctx context.Context) error {
	if err := s.syncActive(ctx); err != nil {
		return err
	}
	if err := s.cleanHistory(ctx); err != nil {
		return err
	}
	cj := s.cj
	sched, err := registry.ParseSchedule(cj.Spec.Schedule)
	if err != nil {
		s.c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return nil
	}
	loc := time.Local
	if cj.Spec.TimeZone != nil {
		if loc, err = time.LoadLocation(*cj.Spec.TimeZone); err != nil {
			s.c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", *cj.Spec.TimeZone, err)
			return nil
		}
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return nil
	}
	scheduled, missed := s.lastMissed(sched, loc)
	if next := sched.Next(s.now.In(loc)); !next.IsZero() {
		s.requeue = next.Sub(s.now)
	}
	if missed > maxMissed {
		s.c.recorder.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)
	}
	if scheduled.IsZero() {
		return nil
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && scheduled.Add(time.Duration(*d)*time.Second).Before(s.now) {
		s.c.recorder.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", scheduled.UTC().Format(time.RFC1123Z))
		return nil
	}
	name := JobName(cj.Name, scheduled)
	for _, j := range s.jobs {
		if j.Name == name {
			// Already started (the status write may have been lost).
			s.noteScheduled(scheduled)
			return nil
		}
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(s.st.Active) > 0 {
			s.c.recorder.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
			return nil
		}
	case batchv1.ReplaceConcurrent:
		for _, ref := range s.st.Active {
			if err := s.deleteJob(ctx, ref.Name, ref.UID); err != nil {
				return err
			}
		}
		s.st.Active = nil
	}
	job := newJob(cj, name, scheduled.In(loc))
	created, err := s.c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, job, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		existing, gerr := s.c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if !podutil.IsControlledBy(existing, cj.UID) {
			s.c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %s already exists and belongs to something else", name)
			return nil
		}
		created = existing
	case err != nil:
		s.c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return fmt.Errorf("cronjob %s/%s: create job %s: %w", cj.Namespace, cj.Name, name, err)
	default:
		s.c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %s", created.Name)
	}
	s.addActive(created)
	s.noteScheduled(scheduled)
	return nil
}

func (s *syncer) noteScheduled(t time.Time) {
	if s.st.LastScheduleTime == nil || s.st.LastScheduleTime.Time.Before(t) {
		mt := metav1.NewTime(t)
		s.st.LastScheduleTime = &mt
	}
}

// lastMissed returns the most recent scheduled time not yet acted on (zero if none)
// and how many there were since the last one acted on.
func (s *syncer) lastMissed(sched registry.Schedule, loc *time.Location) (time.Time, int) {
	from := s.cj.CreationTimestamp.Time
	if s.st.LastScheduleTime != nil {
		from = s.st.LastScheduleTime.Time
	}
	if d := s.cj.Spec.StartingDeadlineSeconds; d != nil {
		if earliest := s.now.Add(-time.Duration(*d) * time.Second); earliest.After(from) {
			from = earliest
		}
	}
	var last time.Time
	n := 0
	for t := sched.Next(from.In(loc)); !t.IsZero() && !t.After(s.now); t = sched.Next(t) {
		last = t
		n++
		if n > 1_000_000 {
			break
		}
	}
	return last, n
}

// syncActive keeps status.active in line with the jobs: finished or vanished jobs
// leave it, running jobs of this CronJob that it lacks join it.
func (s *syncer) syncActive(ctx context.Context) error {
	cj := s.cj
	byUID := map[string]*batchv1.Job{}
	for _, j := range s.jobs {
		byUID[string(j.UID)] = j
	}
	var active []corev1.ObjectReference
	listed := map[string]bool{}
	for _, ref := range s.st.Active {
		j, ok := byUID[string(ref.UID)]
		if !ok {
			// The cache may not show a job made a moment ago: ask the API server.
			fresh, err := s.c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			switch {
			case err == nil && fresh.UID == ref.UID:
				j = fresh
				s.jobs = append(s.jobs, fresh)
				byUID[string(fresh.UID)] = fresh
			case err == nil || apierrors.IsNotFound(err):
				s.c.recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", ref.Name)
				continue
			default:
				return err
			}
		}
		listed[string(ref.UID)] = true
		if ct, done := jobFinished(j); done {
			s.c.recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, ct)
			continue
		}
		active = append(active, ref)
	}
	for _, j := range s.jobs {
		if _, done := jobFinished(j); !done && !listed[string(j.UID)] && j.DeletionTimestamp == nil {
			active = append(active, jobRef(j))
		}
	}
	sort.Slice(active, func(i, k int) bool { return active[i].Name < active[k].Name })
	s.st.Active = active
	for _, j := range s.jobs {
		if ct, done := jobFinished(j); done && ct == batchv1.JobComplete && j.Status.CompletionTime != nil {
			if s.st.LastSuccessfulTime == nil || s.st.LastSuccessfulTime.Before(j.Status.CompletionTime) {
				t := *j.Status.CompletionTime
				s.st.LastSuccessfulTime = &t
			}
		}
	}
	return nil
}

func jobRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Job", APIVersion: batchv1.SchemeGroupVersion.String(), Namespace: j.Namespace, Name: j.Name, UID: j.UID, ResourceVersion: j.ResourceVersion}
}

func (s *syncer) addActive(j *batchv1.Job) {
	for _, r := range s.st.Active {
		if r.UID == j.UID {
			return
		}
	}
	s.st.Active = append(s.st.Active, jobRef(j))
}

// cleanHistory deletes the oldest finished jobs beyond the history limits.
func (s *syncer) cleanHistory(ctx context.Context) error {
	var ok, failed []*batchv1.Job
	for _, j := range s.jobs {
		if j.DeletionTimestamp != nil {
			continue
		}
		switch ct, done := jobFinished(j); {
		case !done:
		case ct == batchv1.JobComplete:
			ok = append(ok, j)
		default:
			failed = append(failed, j)
		}
	}
	limit := func(p *int32, def int32) int {
		if p == nil {
			return int(def)
		}
		return int(*p)
	}
	for _, g := range []struct {
		jobs  []*batchv1.Job
		limit int
	}{{ok, limit(s.cj.Spec.SuccessfulJobsHistoryLimit, 3)}, {failed, limit(s.cj.Spec.FailedJobsHistoryLimit, 1)}} {
		sort.Slice(g.jobs, func(i, k int) bool { return startOf(g.jobs[i]).Before(startOf(g.jobs[k])) })
		for i := 0; i < len(g.jobs)-g.limit; i++ {
			if err := s.deleteJob(ctx, g.jobs[i].Name, g.jobs[i].UID); err != nil {
				return err
			}
		}
	}
	return nil
}

func startOf(j *batchv1.Job) time.Time {
	if j.Status.StartTime != nil {
		return j.Status.StartTime.Time
	}
	return j.CreationTimestamp.Time
}

func (s *syncer) deleteJob(ctx context.Context, name string, u types.UID) error {
	bg := metav1.DeletePropagationBackground
	err := s.c.client.BatchV1().Jobs(s.cj.Namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &u}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		s.c.recorder.Eventf(s.cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return fmt.Errorf("cronjob %s/%s: delete job %s: %w", s.cj.Namespace, s.cj.Name, name, err)
	}
	s.c.recorder.Eventf(s.cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %s", name)
	return nil
}

// newJob is the job for one scheduled time.
func newJob(cj *batchv1.CronJob, name string, scheduled time.Time) *batchv1.Job {
	t := cj.Spec.JobTemplate
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       cj.Namespace,
			Labels:          copyMap(t.Labels),
			Annotations:     copyMap(t.Annotations),
			OwnerReferences: []metav1.OwnerReference{*podutil.NewControllerRef(cj, kind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	if j.Annotations == nil {
		j.Annotations = map[string]string{}
	}
	j.Annotations[ScheduledTimestampAnnotation] = scheduled.Format(time.RFC3339)
	return j
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
