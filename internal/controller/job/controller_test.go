package job

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"tug/internal/controller"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t   *testing.T
	cs  *fake.Clientset
	clk *clocktesting.FakeClock
	c   *Controller
	ttl *TTL
	rec *record.FakeRecorder
	ctx context.Context
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	cs := fake.NewSimpleClientset(objs...)
	var n atomic.Int32
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s%d", p.GenerateName, n.Add(1))
			p.UID = types.UID("uid-" + p.Name)
		}
		return false, nil, nil
	})
	clk := clocktesting.NewFakeClock(t0)
	rec := record.NewFakeRecorder(1000)
	cctx := controller.NewTestContext(cs, clk, controller.Options{}, rec)
	c, err := New(cctx)
	if err != nil {
		t.Fatal(err)
	}
	ttl := NewTTL(cctx)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cctx.Informers.Start(ctx.Done())
	cctx.Informers.WaitForCacheSync(ctx.Done())
	return &harness{t: t, cs: cs, clk: clk, c: c, ttl: ttl, rec: rec, ctx: ctx}
}

// sync reconciles ns/j until it stops writing (at most a few rounds), waiting for
// the informers between rounds; it returns the writes of all rounds.
func (h *harness) sync() []string {
	h.t.Helper()
	var all []string
	for round := 0; round < 5; round++ {
		h.settle()
		h.cs.ClearActions()
		if err := h.c.reconcile(h.ctx, "ns/j"); err != nil {
			h.t.Fatalf("reconcile: %v", err)
		}
		w := writes(h.cs.Actions())
		if len(w) == 0 {
			break
		}
		all = append(all, w...)
	}
	h.settle()
	return all
}

func writes(actions []k8stesting.Action) []string {
	var out []string
	for _, a := range actions {
		switch a.GetVerb() {
		case "get", "list", "watch":
			continue
		}
		res := a.GetResource().Resource
		if a.GetSubresource() != "" {
			res += "/" + a.GetSubresource()
		}
		out = append(out, a.GetVerb()+" "+res)
	}
	return out
}

// settle waits until the informer caches hold what the fake API holds.
func (h *harness) settle() {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		pods, _ := h.cs.CoreV1().Pods("ns").List(h.ctx, metav1.ListOptions{})
		ok := len(pods.Items) == len(h.c.pods.List())
		for i := range pods.Items {
			o, exists, _ := h.c.pods.GetByKey("ns/" + pods.Items[i].Name)
			if !exists || !equality.Semantic.DeepEqual(o, &pods.Items[i]) {
				ok = false
			}
		}
		j, err := h.cs.BatchV1().Jobs("ns").Get(h.ctx, "j", metav1.GetOptions{})
		cj, cerr := h.c.jobs.Jobs("ns").Get("j")
		if (err == nil) != (cerr == nil) || (err == nil && !equality.Semantic.DeepEqual(j, cj)) {
			ok = false
		}
		if ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatal("informer caches did not catch up")
}

func (h *harness) job() *batchv1.Job {
	h.t.Helper()
	j, err := h.cs.BatchV1().Jobs("ns").Get(h.ctx, "j", metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

func (h *harness) pods() []corev1.Pod {
	l, _ := h.cs.CoreV1().Pods("ns").List(h.ctx, metav1.ListOptions{})
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items
}

// finish ends a pod as a node agent would: phase and container exit code.
func (h *harness) finish(name string, code int32) {
	h.t.Helper()
	p, err := h.cs.CoreV1().Pods("ns").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	p.Status.Phase = corev1.PodSucceeded
	if code != 0 {
		p.Status.Phase = corev1.PodFailed
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, FinishedAt: metav1.NewTime(h.clk.Now())}}}}
	if _, err := h.cs.CoreV1().Pods("ns").UpdateStatus(h.ctx, p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// active names the pods neither finished nor being deleted.
func active(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil {
			out = append(out, p.Name)
		}
	}
	return out
}

func newJob(completions, parallelism int32, opts ...func(*batchv1.Job)) *batchv1.Job {
	six := int32(6)
	nonIndexed := batchv1.NonIndexedCompletion
	no := false
	policy := batchv1.TerminatingOrFailed
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns", UID: "job-uid"},
		Spec: batchv1.JobSpec{
			Completions: &completions, Parallelism: &parallelism, BackoffLimit: &six,
			CompletionMode: &nonIndexed, Suspend: &no, PodReplacementPolicy: &policy,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: "job-uid"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{batchv1.ControllerUidLabel: "job-uid", batchv1.JobNameLabel: "j"}},
				Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

func hasCondition(j *batchv1.Job, t batchv1.JobConditionType, reason string) bool {
	c := condition(j, t)
	return c != nil && c.Reason == reason
}

func TestCompletesAfterCompletions(t *testing.T) {
	h := newHarness(t, newJob(2, 1))
	h.sync()
	pods := h.pods()
	if len(pods) != 1 {
		t.Fatalf("%d pods, want 1 (parallelism 1)", len(pods))
	}
	p := pods[0]
	if !hasFinalizer(&p) || metav1.GetControllerOf(&p) == nil || metav1.GetControllerOf(&p).UID != "job-uid" || p.Labels[batchv1.JobNameLabel] != "j" {
		t.Fatalf("pod meta %+v", p.ObjectMeta)
	}
	if j := h.job(); j.Status.StartTime == nil || j.Status.Active != 1 {
		t.Fatalf("status after start %+v", j.Status)
	}
	h.finish(p.Name, 0)
	h.sync()
	if j := h.job(); j.Status.Succeeded != 1 || j.Status.Active != 1 || finished(j) {
		t.Fatalf("status after one success %+v", j.Status)
	}
	if got := h.pods(); len(got) != 2 || hasFinalizer(&got[0]) {
		t.Fatalf("pods %d (first keeps finalizer: %v)", len(got), hasFinalizer(&got[0]))
	}
	h.finish(h.pods()[1].Name, 0)
	h.clk.Step(5 * time.Second)
	h.sync()
	j := h.job()
	if !hasCondition(j, batchv1.JobSuccessCriteriaMet, reasonCompletions) || !hasCondition(j, batchv1.JobComplete, reasonCompletions) {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	if j.Status.Succeeded != 2 || j.Status.Active != 0 || j.Status.CompletionTime == nil || !j.Status.CompletionTime.Time.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("status %+v", j.Status)
	}
	if u := j.Status.UncountedTerminatedPods; u != nil && (len(u.Succeeded) > 0 || len(u.Failed) > 0) {
		t.Fatalf("uncounted left: %+v", u)
	}
	for _, p := range h.pods() {
		if hasFinalizer(&p) {
			t.Fatalf("pod %s keeps the tracking finalizer", p.Name)
		}
	}
	if !strings.Contains(strings.Join(drain(h.rec), "\n"), "Normal Completed Job completed") {
		t.Fatal("no Completed event")
	}
}

func drain(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestParallelism(t *testing.T) {
	h := newHarness(t, newJob(5, 2))
	h.sync()
	if got := active(h.pods()); len(got) != 2 {
		t.Fatalf("active %v, want 2", got)
	}
	// Lower parallelism: one pod goes.
	j := h.job()
	one := int32(1)
	j.Spec.Parallelism = &one
	if _, err := h.cs.BatchV1().Jobs("ns").Update(h.ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if w := h.sync(); !contains(w, "delete pods") {
		t.Fatalf("writes %v, want a delete", w)
	}
	if j := h.job(); j.Status.Failed != 0 {
		t.Fatalf("a pod removed for parallelism counted as failed: %+v", j.Status)
	}
}

func contains(ws []string, w string) bool {
	for _, x := range ws {
		if x == w {
			return true
		}
	}
	return false
}

func TestBackoffLimit(t *testing.T) {
	h := newHarness(t, newJob(1, 1, func(j *batchv1.Job) { one := int32(1); j.Spec.BackoffLimit = &one }))
	h.sync()
	h.finish(h.pods()[0].Name, 1)
	h.sync()
	if j := h.job(); j.Status.Failed != 1 || finished(j) || len(active(h.pods())) != 0 {
		t.Fatalf("after the first failure: %+v, active %v", j.Status, active(h.pods()))
	}
	// The replacement waits 10s.
	h.clk.Step(9 * time.Second)
	if h.sync(); len(active(h.pods())) != 0 {
		t.Fatal("replacement made before its back-off")
	}
	h.clk.Step(2 * time.Second)
	h.sync()
	a := active(h.pods())
	if len(a) != 1 {
		t.Fatalf("active %v after the back-off", a)
	}
	h.finish(a[0], 2)
	h.sync()
	j := h.job()
	if j.Status.Failed != 2 || !hasCondition(j, batchv1.JobFailureTarget, reasonBackoffLimit) || !hasCondition(j, batchv1.JobFailed, reasonBackoffLimit) {
		t.Fatalf("status %+v", j.Status)
	}
	if c := condition(j, batchv1.JobFailed); c.Message != messageBackoffLimit || j.Status.CompletionTime != nil {
		t.Fatalf("failed condition %+v, completionTime %v", c, j.Status.CompletionTime)
	}
	if len(h.pods()) != 2 {
		t.Fatalf("%d pods; failed pods stay for their logs", len(h.pods()))
	}
}

func TestBackoffDelays(t *testing.T) {
	b := &backoffs{m: map[string]*backoffRecord{}}
	cases := []struct {
		failures int
		want     time.Duration
	}{{1, 10 * time.Second}, {2, 20 * time.Second}, {3, 40 * time.Second}, {6, 320 * time.Second}, {7, 6 * time.Minute}, {20, 6 * time.Minute}}
	for _, c := range cases {
		b.m["k"] = &backoffRecord{failures: c.failures, last: t0}
		if got := b.wait("k", t0); got != c.want {
			t.Errorf("%d failures: wait %s, want %s", c.failures, got, c.want)
		}
	}
	b.observe("k", 1, 0, t0)
	if got := b.wait("k", t0); got != 0 {
		t.Errorf("after a success: wait %s", got)
	}
}

func TestActiveDeadline(t *testing.T) {
	h := newHarness(t, newJob(1, 1, func(j *batchv1.Job) { d := int64(30); j.Spec.ActiveDeadlineSeconds = &d }))
	h.sync()
	h.clk.Step(31 * time.Second)
	h.sync()
	j := h.job()
	if !hasCondition(j, batchv1.JobFailureTarget, reasonDeadline) || !hasCondition(j, batchv1.JobFailed, reasonDeadline) {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	if len(active(h.pods())) != 0 {
		t.Fatalf("active pods left: %v", active(h.pods()))
	}
}

func TestIndexed(t *testing.T) {
	h := newHarness(t, newJob(3, 2, func(j *batchv1.Job) { m := batchv1.IndexedCompletion; j.Spec.CompletionMode = &m }))
	h.sync()
	pods := h.pods()
	if len(pods) != 2 {
		t.Fatalf("%d pods", len(pods))
	}
	seen := map[string]string{}
	for _, p := range pods {
		ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
		seen[ix] = p.Name
		if p.Labels[batchv1.JobCompletionIndexAnnotation] != ix || p.Spec.Hostname != "j-"+ix || !strings.HasPrefix(p.Name, "j-"+ix+"-") {
			t.Fatalf("pod %s: index %q, labels %v, hostname %q", p.Name, ix, p.Labels, p.Spec.Hostname)
		}
		env := p.Spec.Containers[0].Env
		if len(env) != 1 || env[0].Name != completionIndexEnv || env[0].ValueFrom == nil || !strings.Contains(env[0].ValueFrom.FieldRef.FieldPath, batchv1.JobCompletionIndexAnnotation) {
			t.Fatalf("env %+v", env)
		}
	}
	if seen["0"] == "" || seen["1"] == "" {
		t.Fatalf("indexes %v, want 0 and 1 first", seen)
	}
	h.finish(seen["1"], 0)
	h.sync()
	j := h.job()
	if j.Status.CompletedIndexes != "1" || j.Status.Succeeded != 1 {
		t.Fatalf("status %+v", j.Status)
	}
	var idx []string
	for _, p := range h.pods() {
		if p.Status.Phase == "" {
			idx = append(idx, p.Annotations[batchv1.JobCompletionIndexAnnotation])
		}
	}
	sort.Strings(idx)
	if strings.Join(idx, ",") != "0,2" {
		t.Fatalf("running indexes %v, want 0,2", idx)
	}
	for _, p := range h.pods() {
		if p.Status.Phase == "" {
			h.finish(p.Name, 0)
		}
	}
	h.sync()
	j = h.job()
	if j.Status.CompletedIndexes != "0-2" || j.Status.Succeeded != 3 || !hasCondition(j, batchv1.JobComplete, reasonCompletions) {
		t.Fatalf("status %+v", j.Status)
	}
}

func TestSuspendAndResume(t *testing.T) {
	yes := true
	h := newHarness(t, newJob(1, 1, func(j *batchv1.Job) { j.Spec.Suspend = &yes }))
	h.sync()
	j := h.job()
	if len(h.pods()) != 0 || !hasCondition(j, batchv1.JobSuspended, "JobSuspended") || j.Status.StartTime != nil {
		t.Fatalf("suspended job: %d pods, status %+v", len(h.pods()), j.Status)
	}
	no := false
	j.Spec.Suspend = &no
	if _, err := h.cs.BatchV1().Jobs("ns").Update(h.ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.clk.Step(time.Minute)
	h.sync()
	j = h.job()
	c := findCondition(j, batchv1.JobSuspended)
	if len(active(h.pods())) != 1 || c == nil || c.Status != corev1.ConditionFalse || c.Reason != "JobResumed" || !j.Status.StartTime.Time.Equal(t0.Add(time.Minute)) {
		t.Fatalf("resumed: %d pods, status %+v", len(h.pods()), j.Status)
	}
	events := strings.Join(drain(h.rec), "\n")
	if !strings.Contains(events, "Normal Suspended Job suspended") || !strings.Contains(events, "Normal Resumed Job resumed") {
		t.Fatalf("events:\n%s", events)
	}
}

func findCondition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == t {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

// A restart between any two steps of counting neither loses a pod nor counts it
// twice.
func TestTrackingResumesAfterAnyStep(t *testing.T) {
	finishedPod := func(withFinalizer bool) *corev1.Pod {
		p := newPod(newJob(1, 1), -1)
		p.Name, p.UID = "j-done", "uid-done"
		p.Status.Phase = corev1.PodSucceeded
		if !withFinalizer {
			p.Finalizers = nil
		}
		return p
	}
	cases := []struct {
		name          string
		uncounted     []types.UID
		succeeded     int32
		withFinalizer bool
		podGone       bool
	}{
		{"not yet recorded", nil, 0, true, false},
		{"recorded, finalizer still there", []types.UID{"uid-done"}, 0, true, false},
		{"recorded, finalizer removed", []types.UID{"uid-done"}, 0, false, false},
		{"recorded, pod already gone", []types.UID{"uid-done"}, 0, false, true},
		{"already counted", nil, 1, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := newJob(1, 1)
			j.Status.Succeeded = c.succeeded
			j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: c.uncounted}
			objs := []runtime.Object{j}
			if !c.podGone {
				objs = append(objs, finishedPod(c.withFinalizer))
			}
			h := newHarness(t, objs...)
			h.sync()
			got := h.job()
			if got.Status.Succeeded != 1 || len(got.Status.UncountedTerminatedPods.Succeeded) != 0 || !finished(got) {
				t.Fatalf("status %+v", got.Status)
			}
			for _, p := range h.pods() {
				if hasFinalizer(&p) {
					t.Fatal("finalizer left")
				}
			}
			if n := len(h.pods()); n > 1 {
				t.Fatalf("%d pods: a counted success was run again", n)
			}
		})
	}
}

func TestPodFailurePolicy(t *testing.T) {
	h := newHarness(t, newJob(1, 1, func(j *batchv1.Job) {
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
			{Action: batchv1.PodFailurePolicyActionIgnore, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3}}},
			{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
		}}
	}))
	h.sync()
	h.finish(h.pods()[0].Name, 3) // ignored: not counted, replaced at once
	h.sync()
	if j := h.job(); j.Status.Failed != 0 || len(active(h.pods())) != 1 {
		t.Fatalf("ignored failure: %+v, active %v", j.Status, active(h.pods()))
	}
	h.finish(active(h.pods())[0], 42)
	h.sync()
	j := h.job()
	c := condition(j, batchv1.JobFailed)
	if c == nil || c.Reason != reasonPodFailurePol || !strings.Contains(c.Message, "exit code 42 matching FailJob rule at index 1") {
		t.Fatalf("failed condition %+v", c)
	}
}

func TestOrphanPodsReleased(t *testing.T) {
	p := newPod(newJob(1, 1), -1)
	p.Name, p.UID = "j-x", "uid-x"
	h := newHarness(t, p)
	h.settle()
	if err := h.c.reconcile(h.ctx, "ns/j"); err != nil {
		t.Fatal(err)
	}
	got, _ := h.cs.CoreV1().Pods("ns").Get(h.ctx, "j-x", metav1.GetOptions{})
	if hasFinalizer(got) {
		t.Fatal("the pod of a deleted job keeps its tracking finalizer")
	}
}

func TestTTLAfterFinished(t *testing.T) {
	j := newJob(1, 1, func(j *batchv1.Job) { ttl := int32(60); j.Spec.TTLSecondsAfterFinished = &ttl })
	j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}
	h := newHarness(t, j)
	var policy *metav1.DeletionPropagation
	h.cs.PrependReactor("delete", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		policy = a.(k8stesting.DeleteAction).GetDeleteOptions().PropagationPolicy
		return false, nil, nil
	})
	h.clk.Step(30 * time.Second)
	if err := h.ttl.reconcile(h.ctx, "ns/j"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cs.BatchV1().Jobs("ns").Get(h.ctx, "j", metav1.GetOptions{}); err != nil {
		t.Fatal("deleted before its TTL")
	}
	h.clk.Step(31 * time.Second)
	if err := h.ttl.reconcile(h.ctx, "ns/j"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cs.BatchV1().Jobs("ns").Get(h.ctx, "j", metav1.GetOptions{}); err == nil {
		t.Fatal("not deleted after its TTL")
	}
	if policy == nil || *policy != metav1.DeletePropagationForeground {
		t.Fatalf("propagation %v, want Foreground", policy)
	}
}

func TestIndexSet(t *testing.T) {
	cases := []struct{ in, out string }{{"", ""}, {"0", "0"}, {"1,3-5,7", "1,3-5,7"}, {"3,1,2", "1-3"}, {"0-1,2", "0-2"}, {"8-12", "8-9"}}
	for _, c := range cases {
		if got := parseIndexes(c.in, 10).String(); got != c.out {
			t.Errorf("%q -> %q, want %q", c.in, got, c.out)
		}
	}
}

func TestBackoffLimitPerIndex(t *testing.T) {
	h := newHarness(t, newJob(3, 3, func(j *batchv1.Job) {
		m := batchv1.IndexedCompletion
		j.Spec.CompletionMode = &m
		one := int32(1)
		j.Spec.BackoffLimitPerIndex = &one
		big := int32(1 << 30)
		j.Spec.BackoffLimit = &big
	}))
	h.sync()
	byIndex := func() map[string][]corev1.Pod {
		m := map[string][]corev1.Pod{}
		for _, p := range h.pods() {
			ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
			m[ix] = append(m[ix], p)
		}
		return m
	}
	// Index 1 fails twice (its limit is one retry); the others succeed.
	h.finish(byIndex()["1"][0].Name, 1)
	h.finish(byIndex()["0"][0].Name, 0)
	h.clk.Step(11 * time.Second)
	h.sync()
	retry := byIndex()["1"]
	if len(retry) != 2 {
		t.Fatalf("index 1 has %d pods, want a retry", len(retry))
	}
	for _, p := range retry {
		if p.Status.Phase == "" && p.Annotations[batchv1.JobIndexFailureCountAnnotation] != "1" {
			t.Fatalf("retry pod failure count %q", p.Annotations[batchv1.JobIndexFailureCountAnnotation])
		}
	}
	for _, p := range retry {
		if p.Status.Phase == "" {
			h.finish(p.Name, 1)
		}
	}
	h.finish(byIndex()["2"][0].Name, 0)
	h.clk.Step(time.Minute)
	h.sync()
	j := h.job()
	if deref(j.Status.FailedIndexes) != "1" || j.Status.CompletedIndexes != "0,2" {
		t.Fatalf("indexes: failed %q completed %q", deref(j.Status.FailedIndexes), j.Status.CompletedIndexes)
	}
	if !hasCondition(j, batchv1.JobFailed, batchv1.JobReasonFailedIndexes) {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	if n := len(byIndex()["1"]); n != 2 {
		t.Fatalf("index 1 has %d pods after it failed for good", n)
	}
}

func TestSuccessPolicy(t *testing.T) {
	h := newHarness(t, newJob(3, 3, func(j *batchv1.Job) {
		m := batchv1.IndexedCompletion
		j.Spec.CompletionMode = &m
		ix := "0"
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: &ix}}}
	}))
	h.sync()
	for _, p := range h.pods() {
		if p.Annotations[batchv1.JobCompletionIndexAnnotation] == "0" {
			h.finish(p.Name, 0)
		}
	}
	h.sync()
	j := h.job()
	c := condition(j, batchv1.JobSuccessCriteriaMet)
	if c == nil || c.Reason != batchv1.JobReasonSuccessPolicy || c.Message != "Matched rules at index 0" {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	// The other indexes are stopped; the fake API removes them at once.
	if !hasCondition(j, batchv1.JobComplete, batchv1.JobReasonSuccessPolicy) || len(active(h.pods())) != 0 {
		t.Fatalf("status %+v, active %v", j.Status, active(h.pods()))
	}
}
