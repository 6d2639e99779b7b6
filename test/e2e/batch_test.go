package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// Hollow nodes play a pod that does not restart for a while and then end it with
// the exit code these annotations ask for.
const (
	hollowLifetime = "hollow.tug.io/lifetime"
	hollowExitCode = "hollow.tug.io/exit-code"
)

func jobYAML(name, spec, annotations string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
spec:
%s
  template:
    metadata:
      annotations: {%s}
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: "busybox:1.36", command: ["sh", "-c", "echo done"]}
`, name, spec, annotations)
}

func TestJobs(t *testing.T) {
	s := workloadServer(t)
	ns := namespace(t, s)

	t.Run("completes", func(t *testing.T) {
		t.Parallel()
		kn(t, s, ns, "create", "job", "hello", "--image=busybox:1.36", "--", "echo", "hello")
		kn(t, s, ns, "wait", "--for=condition=complete", "job/hello", "--timeout=90s")
		f := strings.Fields(kn(t, s, ns, "get", "job", "hello", "--no-headers"))
		if len(f) < 3 || f[1] != "Complete" || f[2] != "1/1" {
			t.Fatalf("get job: %v", f)
		}
		st := kn(t, s, ns, "get", "job", "hello", "-o", `jsonpath={.status.succeeded} {.status.active} {.status.conditions[*].type} {.status.completionTime}`)
		if f := strings.Fields(st); len(f) != 4 || f[0] != "1" || f[1] != "SuccessCriteriaMet" || f[2] != "Complete" || f[3] == "" {
			t.Fatalf("status %q", st)
		}
		fin := kn(t, s, ns, "get", "pods", "-l", "job-name=hello", "-o", `jsonpath={.items[*].metadata.finalizers}`)
		if strings.TrimSpace(fin) != "" {
			t.Fatalf("finished pods keep finalizers: %q", fin)
		}
		if desc := kn(t, s, ns, "describe", "job", "hello"); !strings.Contains(desc, "Completed") || !strings.Contains(desc, "Created pod: hello-") {
			t.Fatalf("describe:\n%s", desc)
		}
	})

	t.Run("parallel completions", func(t *testing.T) {
		t.Parallel()
		createIn(t, s, ns, jobYAML("many", "  completions: 4\n  parallelism: 2", hollowLifetime+`: "1s"`))
		kn(t, s, ns, "wait", "--for=condition=complete", "job/many", "--timeout=90s")
		if st := kn(t, s, ns, "get", "job", "many", "-o", `jsonpath={.status.succeeded}`); st != "4" {
			t.Fatalf("succeeded %q", st)
		}
		if n := len(lines(kn(t, s, ns, "get", "pods", "-l", "job-name=many", "-o", "name"))); n != 4 {
			t.Fatalf("%d pods, want exactly 4", n)
		}
	})

	t.Run("indexed", func(t *testing.T) {
		t.Parallel()
		createIn(t, s, ns, jobYAML("idx", "  completions: 3\n  parallelism: 3\n  completionMode: Indexed", hollowLifetime+`: "1s"`))
		kn(t, s, ns, "wait", "--for=condition=complete", "job/idx", "--timeout=90s")
		if st := kn(t, s, ns, "get", "job", "idx", "-o", `jsonpath={.status.completedIndexes} {.status.succeeded}`); st != "0-2 3" {
			t.Fatalf("status %q", st)
		}
		out := kn(t, s, ns, "get", "pods", "-l", "job-name=idx", "-o",
			`jsonpath={range .items[*]}{.metadata.annotations.batch\.kubernetes\.io/job-completion-index}={.spec.hostname}={.spec.containers[0].env[0].name}{"\n"}{end}`)
		got := lines(out)
		sort.Strings(got)
		if strings.Join(got, " ") != "0=idx-0=JOB_COMPLETION_INDEX 1=idx-1=JOB_COMPLETION_INDEX 2=idx-2=JOB_COMPLETION_INDEX" {
			t.Fatalf("pods: %v", got)
		}
	})

	t.Run("stops at the backoff limit", func(t *testing.T) {
		t.Parallel()
		createIn(t, s, ns, jobYAML("fails", "  backoffLimit: 1", hollowLifetime+`: "1s", `+hollowExitCode+`: "3"`))
		kn(t, s, ns, "wait", "--for=condition=failed", "job/fails", "--timeout=90s")
		st := kn(t, s, ns, "get", "job", "fails", "-o", `jsonpath={.status.failed} {.status.conditions[?(@.type=="Failed")].reason} {.status.conditions[?(@.type=="FailureTarget")].reason}`)
		if st != "2 BackoffLimitExceeded BackoffLimitExceeded" {
			t.Fatalf("status %q", st)
		}
		if f := strings.Fields(kn(t, s, ns, "get", "job", "fails", "--no-headers")); len(f) < 3 || f[1] != "Failed" || f[2] != "0/1" {
			t.Fatalf("get job: %v", f)
		}
		// No pod is started after the limit: exactly backoffLimit+1 pods.
		if n := len(lines(kn(t, s, ns, "get", "pods", "-l", "job-name=fails", "-o", "name"))); n != 2 {
			t.Fatalf("%d pods, want 2", n)
		}
		events := kn(t, s, ns, "get", "events", "--field-selector", "involvedObject.name=fails,reason=BackoffLimitExceeded", "-o", "jsonpath={.items[*].message}")
		if !strings.Contains(events, "Job has reached the specified backoff limit") {
			t.Fatalf("events %q", events)
		}
	})

	t.Run("active deadline", func(t *testing.T) {
		t.Parallel()
		createIn(t, s, ns, jobYAML("slow", "  activeDeadlineSeconds: 3", hollowLifetime+`: "10m"`))
		kn(t, s, ns, "wait", "--for=condition=failed", "job/slow", "--timeout=90s")
		if r := kn(t, s, ns, "get", "job", "slow", "-o", `jsonpath={.status.conditions[?(@.type=="Failed")].reason}`); r != "DeadlineExceeded" {
			t.Fatalf("reason %q", r)
		}
		eventually(t, 60*time.Second, func() error {
			if pods := podsOf(t, s, ns, "job-name=slow"); len(pods) != 0 {
				return fmt.Errorf("pods still running: %v", pods)
			}
			return nil
		})
	})

	t.Run("suspend and resume", func(t *testing.T) {
		t.Parallel()
		createIn(t, s, ns, jobYAML("later", "  suspend: true", hollowLifetime+`: "1s"`))
		eventually(t, 30*time.Second, func() error {
			if r := kn(t, s, ns, "get", "job", "later", "-o", `jsonpath={.status.conditions[?(@.type=="Suspended")].status}`); r != "True" {
				return fmt.Errorf("suspended condition %q", r)
			}
			return nil
		})
		if f := strings.Fields(kn(t, s, ns, "get", "job", "later", "--no-headers")); len(f) < 2 || f[1] != "Suspended" {
			t.Fatalf("get job: %v", f)
		}
		if pods := podsOf(t, s, ns, "job-name=later"); len(pods) != 0 {
			t.Fatalf("a suspended job has pods: %v", pods)
		}
		kn(t, s, ns, "patch", "job", "later", "-p", `{"spec":{"suspend":false}}`)
		kn(t, s, ns, "wait", "--for=condition=complete", "job/later", "--timeout=90s")
	})

	t.Run("deleted after its TTL with its pods", func(t *testing.T) {
		t.Parallel()
		createIn(t, s, ns, jobYAML("brief", "  ttlSecondsAfterFinished: 2", hollowLifetime+`: "1s"`))
		kn(t, s, ns, "wait", "--for=condition=complete", "job/brief", "--timeout=90s")
		gone(t, s, ns, "job", "brief")
		gone(t, s, ns, "pods", "-l", "job-name=brief")
	})
}

func TestCronJobs(t *testing.T) {
	s := workloadServer(t)
	cs := clientset(t, s)
	ns := namespace(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w, err := cs.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	kn(t, s, ns, "create", "cronjob", "tick", "--image=busybox:1.36", "--schedule=*/1 * * * *", "--", "echo", "tick")
	kn(t, s, ns, "patch", "cronjob", "tick", "-p",
		`{"spec":{"successfulJobsHistoryLimit":1,"jobTemplate":{"spec":{"template":{"metadata":{"annotations":{"`+hollowLifetime+`":"1s"}}}}}}}`)
	// A job started by hand from the cron job counts in its history.
	kn(t, s, ns, "create", "job", "by-hand", "--from=cronjob/tick")
	kn(t, s, ns, "wait", "--for=condition=complete", "job/by-hand", "--timeout=90s")

	// The schedule fires within a minute (plus a margin for a loaded machine).
	var fired *batchv1.Job
	deadline := time.After(80 * time.Second)
	for fired == nil {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("job watch ended")
			}
			if j, isJob := ev.Object.(*batchv1.Job); isJob && ev.Type == watch.Added && strings.HasPrefix(j.Name, "tick-") {
				fired = j
			}
		case <-deadline:
			t.Fatalf("no job within 80s; cron job:\n%s", kn(t, s, ns, "get", "cronjob", "tick", "-o", "yaml"))
		}
	}
	ts := fired.Annotations[batchv1.CronJobScheduledTimestampAnnotation]
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil || at.Second() != 0 {
		t.Fatalf("scheduled timestamp %q: %v", ts, err)
	}
	if want := fmt.Sprintf("tick-%d", at.Unix()/60); fired.Name != want {
		t.Fatalf("job name %s, want %s", fired.Name, want)
	}
	if ref := metav1.GetControllerOf(fired); ref == nil || ref.Kind != "CronJob" || ref.Name != "tick" {
		t.Fatalf("job owner %+v", fired.OwnerReferences)
	}
	kn(t, s, ns, "wait", "--for=condition=complete", "job/"+fired.Name, "--timeout=90s")
	// History limit 1: the older successful job (the one made by hand) goes.
	gone(t, s, ns, "job", "by-hand")
	eventually(t, 30*time.Second, func() error {
		st := kn(t, s, ns, "get", "cronjob", "tick", "-o", `jsonpath={.status.lastScheduleTime} {.status.lastSuccessfulTime}`)
		f := strings.Fields(st)
		if len(f) != 2 {
			return fmt.Errorf("cron job status %q", st)
		}
		last, err := time.Parse(time.RFC3339, f[0])
		if err != nil || last.Before(at) {
			return fmt.Errorf("lastScheduleTime %s, want %s or later", f[0], at.UTC().Format(time.RFC3339))
		}
		return nil
	})
	events := kn(t, s, ns, "get", "events", "--field-selector", "involvedObject.kind=CronJob", "-o", "jsonpath={.items[*].message}")
	for _, want := range []string{"Created job " + fired.Name, "Deleted job by-hand", "Saw completed job: " + fired.Name} {
		if !strings.Contains(events, want) {
			t.Errorf("cron job events lack %q: %s", want, events)
		}
	}
	// Suspending shows in the table.
	kn(t, s, ns, "patch", "cronjob", "tick", "-p", `{"spec":{"suspend":true}}`)
	// NAME, the five schedule fields, TIMEZONE, SUSPEND, ...
	if f := strings.Fields(kn(t, s, ns, "get", "cronjob", "tick", "--no-headers")); len(f) < 8 || f[7] != "True" {
		t.Fatalf("get cronjob: %v", f)
	}
}

// TestRestartKeepsWorkloads restarts `tug server` while a Job runs next to a
// DaemonSet and a StatefulSet: afterwards no daemon or stateful pod was replaced
// or doubled, and the Job ends with exactly its completions, each pod counted once.
func TestRestartKeepsWorkloads(t *testing.T) {
	s := workloadServer(t)
	ns := namespace(t, s)
	createIn(t, s, ns, daemonSetYAML, statefulSetYAML,
		jobYAML("steady", "  completions: 8\n  parallelism: 2", hollowLifetime+`: "3s"`))
	rolledOut(t, s, ns, "daemonset/logs")
	kn(t, s, ns, "rollout", "status", "sts/web", "--timeout=120s")
	uids := func(sel string) string {
		return kn(t, s, ns, "get", "pods", "-l", sel, "-o", `jsonpath={range .items[*]}{.metadata.name}={.metadata.uid} {end}`)
	}
	daemons, stateful := uids("app=logs"), uids("app=web")
	eventually(t, 60*time.Second, func() error {
		if n := kn(t, s, ns, "get", "job", "steady", "-o", "jsonpath={.status.succeeded}"); n == "" || n == "0" {
			return fmt.Errorf("no pod of the job succeeded yet")
		}
		return nil
	})
	holder := func() string {
		out, _, _ := s.Kubectl("-n", "kube-system", "get", "lease", "kube-controller-manager", "-o", "jsonpath={.spec.holderIdentity}")
		return out
	}
	before := holder()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, func() error {
		if h := holder(); h == "" || h == before {
			return fmt.Errorf("controllers not leading again yet (holder %q)", h)
		}
		return nil
	})
	kn(t, s, ns, "wait", "--for=condition=complete", "job/steady", "--timeout=120s")
	if st := kn(t, s, ns, "get", "job", "steady", "-o", `jsonpath={.status.succeeded} {.status.failed}`); strings.TrimSpace(st) != "8" {
		t.Fatalf("job status %q, want 8 succeeded and no failures", st)
	}
	if n := len(lines(kn(t, s, ns, "get", "pods", "-l", "job-name=steady", "-o", "name"))); n != 8 {
		t.Fatalf("%d job pods, want exactly 8", n)
	}
	if now := uids("app=logs"); now != daemons {
		t.Fatalf("daemon pods changed across the restart: %v -> %v", daemons, now)
	}
	if now := uids("app=web"); now != stateful {
		t.Fatalf("stateful pods changed across the restart: %v -> %v", stateful, now)
	}
}
