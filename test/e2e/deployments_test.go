package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// workloadServer is a private server with three hollow nodes, for tests whose pods
// must run.
func workloadServer(t *testing.T) *Server {
	t.Helper()
	s := newServer(t)
	startAgent(t, s, t.TempDir(), "--token-file", nodeTokenFile(s), "--hollow", "3", "--name-prefix", "w", "--hollow-heartbeat-interval", "2s")
	waitNodesReady(t, s, 3, 120*time.Second)
	return s
}

// kn runs kubectl in namespace ns.
func kn(t *testing.T, s *Server, ns string, args ...string) string {
	t.Helper()
	return k(t, s, append([]string{"-n", ns}, args...)...)
}

// rolledOut waits for `kubectl rollout status` to report success.
func rolledOut(t *testing.T, s *Server, ns, what string) {
	t.Helper()
	out := kn(t, s, ns, "rollout", "status", what, "--timeout=120s")
	if !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status: %s", out)
	}
}

// podsOf lists the names of the live (not terminating) pods with a label selector.
func podsOf(t *testing.T, s *Server, ns, selector string) []string {
	t.Helper()
	out := kn(t, s, ns, "get", "pods", "-l", selector, "-o", `jsonpath={range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}`)
	var names []string
	for _, l := range lines(out) {
		if f := strings.Fields(l); len(f) == 1 {
			names = append(names, f[0])
		}
	}
	sort.Strings(names)
	return names
}

// availability follows the Ready, non-terminating pods of a selector through a
// watch and remembers the fewest seen once the count first reached floor.
type availability struct {
	mu      sync.Mutex
	ready   map[string]bool
	armed   bool
	floor   int
	fewest  int
	history []string
	stop    func()
	done    chan struct{}
}

func watchAvailability(t *testing.T, cs kubernetes.Interface, ns, selector string, floor int) *availability {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	a := &availability{ready: map[string]bool{}, floor: floor, fewest: 1 << 30, done: make(chan struct{})}
	for i := range list.Items {
		if p := &list.Items[i]; p.DeletionTimestamp == nil && readyPod(p) {
			a.ready[p.Name] = true
		}
	}
	if len(a.ready) >= floor {
		a.armed, a.fewest = true, len(a.ready)
	}
	a.stop = func() { cancel(); w.Stop(); <-a.done }
	go func() {
		defer close(a.done)
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			ok = ev.Type != watch.Deleted && pod.DeletionTimestamp == nil && readyPod(pod)
			a.mu.Lock()
			if ok {
				a.ready[pod.Name] = true
			} else {
				delete(a.ready, pod.Name)
			}
			n := len(a.ready)
			if n >= a.floor {
				a.armed = true
			}
			if a.armed && n < a.fewest {
				a.fewest = n
				a.history = append(a.history, fmt.Sprintf("%s %s -> %d ready", ev.Type, pod.Name, n))
			}
			a.mu.Unlock()
		}
	}()
	return a
}

func readyPod(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// min stops the watch and returns the fewest ready pods seen.
func (a *availability) min() (int, []string) {
	a.stop()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fewest, a.history
}

func TestDeployments(t *testing.T) {
	s := workloadServer(t)
	cs := clientset(t, s)
	ns := namespace(t, s)
	createIn(t, s, ns, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {kubernetes.io/change-cause: "first version"}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy:
    rollingUpdate: {maxSurge: 2, maxUnavailable: 1}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.0"}]
`)

	t.Run("create and scale", func(t *testing.T) {
		rolledOut(t, s, ns, "deployment/web")
		out := kn(t, s, ns, "get", "deployment", "web", "--no-headers")
		if f := strings.Fields(out); len(f) < 4 || f[1] != "3/3" || f[2] != "3" || f[3] != "3" {
			t.Fatalf("get deployment: %q", out)
		}
		rs := lines(kn(t, s, ns, "get", "rs", "-o", `jsonpath={range .items[*]}{.metadata.name} {.metadata.labels.pod-template-hash} {.metadata.annotations.deployment\.kubernetes\.io/revision} {.metadata.ownerReferences[0].kind}{"\n"}{end}`))
		if len(rs) != 1 {
			t.Fatalf("replica sets: %v", rs)
		}
		f := strings.Fields(rs[0])
		if len(f) != 4 || f[0] != "web-"+f[1] || f[2] != "1" || f[3] != "Deployment" {
			t.Fatalf("replica set: %q", rs[0])
		}
		pods := podsOf(t, s, ns, "app=web")
		if len(pods) != 3 || !strings.HasPrefix(pods[0], "web-"+f[1]+"-") {
			t.Fatalf("pods: %v", pods)
		}
		desc := kn(t, s, ns, "describe", "deployment", "web")
		for _, want := range []string{"Available      True    MinimumReplicasAvailable", "Progressing    True    NewReplicaSetAvailable", "Scaled up replica set " + f[0] + " from 0 to 3"} {
			if !strings.Contains(desc, want) {
				t.Errorf("describe lacks %q:\n%s", want, desc)
			}
		}
		events := kn(t, s, ns, "get", "events", "--field-selector", "reason=SuccessfulCreate", "-o", "jsonpath={.items[*].message}")
		if !strings.Contains(events, "Created pod: "+f[0]+"-") {
			t.Errorf("replica set events: %q", events)
		}
		kn(t, s, ns, "scale", "deployment/web", "--replicas=6")
		rolledOut(t, s, ns, "deployment/web")
		if pods := podsOf(t, s, ns, "app=web"); len(pods) != 6 {
			t.Fatalf("after scale to 6: %v", pods)
		}
		kn(t, s, ns, "scale", "deployment/web", "--replicas=4")
		eventually(t, 60*time.Second, func() error {
			if pods := podsOf(t, s, ns, "app=web"); len(pods) != 4 {
				return fmt.Errorf("after scale to 4: %v", pods)
			}
			return nil
		})
		rolledOut(t, s, ns, "deployment/web")
	})

	t.Run("rolling update keeps availability", func(t *testing.T) {
		// 4 replicas, maxUnavailable 1: at least 3 pods are ready at all times.
		a := watchAvailability(t, cs, ns, "app=web", 4)
		kn(t, s, ns, "set", "image", "deployment/web", "web=nginx:2.0")
		kn(t, s, ns, "annotate", "deployment/web", "kubernetes.io/change-cause=second version", "--overwrite")
		rolledOut(t, s, ns, "deployment/web")
		fewest, history := a.min()
		if fewest < 3 {
			t.Fatalf("only %d pods were ready during the rollout (minimum 3): %v", fewest, history)
		}
		t.Logf("fewest ready pods during the rollout: %d", fewest)
		images := kn(t, s, ns, "get", "pods", "-l", "app=web", "-o", `jsonpath={.items[*].spec.containers[0].image}`)
		if strings.Count(images, "nginx:2.0") != 4 || strings.Contains(images, "nginx:1.0") {
			t.Fatalf("images after the rollout: %s", images)
		}
		if rs := lines(kn(t, s, ns, "get", "rs", "--no-headers")); len(rs) != 2 {
			t.Fatalf("replica sets: %v", rs)
		}
	})

	t.Run("history and undo", func(t *testing.T) {
		hist := kn(t, s, ns, "rollout", "history", "deployment/web")
		for _, want := range []string{"1         first version", "2         second version"} {
			if !strings.Contains(hist, want) {
				t.Fatalf("history lacks %q:\n%s", want, hist)
			}
		}
		rev1 := kn(t, s, ns, "rollout", "history", "deployment/web", "--revision=1")
		if !strings.Contains(rev1, "nginx:1.0") {
			t.Errorf("revision 1: %s", rev1)
		}
		kn(t, s, ns, "rollout", "undo", "deployment/web")
		rolledOut(t, s, ns, "deployment/web")
		if img := kn(t, s, ns, "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}"); img != "nginx:1.0 3" {
			t.Fatalf("after undo: %q", img)
		}
		hist = kn(t, s, ns, "rollout", "history", "deployment/web")
		if strings.Contains(hist, "\n1 ") || !strings.Contains(hist, "3         first version") {
			t.Fatalf("revision 1 should have become 3:\n%s", hist)
		}
		kn(t, s, ns, "rollout", "undo", "deployment/web", "--to-revision=2")
		rolledOut(t, s, ns, "deployment/web")
		if img := kn(t, s, ns, "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "nginx:2.0" {
			t.Fatalf("after undo --to-revision=2: %q", img)
		}
		if rs := lines(kn(t, s, ns, "get", "rs", "--no-headers")); len(rs) != 2 {
			t.Fatalf("rollbacks must reuse replica sets: %v", rs)
		}
		errOut := kFail(t, s, "-n", ns, "rollout", "undo", "deployment/web", "--to-revision=9")
		if !strings.Contains(errOut, "unable to find specified revision 9") {
			t.Errorf("undo to a missing revision: %s", errOut)
		}
	})

	t.Run("pause, resume, restart", func(t *testing.T) {
		kn(t, s, ns, "rollout", "pause", "deployment/web")
		kn(t, s, ns, "set", "image", "deployment/web", "web=nginx:3.0")
		eventually(t, 30*time.Second, func() error {
			reason := kn(t, s, ns, "get", "deployment", "web", "-o", `jsonpath={.status.conditions[?(@.type=="Progressing")].reason}`)
			if reason != "DeploymentPaused" {
				return fmt.Errorf("progressing reason %q", reason)
			}
			return nil
		})
		time.Sleep(2 * time.Second)
		if rs := lines(kn(t, s, ns, "get", "rs", "--no-headers")); len(rs) != 2 {
			t.Fatalf("a paused deployment rolled out: %v", rs)
		}
		kn(t, s, ns, "rollout", "resume", "deployment/web")
		rolledOut(t, s, ns, "deployment/web")
		if images := kn(t, s, ns, "get", "pods", "-l", "app=web", "-o", `jsonpath={.items[*].spec.containers[0].image}`); strings.Count(images, "nginx:3.0") != 4 {
			t.Fatalf("after resume: %s", images)
		}
		before := podsOf(t, s, ns, "app=web")
		kn(t, s, ns, "rollout", "restart", "deployment/web")
		rolledOut(t, s, ns, "deployment/web")
		after := podsOf(t, s, ns, "app=web")
		for _, p := range after {
			for _, b := range before {
				if p == b {
					t.Fatalf("pod %s survived a restart (before %v, after %v)", p, before, after)
				}
			}
		}
		if at := kn(t, s, ns, "get", "deployment", "web", "-o", `jsonpath={.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}`); at == "" {
			t.Error("no restartedAt annotation")
		}
	})

	t.Run("a deleted pod is replaced", func(t *testing.T) {
		pods := podsOf(t, s, ns, "app=web")
		kn(t, s, ns, "delete", "pod", pods[0], "--wait=false")
		eventually(t, 60*time.Second, func() error {
			now := podsOf(t, s, ns, "app=web")
			if len(now) != 4 {
				return fmt.Errorf("pods %v", now)
			}
			for _, p := range now {
				if p == pods[0] {
					return fmt.Errorf("%s still there", p)
				}
			}
			return nil
		})
		rolledOut(t, s, ns, "deployment/web")
	})

	t.Run("revision history limit", func(t *testing.T) {
		kn(t, s, ns, "patch", "deployment/web", "-p", `{"spec":{"revisionHistoryLimit":1}}`)
		eventually(t, 60*time.Second, func() error {
			if rs := lines(kn(t, s, ns, "get", "rs", "--no-headers")); len(rs) != 2 {
				return fmt.Errorf("replica sets %v", rs)
			}
			return nil
		})
	})

	t.Run("a rollout that cannot progress exceeds its deadline", func(t *testing.T) {
		createIn(t, s, ns, `apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  replicas: 2
  progressDeadlineSeconds: 3
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      containers: [{name: c, image: "nginx:1"}]
`)
		rolledOut(t, s, ns, "deployment/stuck")
		// No node has this label: the new pods stay Pending, the old ones stay.
		kn(t, s, ns, "patch", "deployment/stuck", "-p", `{"spec":{"template":{"spec":{"nodeSelector":{"disk":"none"}}}}}`)
		out, errOut, err := s.Kubectl("-n", ns, "rollout", "status", "deployment/stuck", "--timeout=60s")
		if err == nil || !strings.Contains(out+errOut, "exceeded its progress deadline") {
			t.Fatalf("rollout status of a stuck rollout: %v\n%s%s", err, out, errOut)
		}
		cond := kn(t, s, ns, "get", "deployment", "stuck", "-o", `jsonpath={.status.conditions[?(@.type=="Progressing")].status} {.status.conditions[?(@.type=="Progressing")].reason} {.status.conditions[?(@.type=="Available")].status}`)
		if cond != "False ProgressDeadlineExceeded True" {
			t.Fatalf("conditions: %q", cond)
		}
		if pods := podsOf(t, s, ns, "app=stuck"); len(pods) != 3 {
			t.Fatalf("2 old pods and 1 surge pod expected: %v", pods)
		}
		kn(t, s, ns, "rollout", "undo", "deployment/stuck")
		rolledOut(t, s, ns, "deployment/stuck")
		kn(t, s, ns, "delete", "deployment", "stuck")
	})

	t.Run("deleting the deployment deletes its replica sets and pods", func(t *testing.T) {
		kn(t, s, ns, "delete", "deployment", "web")
		eventually(t, 60*time.Second, func() error {
			if out := kn(t, s, ns, "get", "rs,pods", "--no-headers", "--ignore-not-found"); strings.TrimSpace(out) != "" {
				return fmt.Errorf("left: %s", out)
			}
			return nil
		})
	})
}

func TestRecreateAndReplicationController(t *testing.T) {
	s := workloadServer(t)
	cs := clientset(t, s)
	ns := namespace(t, s)
	createIn(t, s, ns, `apiVersion: apps/v1
kind: Deployment
metadata: {name: db}
spec:
  replicas: 3
  selector: {matchLabels: {app: db}}
  strategy: {type: Recreate}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:1"}]
`, `apiVersion: v1
kind: ReplicationController
metadata: {name: old}
spec:
  replicas: 2
  selector: {app: old}
  template:
    metadata: {labels: {app: old}}
    spec:
      containers: [{name: c, image: "busybox:1"}]
`)
	rolledOut(t, s, ns, "deployment/db")

	// Recreate: no pod of the new version exists while one of the old runs.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "app=db"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var overlap []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		live := map[string]string{} // pod -> image
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if ev.Type == watch.Deleted {
				delete(live, pod.Name)
			} else {
				live[pod.Name] = pod.Spec.Containers[0].Image
			}
			imgs := map[string]bool{}
			for _, img := range live {
				imgs[img] = true
			}
			if len(imgs) > 1 {
				mu.Lock()
				overlap = append(overlap, fmt.Sprint(live))
				mu.Unlock()
			}
		}
	}()
	kn(t, s, ns, "set", "image", "deployment/db", "db=postgres:2")
	rolledOut(t, s, ns, "deployment/db")
	cancel()
	w.Stop()
	<-done
	if len(overlap) > 0 {
		t.Fatalf("old and new pods ran together: %v", overlap)
	}

	// A ReplicationController keeps its pods and follows scale.
	eventually(t, 60*time.Second, func() error {
		if out := kn(t, s, ns, "get", "rc", "old", "-o", "jsonpath={.status.readyReplicas}"); out != "2" {
			return fmt.Errorf("ready replicas %q", out)
		}
		return nil
	})
	kn(t, s, ns, "scale", "rc", "old", "--replicas=4")
	eventually(t, 60*time.Second, func() error {
		if pods := podsOf(t, s, ns, "app=old"); len(pods) != 4 {
			return fmt.Errorf("pods %v", pods)
		}
		return nil
	})
	if ev := kn(t, s, ns, "describe", "rc", "old"); !strings.Contains(ev, "replication-controller") || !strings.Contains(ev, "Created pod: old-") {
		t.Errorf("describe rc:\n%s", ev)
	}
}

// TestRestartKeepsPods restarts `tug server` under a running Deployment: the
// controllers come back (after taking over their lease) and neither duplicate nor
// lose pods, then act again on changes.
func TestRestartKeepsPods(t *testing.T) {
	s := workloadServer(t)
	ns := namespace(t, s)
	createIn(t, s, ns, webDeployment("web", 6))
	rolledOut(t, s, ns, "deployment/web")
	pods := podsOf(t, s, ns, "app=web")
	rs := lines(kn(t, s, ns, "get", "rs", "-o", "name"))
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
	// Give the controllers time to resync and (wrongly) act.
	time.Sleep(5 * time.Second)
	if now := podsOf(t, s, ns, "app=web"); fmt.Sprint(now) != fmt.Sprint(pods) {
		t.Fatalf("pods changed across the restart:\nbefore %v\nafter  %v", pods, now)
	}
	if now := lines(kn(t, s, ns, "get", "rs", "-o", "name")); fmt.Sprint(now) != fmt.Sprint(rs) {
		t.Fatalf("replica sets changed across the restart: %v -> %v", rs, now)
	}
	rolledOut(t, s, ns, "deployment/web")
	kn(t, s, ns, "scale", "deployment/web", "--replicas=8")
	rolledOut(t, s, ns, "deployment/web")
	if now := podsOf(t, s, ns, "app=web"); len(now) != 8 {
		t.Fatalf("after scaling to 8: %v", now)
	}
}
