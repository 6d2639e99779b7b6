package registry

import (
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testJob(mut func(j *batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: testContainers(), RestartPolicy: corev1.RestartPolicyNever,
		}}},
	}
	if mut != nil {
		mut(j)
	}
	return j
}

// A job created as `kubectl create job` sends it gets the defaults and a selector
// made from its uid, and the same labels on its template and on itself.
func TestJobCreateDefaultsAndSelector(t *testing.T) {
	r := mustResource(t, "batch", "v1", "jobs")
	j := testJob(nil)
	checkErrs(t, simulateCreate(t, r, j), "")
	s := j.Spec
	if *s.Completions != 1 || *s.Parallelism != 1 || *s.BackoffLimit != 6 || *s.CompletionMode != batchv1.NonIndexedCompletion ||
		*s.Suspend || *s.PodReplacementPolicy != batchv1.TerminatingOrFailed || s.ManualSelector != nil {
		t.Errorf("defaults: %+v", s)
	}
	uid := string(j.UID)
	wantLabels := map[string]string{JobUIDLabel: uid, JobLegacyUIDLabel: uid, JobNameLabel: "pi", JobLegacyNameLabel: "pi"}
	for k, v := range wantLabels {
		if s.Template.Labels[k] != v || j.Labels[k] != v {
			t.Errorf("label %s: template %q, job %q, want %q", k, s.Template.Labels[k], j.Labels[k], v)
		}
	}
	if len(s.Selector.MatchLabels) != 1 || s.Selector.MatchLabels[JobUIDLabel] != uid {
		t.Errorf("selector %v", s.Selector)
	}
	// Parallelism alone leaves completions unset.
	par := testJob(func(j *batchv1.Job) { j.Spec.Parallelism = extPtr[int32](3) })
	checkErrs(t, simulateCreate(t, r, par), "")
	if par.Spec.Completions != nil || *par.Spec.Parallelism != 3 {
		t.Errorf("completions %v parallelism %v", par.Spec.Completions, *par.Spec.Parallelism)
	}
	// A pod failure policy makes Failed the replacement policy.
	pfp := testJob(func(j *batchv1.Job) {
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
		}}}
	})
	checkErrs(t, simulateCreate(t, r, pfp), "")
	if *pfp.Spec.PodReplacementPolicy != batchv1.Failed || pfp.Spec.PodFailurePolicy.Rules[0].OnPodConditions[0].Status != corev1.ConditionTrue {
		t.Errorf("pod failure policy defaults: %v %+v", *pfp.Spec.PodReplacementPolicy, pfp.Spec.PodFailurePolicy.Rules[0])
	}
}

func TestJobValidation(t *testing.T) {
	r := mustResource(t, "batch", "v1", "jobs")
	cases := []struct {
		name string
		mut  func(j *batchv1.Job)
		want string
	}{
		{"valid", nil, ""},
		{"on failure", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }, ""},
		{"always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			`spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`},
		{"unset restart policy", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" }, "spec.template.spec.restartPolicy"},
		{"user selector without manualSelector", func(j *batchv1.Job) {
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Labels = map[string]string{"app": "pi"}
		}, "spec.selector: Invalid value"},
		{"manual selector", func(j *batchv1.Job) {
			j.Spec.ManualSelector = extPtr(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Labels = map[string]string{"app": "pi"}
		}, ""},
		{"manual selector mismatch", func(j *batchv1.Job) {
			j.Spec.ManualSelector = extPtr(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		}, "`selector` does not match template `labels`"},
		{"manual without selector", func(j *batchv1.Job) { j.Spec.ManualSelector = extPtr(true) }, "spec.selector: Required value"},
		{"wrong uid label", func(j *batchv1.Job) { j.Spec.Template.Labels = map[string]string{JobUIDLabel: "other"} },
			"spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Invalid value: \"other\""},
		{"negative parallelism", func(j *batchv1.Job) { j.Spec.Parallelism = extPtr[int32](-1) }, "spec.parallelism: Invalid value: -1"},
		{"negative backoff", func(j *batchv1.Job) { j.Spec.BackoffLimit = extPtr[int32](-1) }, "spec.backoffLimit"},
		{"indexed without completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = extPtr(batchv1.IndexedCompletion)
			j.Spec.Parallelism = extPtr[int32](2)
		}, "spec.completions: Required value"},
		{"bad mode", func(j *batchv1.Job) { j.Spec.CompletionMode = extPtr(batchv1.CompletionMode("Sometimes")) }, "spec.completionMode: Unsupported value"},
		{"per index needs indexed", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = extPtr[int32](1) }, "spec.backoffLimitPerIndex: Forbidden"},
		{"replacement with failure policy", func(j *batchv1.Job) {
			j.Spec.PodReplacementPolicy = extPtr(batchv1.TerminatingOrFailed)
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}},
			}}}
		}, "spec.podReplacementPolicy: Unsupported value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkErrs(t, simulateCreate(t, r, testJob(c.mut)), c.want) })
	}
}

func TestJobUpdate(t *testing.T) {
	r := mustResource(t, "batch", "v1", "jobs")
	created := func(mut func(j *batchv1.Job)) *batchv1.Job {
		j := testJob(mut)
		checkErrs(t, simulateCreate(t, r, j), "")
		return j
	}
	cases := []struct {
		name string
		old  func(j *batchv1.Job)
		mut  func(j *batchv1.Job)
		want string
	}{
		{"suspend", nil, func(j *batchv1.Job) { j.Spec.Suspend = extPtr(true) }, ""},
		{"parallelism", nil, func(j *batchv1.Job) { j.Spec.Parallelism = extPtr[int32](4) }, ""},
		{"image", nil, func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl" }, "spec.template: Invalid value"},
		{"selector", nil, func(j *batchv1.Job) { j.Spec.Selector.MatchLabels["x"] = "y" }, "spec.selector: Invalid value"},
		{"completions", nil, func(j *batchv1.Job) { j.Spec.Completions = extPtr[int32](3) }, "spec.completions: Invalid value: 3: field is immutable"},
		{"suspended node selector", func(j *batchv1.Job) { j.Spec.Suspend = extPtr(true) },
			func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"} }, ""},
		{"suspended image", func(j *batchv1.Job) { j.Spec.Suspend = extPtr(true) },
			func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl" }, "spec.template: Invalid value"},
		{"elastic indexed", func(j *batchv1.Job) {
			j.Spec.CompletionMode = extPtr(batchv1.IndexedCompletion)
			j.Spec.Completions, j.Spec.Parallelism = extPtr[int32](2), extPtr[int32](2)
		}, func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = extPtr[int32](5), extPtr[int32](5) }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := created(c.old)
			n := old.DeepCopy()
			c.mut(n)
			checkErrs(t, simulateUpdate(t, r, n, old), c.want)
		})
	}
	// A suspended job that has started may not move its pods.
	old := created(func(j *batchv1.Job) { j.Spec.Suspend = extPtr(true) })
	old.Status.StartTime = &metav1.Time{Time: time.Now()}
	n := old.DeepCopy()
	n.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"}
	checkErrs(t, simulateUpdate(t, r, n, old), "spec.template: Invalid value")
}

func TestJobRow(t *testing.T) {
	r := mustResource(t, "batch", "v1", "jobs")
	start := metav1.NewTime(time.Now().Add(-90 * time.Second))
	done := metav1.NewTime(start.Add(12 * time.Second))
	cond := func(ty batchv1.JobConditionType) []batchv1.JobCondition {
		return []batchv1.JobCondition{{Type: ty, Status: corev1.ConditionTrue}}
	}
	cases := []struct {
		name                    string
		mut                     func(j *batchv1.Job)
		status, completions, du string
	}{
		{"new", nil, "Running", "0/1", ""},
		{"running", func(j *batchv1.Job) { j.Status.StartTime = &start }, "Running", "0/1", "90s"},
		{"complete", func(j *batchv1.Job) {
			j.Status = batchv1.JobStatus{StartTime: &start, CompletionTime: &done, Succeeded: 1, Conditions: cond(batchv1.JobComplete)}
		}, "Complete", "1/1", "12s"},
		{"failed", func(j *batchv1.Job) { j.Status.Conditions = cond(batchv1.JobFailed) }, "Failed", "0/1", ""},
		{"suspended", func(j *batchv1.Job) { j.Status.Conditions = cond(batchv1.JobSuspended) }, "Suspended", "0/1", ""},
		{"terminating", func(j *batchv1.Job) { j.DeletionTimestamp = &start }, "Terminating", "0/1", ""},
		{"work queue", func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = nil, extPtr[int32](3) }, "Running", "0/1 of 3", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := testJob(nil)
			checkErrs(t, simulateCreate(t, r, j), "")
			if c.mut != nil {
				c.mut(j)
			}
			cells := cellsOf(t, r, j)
			if cells[1] != c.status || cells[2] != c.completions || cells[3] != c.du {
				t.Errorf("status/completions/duration = %v/%v/%v, want %v/%v/%v", cells[1], cells[2], cells[3], c.status, c.completions, c.du)
			}
			if cells[7] != "batch.kubernetes.io/controller-uid="+string(j.UID) {
				t.Errorf("selector cell %v", cells[7])
			}
		})
	}
}

func testCronJob(mut func(cj *batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: testContainers(), RestartPolicy: corev1.RestartPolicyOnFailure,
			}}}},
		},
	}
	if mut != nil {
		mut(cj)
	}
	return cj
}

func TestCronJob(t *testing.T) {
	r := mustResource(t, "batch", "v1", "cronjobs")
	cj := testCronJob(nil)
	checkErrs(t, simulateCreate(t, r, cj), "")
	s := cj.Spec
	if s.ConcurrencyPolicy != batchv1.AllowConcurrent || *s.Suspend || *s.SuccessfulJobsHistoryLimit != 3 || *s.FailedJobsHistoryLimit != 1 {
		t.Errorf("defaults %+v", s)
	}
	if s.JobTemplate.Spec.Completions != nil || s.JobTemplate.Spec.BackoffLimit != nil {
		t.Errorf("job template got job defaults: %+v", s.JobTemplate.Spec)
	}
	if s.JobTemplate.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("pod template not defaulted")
	}
	cases := []struct {
		name string
		mut  func(cj *batchv1.CronJob)
		want string
	}{
		{"hourly", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "@hourly" }, ""},
		{"names", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "0 9 * jan-mar MON-FRI" }, ""},
		{"time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = extPtr("Europe/Paris") }, ""},
		{"no schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "" }, "spec.schedule: Required value"},
		{"bad schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "* * *" }, "spec.schedule: Invalid value: \"* * *\""},
		{"out of range", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "61 * * * *" }, "spec.schedule: Invalid value"},
		{"TZ in schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 0 * * * *" }, "cannot use TZ or CRON_TZ in schedule"},
		{"unknown zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = extPtr("Mars/Olympus") }, "spec.timeZone: Invalid value: \"Mars/Olympus\""},
		{"local zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = extPtr("Local") }, "spec.timeZone: Invalid value"},
		{"policy", func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = "Sometimes" }, "spec.concurrencyPolicy: Unsupported value"},
		{"long name", func(cj *batchv1.CronJob) { cj.Name = "a23456789012345678901234567890123456789012345678901234" }, "metadata.name: Invalid value"},
		{"selector", func(cj *batchv1.CronJob) { cj.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{} }, "spec.jobTemplate.spec.selector: Invalid value"},
		{"restart always", func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		},
			"spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value"},
		{"negative history", func(cj *batchv1.CronJob) { cj.Spec.FailedJobsHistoryLimit = extPtr[int32](-1) }, "spec.failedJobsHistoryLimit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkErrs(t, simulateCreate(t, r, testCronJob(c.mut)), c.want) })
	}
	last := metav1.NewTime(time.Now().Add(-3 * time.Minute))
	cj.Status = batchv1.CronJobStatus{LastScheduleTime: &last, Active: []corev1.ObjectReference{{Name: "tick-1"}}}
	want := []interface{}{"tick", "*/5 * * * *", "<none>", "False", int64(1), "3m", "<unknown>", "web", "nginx", "<none>"}
	if cells := cellsOf(t, r, cj); !slices.Equal(cells, want) {
		t.Errorf("row %v, want %v", cells, want)
	}
}

// ParseSchedule and Next, checked against hand-computed activations.
func TestParseScheduleNext(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	cases := []struct {
		spec, from, want string
	}{
		{"* * * * *", "2024-05-01 10:00", "2024-05-01 10:01"},
		{"*/15 * * * *", "2024-05-01 10:07", "2024-05-01 10:15"},
		{"0 * * * *", "2024-05-01 10:00", "2024-05-01 11:00"},
		{"30 2 * * *", "2024-05-01 10:00", "2024-05-02 02:30"},
		{"0 0 1 * *", "2024-05-15 00:00", "2024-06-01 00:00"},
		{"0 0 31 * *", "2024-04-01 00:00", "2024-05-31 00:00"},
		{"0 0 29 2 *", "2023-03-01 00:00", "2024-02-29 00:00"},
		{"0 9 * * mon-fri", "2024-05-03 10:00", "2024-05-06 09:00"}, // Friday -> Monday
		{"0 0 13 * 5", "2024-09-01 00:00", "2024-09-06 00:00"},      // day of month OR Friday
		{"0 0 ? * SUN", "2024-05-01 00:00", "2024-05-05 00:00"},
		{"5-10/5 1 * * *", "2024-05-01 01:06", "2024-05-01 01:10"},
		{"10/20 * * * *", "2024-05-01 01:31", "2024-05-01 01:50"},
		{"0 0 1,15 * *", "2024-05-02 00:00", "2024-05-15 00:00"},
		{"@hourly", "2024-05-01 10:30", "2024-05-01 11:00"},
		{"@daily", "2024-05-01 10:30", "2024-05-02 00:00"},
		{"@midnight", "2024-05-01 10:30", "2024-05-02 00:00"},
		{"@weekly", "2024-05-01 10:30", "2024-05-05 00:00"},
		{"@monthly", "2024-05-01 10:30", "2024-06-01 00:00"},
		{"@yearly", "2024-05-01 10:30", "2025-01-01 00:00"},
		{"@annually", "2024-05-01 10:30", "2025-01-01 00:00"},
		{"@every 90m", "2024-05-01 10:30", "2024-05-01 12:00"},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			s, err := ParseSchedule(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(utc(c.from)); !got.Equal(utc(c.want)) {
				t.Errorf("Next(%s) = %s, want %s", c.from, got.Format("2006-01-02 15:04"), c.want)
			}
		})
	}
	for _, bad := range []string{"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 7",
		"*/0 * * * *", "5-1 * * * *", "x * * * *", "@often", "@every -1m", "@every soon"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
	// Next works in the location of its argument.
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := ParseSchedule("0 9 * * *")
	got := s.Next(time.Date(2024, 3, 9, 12, 0, 0, 0, ny)) // the day before daylight saving starts
	if want := time.Date(2024, 3, 10, 9, 0, 0, 0, ny); !got.Equal(want) {
		t.Errorf("New York Next = %v, want %v", got, want)
	}
	// 02:30 does not exist on that day in New York; the search skips to the next day.
	s, _ = ParseSchedule("30 2 * * *")
	got = s.Next(time.Date(2024, 3, 10, 0, 0, 0, 0, ny))
	if want := time.Date(2024, 3, 11, 2, 30, 0, 0, ny); !got.Equal(want) {
		t.Errorf("gap Next = %v, want %v", got, want)
	}
	// A date that never comes gives the zero time.
	s, _ = ParseSchedule("0 0 30 2 *")
	if got := s.Next(utc("2024-01-01 00:00")); !got.IsZero() {
		t.Errorf("Feb 30 Next = %v, want zero", got)
	}
}
