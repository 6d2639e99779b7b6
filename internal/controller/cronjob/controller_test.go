package cronjob

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"tug/internal/controller"
)

// t0 is when the test CronJobs were created.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func cronJob(schedule string, opts ...func(*batchv1.CronJob)) *batchv1.CronJob {
	no := false
	three, one := int32(3), int32(1)
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "cj", Namespace: "ns", UID: "cj-uid", CreationTimestamp: metav1.NewTime(t0)},
		Spec: batchv1.CronJobSpec{
			Schedule: schedule, ConcurrencyPolicy: batchv1.AllowConcurrent, Suspend: &no,
			SuccessfulJobsHistoryLimit: &three, FailedJobsHistoryLimit: &one,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
			},
		},
	}
	for _, o := range opts {
		o(cj)
	}
	return cj
}

// ownedJob is a job of cj scheduled at t; done is "", "Complete" or "Failed".
func ownedJob(t time.Time, done batchv1.JobConditionType) *batchv1.Job {
	name := JobName("cj", t)
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(t),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "cj", UID: "cj-uid", Controller: ptr(true)}}}}
	st := metav1.NewTime(t)
	j.Status.StartTime = &st
	if done != "" {
		ct := metav1.NewTime(t.Add(10 * time.Second))
		j.Status.Conditions = []batchv1.JobCondition{{Type: done, Status: corev1.ConditionTrue}}
		if done == batchv1.JobComplete {
			j.Status.CompletionTime = &ct
		}
	}
	return j
}

func ptr[T any](v T) *T { return &v }

type harness struct {
	t   *testing.T
	cs  *fake.Clientset
	clk *clocktesting.FakeClock
	c   *Controller
	rec *record.FakeRecorder
	ctx context.Context
}

func newHarness(t *testing.T, now time.Time, objs ...runtime.Object) *harness {
	t.Helper()
	cs := fake.NewSimpleClientset(objs...)
	cs.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		j := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		j.UID = types.UID("uid-" + j.Name)
		return false, nil, nil
	})
	clk := clocktesting.NewFakeClock(now)
	rec := record.NewFakeRecorder(1000)
	cctx := controller.NewTestContext(cs, clk, controller.Options{}, rec)
	c, err := New(cctx)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cctx.Informers.Start(ctx.Done())
	cctx.Informers.WaitForCacheSync(ctx.Done())
	return &harness{t: t, cs: cs, clk: clk, c: c, rec: rec, ctx: ctx}
}

// sync reconciles once and returns the writes ("create jobs cj-123") and the
// delay the controller asked to be woken after.
func (h *harness) sync() []string {
	h.t.Helper()
	h.cs.ClearActions()
	if err := h.c.reconcile(h.ctx, "ns/cj"); err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, a := range h.cs.Actions() {
		switch a.GetVerb() {
		case "create":
			out = append(out, "create "+a.GetResource().Resource+" "+a.(k8stesting.CreateAction).GetObject().(metav1.Object).GetName())
		case "delete":
			out = append(out, "delete "+a.GetResource().Resource+" "+a.(k8stesting.DeleteAction).GetName())
		}
	}
	sort.Strings(out)
	return out
}

func (h *harness) cronJob() *batchv1.CronJob {
	cj, err := h.cs.BatchV1().CronJobs("ns").Get(h.ctx, "cj", metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return cj
}

func events(r *record.FakeRecorder) string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return strings.Join(out, "\n")
		}
	}
}

func jobName(t time.Time) string { return JobName("cj", t) }

func TestSchedule(t *testing.T) {
	min := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	cases := []struct {
		name    string
		cj      *batchv1.CronJob
		jobs    []runtime.Object
		now     time.Time
		want    []string
		event   string
		active  int
		lastRun time.Time
	}{
		{name: "before the first time", cj: cronJob("*/5 * * * *"), now: min(3), want: nil},
		{name: "at the scheduled time", cj: cronJob("*/5 * * * *"), now: min(5), want: []string{"create jobs " + jobName(min(5))},
			event: "Normal SuccessfulCreate Created job " + jobName(min(5)), active: 1, lastRun: min(5)},
		{name: "a late start runs the most recent time only", cj: cronJob("*/5 * * * *"), now: min(17),
			want: []string{"create jobs " + jobName(min(15))}, active: 1, lastRun: min(15)},
		{name: "already started", cj: cronJob("*/5 * * * *", func(cj *batchv1.CronJob) { cj.Status.LastScheduleTime = ptr(metav1.NewTime(min(5))) }),
			now: min(7), want: nil},
		{name: "too late for the starting deadline", cj: cronJob("*/5 * * * *", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr(int64(60)) }),
			now: min(7), want: nil},
		{name: "within the starting deadline", cj: cronJob("*/5 * * * *", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr(int64(180)) }),
			now: min(7), want: []string{"create jobs " + jobName(min(5))}, active: 1, lastRun: min(5)},
		{name: "many missed times", cj: cronJob("* * * * *"), now: min(300), want: []string{"create jobs " + jobName(min(300))},
			event: "TooManyMissedTimes", active: 1, lastRun: min(300)},
		{name: "suspended", cj: cronJob("* * * * *", func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr(true) }), now: min(2), want: nil},
		{name: "forbid waits for the running job", cj: cronJob("*/5 * * * *", func(cj *batchv1.CronJob) {
			cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent
			cj.Status.LastScheduleTime = ptr(metav1.NewTime(min(5)))
		}), jobs: []runtime.Object{ownedJob(min(5), "")}, now: min(10), want: nil, event: "JobAlreadyActive", active: 1, lastRun: min(5)},
		{name: "replace stops the running job", cj: cronJob("*/5 * * * *", func(cj *batchv1.CronJob) {
			cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent
			cj.Status.LastScheduleTime = ptr(metav1.NewTime(min(5)))
		}), jobs: []runtime.Object{ownedJob(min(5), "")}, now: min(10),
			want: []string{"create jobs " + jobName(min(10)), "delete jobs " + jobName(min(5))}, active: 1, lastRun: min(10)},
		{name: "allow runs them side by side", cj: cronJob("*/5 * * * *", func(cj *batchv1.CronJob) {
			cj.Status.LastScheduleTime = ptr(metav1.NewTime(min(5)))
		}), jobs: []runtime.Object{ownedJob(min(5), "")}, now: min(10), want: []string{"create jobs " + jobName(min(10))}, active: 2, lastRun: min(10)},
		{name: "history limits", cj: cronJob("0 0 1 1 *", func(cj *batchv1.CronJob) { cj.Status.LastScheduleTime = ptr(metav1.NewTime(min(30))) }),
			jobs: []runtime.Object{ownedJob(min(1), "Complete"), ownedJob(min(2), "Complete"), ownedJob(min(3), "Complete"), ownedJob(min(4), "Complete"),
				ownedJob(min(5), "Failed"), ownedJob(min(6), "Failed")},
			now:  min(31),
			want: []string{"delete jobs " + jobName(min(1)), "delete jobs " + jobName(min(5))}, lastRun: min(30)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.now, append([]runtime.Object{c.cj}, c.jobs...)...)
			got := h.sync()
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("writes %v, want %v", got, c.want)
			}
			ev := events(h.rec)
			if c.event != "" && !strings.Contains(ev, c.event) {
				t.Fatalf("events %q lack %q", ev, c.event)
			}
			cj := h.cronJob()
			if len(cj.Status.Active) != c.active {
				t.Fatalf("active %+v, want %d", cj.Status.Active, c.active)
			}
			if !c.lastRun.IsZero() && (cj.Status.LastScheduleTime == nil || !cj.Status.LastScheduleTime.Time.Equal(c.lastRun)) {
				t.Fatalf("lastScheduleTime %v, want %v", cj.Status.LastScheduleTime, c.lastRun)
			}
		})
	}
}

func TestJobFromTemplate(t *testing.T) {
	h := newHarness(t, t0.Add(time.Minute), cronJob("* * * * *", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr("Asia/Tokyo") }))
	h.sync()
	j, err := h.cs.BatchV1().Jobs("ns").Get(h.ctx, jobName(t0.Add(time.Minute)), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := j.Annotations[ScheduledTimestampAnnotation]; got != "2025-03-01T21:01:00+09:00" {
		t.Fatalf("scheduled timestamp %q", got)
	}
	ref := metav1.GetControllerOf(j)
	if ref == nil || ref.UID != "cj-uid" || ref.Kind != "CronJob" || !*ref.BlockOwnerDeletion || j.Labels["app"] != "x" {
		t.Fatalf("job meta %+v", j.ObjectMeta)
	}
	if want := fmt.Sprintf("cj-%d", t0.Add(time.Minute).Unix()/60); j.Name != want {
		t.Fatalf("name %s, want %s", j.Name, want)
	}
}

func TestTimeZone(t *testing.T) {
	// 09:00 in Tokyo is 00:00 UTC.
	daily := func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr("Asia/Tokyo") }
	start := time.Date(2025, 3, 1, 23, 59, 0, 0, time.UTC)
	cj := cronJob("0 9 * * *", daily)
	cj.CreationTimestamp = metav1.NewTime(start)
	h := newHarness(t, start, cj)
	if got := h.sync(); len(got) != 0 {
		t.Fatalf("writes %v before 09:00 Tokyo", got)
	}
	h.clk.SetTime(start.Add(time.Minute))
	if got := h.sync(); len(got) != 1 || got[0] != "create jobs "+jobName(start.Add(time.Minute)) {
		t.Fatalf("writes %v at 09:00 Tokyo", got)
	}
}

// The controller wakes up exactly at the next scheduled time.
func TestRequeueAtNextTime(t *testing.T) {
	h := newHarness(t, t0.Add(90*time.Second), cronJob("*/5 * * * *"))
	if h.c.queue.Len() != 0 {
		// the informer's add may have queued the key; drain it
		h.c.queue.Drain(h.ctx, func(context.Context, string) error { return nil }, 10)
	}
	h.sync()
	if h.c.queue.Len() != 0 {
		t.Fatal("queued at once")
	}
	h.clk.Step(210*time.Second - time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if h.c.queue.Len() != 0 {
		t.Fatal("woken before the scheduled time")
	}
	h.clk.Step(time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for h.c.queue.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if h.c.queue.Len() != 1 {
		t.Fatal("not woken at the scheduled time")
	}
}

func TestActiveFollowsJobs(t *testing.T) {
	j := ownedJob(t0.Add(5*time.Minute), batchv1.JobComplete)
	cj := cronJob("0 0 1 1 *", func(cj *batchv1.CronJob) {
		cj.Status.Active = []corev1.ObjectReference{jobRef(j), {Kind: "Job", Namespace: "ns", Name: "gone", UID: "gone-uid"}}
	})
	h := newHarness(t, t0.Add(6*time.Minute), cj, j)
	h.sync()
	got := h.cronJob()
	if len(got.Status.Active) != 0 {
		t.Fatalf("active %+v", got.Status.Active)
	}
	if got.Status.LastSuccessfulTime == nil || !got.Status.LastSuccessfulTime.Time.Equal(t0.Add(5*time.Minute+10*time.Second)) {
		t.Fatalf("lastSuccessfulTime %v", got.Status.LastSuccessfulTime)
	}
	ev := events(h.rec)
	if !strings.Contains(ev, "SawCompletedJob") || !strings.Contains(ev, "MissingJob") {
		t.Fatalf("events %q", ev)
	}
}

// A job made a moment ago may not be in the cache yet; it stays active.
func TestActiveJobNotYetCached(t *testing.T) {
	j := ownedJob(t0.Add(5*time.Minute), "")
	cj := cronJob("0 0 1 1 *", func(cj *batchv1.CronJob) { cj.Status.Active = []corev1.ObjectReference{jobRef(j)} })
	h := newHarness(t, t0.Add(6*time.Minute), cj, j)
	s := &syncer{c: h.c, cj: cj, st: *cj.Status.DeepCopy(), now: h.clk.Now()} // no jobs seen in the cache
	if err := s.syncActive(h.ctx); err != nil {
		t.Fatal(err)
	}
	if len(s.st.Active) != 1 || s.st.Active[0].UID != j.UID {
		t.Fatalf("active %+v", s.st.Active)
	}
	if ev := events(h.rec); strings.Contains(ev, "MissingJob") {
		t.Fatalf("events %q", ev)
	}
}
