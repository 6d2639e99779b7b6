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

// daemonPods maps node name -> daemon pods (not terminating) of a selector.
func daemonPods(t *testing.T, s *Server, ns, selector string) map[string][]string {
	t.Helper()
	out := kn(t, s, ns, "get", "pods", "-l", selector, "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.metadata.deletionTimestamp}{"\n"}{end}`)
	m := map[string][]string{}
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) == 2 {
			m[f[1]] = append(m[f[1]], f[0])
		} else if len(f) == 1 {
			m[""] = append(m[""], f[0])
		}
	}
	return m
}

// onNodes waits until the selector's pods run one per named node and nowhere else.
func onNodes(t *testing.T, s *Server, ns, selector string, nodes ...string) {
	t.Helper()
	sort.Strings(nodes)
	eventually(t, 90*time.Second, func() error {
		m := daemonPods(t, s, ns, selector)
		var got []string
		for n, pods := range m {
			if len(pods) != 1 || n == "" {
				return fmt.Errorf("pods by node: %v", m)
			}
			got = append(got, n)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(nodes, ",") {
			return fmt.Errorf("daemon pods on %v, want %v", got, nodes)
		}
		return nil
	})
}

const daemonSetYAML = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: logs
spec:
  selector: {matchLabels: {app: logs}}
  updateStrategy:
    rollingUpdate: {maxUnavailable: 1}
  template:
    metadata: {labels: {app: logs}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - {name: c, image: "busybox:1.36", command: ["sleep", "3600"]}
`

func TestDaemonSets(t *testing.T) {
	s := newServer(t)
	startAgent(t, s, t.TempDir(), "--token-file", nodeTokenFile(s), "--hollow", "2", "--name-prefix", "d", "--hollow-heartbeat-interval", "2s")
	waitNodesReady(t, s, 2, 120*time.Second)
	ns := namespace(t, s)
	createIn(t, s, ns, daemonSetYAML)

	t.Run("one pod per node", func(t *testing.T) {
		onNodes(t, s, ns, "app=logs", "d-0", "d-1")
		rolledOut(t, s, ns, "daemonset/logs")
		f := strings.Fields(kn(t, s, ns, "get", "ds", "logs", "--no-headers"))
		if len(f) < 6 || strings.Join(f[1:6], " ") != "2 2 2 2 2" {
			t.Fatalf("get ds: %v", f)
		}
		pod := daemonPods(t, s, ns, "app=logs")["d-0"][0]
		tol := kn(t, s, ns, "get", "pod", pod, "-o", `jsonpath={range .spec.tolerations[*]}{.key}:{.effect} {end}`)
		for _, want := range []string{"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unschedulable:NoSchedule",
			"node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule", "node.kubernetes.io/pid-pressure:NoSchedule"} {
			if !strings.Contains(tol, want) {
				t.Errorf("daemon pod tolerations %q lack %s", tol, want)
			}
		}
		aff := kn(t, s, ns, "get", "pod", pod, "-o", `jsonpath={.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]}`)
		if aff != "d-0" {
			t.Fatalf("daemon pod on d-0 is tied to %q", aff)
		}
		if owner := kn(t, s, ns, "get", "pod", pod, "-o", `jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.metadata.ownerReferences[0].controller} {.metadata.ownerReferences[0].blockOwnerDeletion}`); owner != "DaemonSet/logs true true" {
			t.Fatalf("owner %q", owner)
		}
	})

	t.Run("follows nodes joining and leaving", func(t *testing.T) {
		extra := startAgent(t, s, t.TempDir(), "--token-file", nodeTokenFile(s), "--hollow", "1", "--name-prefix", "late", "--hollow-heartbeat-interval", "2s")
		waitNodesReady(t, s, 3, 120*time.Second)
		onNodes(t, s, ns, "app=logs", "d-0", "d-1", "late-0")
		// A cordoned node keeps its daemon pod (daemon pods tolerate it).
		k(t, s, "cordon", "late-0")
		onNodes(t, s, ns, "app=logs", "d-0", "d-1", "late-0")
		// The node leaves: its agent stops and the node is deleted.
		extra.stop()
		k(t, s, "delete", "node", "late-0", "--wait=false")
		onNodes(t, s, ns, "app=logs", "d-0", "d-1")
		f := strings.Fields(kn(t, s, ns, "get", "ds", "logs", "--no-headers"))
		if len(f) < 2 || f[1] != "2" {
			t.Fatalf("desired after the node left: %v", f)
		}
	})

	t.Run("node selector", func(t *testing.T) {
		kn(t, s, ns, "patch", "ds", "logs", "-p", `{"spec":{"template":{"spec":{"nodeSelector":{"disk":"ssd"}}}}}`)
		onNodes(t, s, ns, "app=logs")
		k(t, s, "label", "node", "d-1", "disk=ssd")
		onNodes(t, s, ns, "app=logs", "d-1")
		kn(t, s, ns, "patch", "ds", "logs", "--type=json", "-p", `[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]`)
		onNodes(t, s, ns, "app=logs", "d-0", "d-1")
		rolledOut(t, s, ns, "daemonset/logs")
	})

	t.Run("rollout history and undo", func(t *testing.T) {
		kn(t, s, ns, "set", "image", "ds/logs", "c=busybox:1.37")
		rolledOut(t, s, ns, "daemonset/logs")
		images := kn(t, s, ns, "get", "pods", "-l", "app=logs", "-o", `jsonpath={.items[*].spec.containers[0].image}`)
		if images != "busybox:1.37 busybox:1.37" {
			t.Fatalf("images after the update: %q", images)
		}
		// Revisions: 1 the first template, 2 with the node selector, the first
		// template again (renumbered 3), 4 the new image.
		if revs := revisionNumbers(t, s, ns, "ds/logs"); revs != "2 3 4" {
			t.Fatalf("revisions %q", revs)
		}
		if out := kn(t, s, ns, "rollout", "history", "ds/logs", "--revision=3"); !strings.Contains(out, "busybox:1.36") {
			t.Fatalf("revision 3:\n%s", out)
		}
		if out := kn(t, s, ns, "rollout", "history", "ds/logs", "--revision=4"); !strings.Contains(out, "busybox:1.37") {
			t.Fatalf("revision 4:\n%s", out)
		}
		kn(t, s, ns, "rollout", "undo", "ds/logs")
		rolledOut(t, s, ns, "daemonset/logs")
		eventually(t, 60*time.Second, func() error {
			images := kn(t, s, ns, "get", "pods", "-l", "app=logs", "-o", `jsonpath={.items[*].spec.containers[0].image}`)
			if images != "busybox:1.36 busybox:1.36" {
				return fmt.Errorf("images after undo: %q", images)
			}
			return nil
		})
		if revs := revisionNumbers(t, s, ns, "ds/logs"); revs != "2 4 5" {
			t.Fatalf("revisions after undo %q", revs)
		}
		// Pods carry the hash of their revision, which is named after it.
		hash := kn(t, s, ns, "get", "pods", "-l", "app=logs", "-o", `jsonpath={.items[0].metadata.labels.controller-revision-hash}`)
		kn(t, s, ns, "get", "controllerrevision", "logs-"+hash)
		events := kn(t, s, ns, "get", "events", "--field-selector", "involvedObject.kind=DaemonSet", "-o", "jsonpath={.items[*].reason}")
		if !strings.Contains(events, "SuccessfulCreate") || !strings.Contains(events, "SuccessfulDelete") {
			t.Fatalf("daemon set events: %s", events)
		}
	})

	t.Run("deleting the daemon set removes its pods", func(t *testing.T) {
		kn(t, s, ns, "delete", "ds", "logs", "--timeout=60s")
		gone(t, s, ns, "pods", "-l", "app=logs")
		gone(t, s, ns, "controllerrevisions")
	})
}

// revisionNumbers lists the revisions `kubectl rollout history` shows.
func revisionNumbers(t *testing.T, s *Server, ns, what string) string {
	t.Helper()
	var nums []string
	for _, l := range lines(kn(t, s, ns, "rollout", "history", what)) {
		if f := strings.Fields(l); len(f) > 0 && f[0] != "REVISION" && !strings.Contains(f[0], "/") {
			nums = append(nums, f[0])
		}
	}
	return strings.Join(nums, " ")
}

const statefulSetYAML = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: nginx, image: "nginx:1.25"}
  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`

// podLog records what a watch sees of pods: creations, readiness and deletions,
// in order.
type podLog struct {
	mu     sync.Mutex
	events []string
	seen   map[string]string // last state per pod
	stop   func()
}

func watchPods(t *testing.T, cs kubernetes.Interface, ns string) *podLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := &podLog{seen: map[string]string{}}
	done := make(chan struct{})
	l.stop = func() { cancel(); w.Stop(); <-done }
	t.Cleanup(func() { l.stop() })
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			state := "created"
			switch {
			case ev.Type == watch.Deleted:
				state = "gone"
			case pod.DeletionTimestamp != nil:
				state = "deleting"
			case readyPod(pod):
				state = "ready"
			}
			l.mu.Lock()
			if l.seen[pod.Name] != state {
				l.seen[pod.Name] = state
				l.events = append(l.events, pod.Name+" "+state)
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *podLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// inOrder reports whether the events occur in the log in this order; an event may
// name alternatives ("web-1 deleting|web-1 gone"), the first one seen counts.
func inOrder(log []string, events ...string) bool {
	last := -1
	for _, e := range events {
		p := -1
		for i, x := range log {
			for _, alt := range strings.Split(e, "|") {
				if x == alt && p < 0 {
					p = i
				}
			}
		}
		if p < 0 || p < last {
			return false
		}
		last = p
	}
	return true
}

func TestStatefulSets(t *testing.T) {
	s := workloadServer(t)
	cs := clientset(t, s)
	ns := namespace(t, s)
	log := watchPods(t, cs, ns)
	createIn(t, s, ns, statefulSetYAML)

	t.Run("created in order, each after the previous is ready", func(t *testing.T) {
		out := kn(t, s, ns, "rollout", "status", "sts/web", "--timeout=120s")
		if !strings.Contains(out, "roll out complete") {
			t.Fatalf("rollout status: %s", out)
		}
		if got := log.take(); !inOrder(got, "web-0 created", "web-0 ready", "web-1 created", "web-1 ready", "web-2 created", "web-2 ready") {
			t.Fatalf("pod events out of order: %v", got)
		}
		if f := strings.Fields(kn(t, s, ns, "get", "sts", "web", "--no-headers")); len(f) < 2 || f[1] != "3/3" {
			t.Fatalf("get sts: %v", f)
		}
		for i := 0; i < 3; i++ {
			name := fmt.Sprintf("web-%d", i)
			l := kn(t, s, ns, "get", "pod", name, "-o", `jsonpath={.metadata.labels.statefulset\.kubernetes\.io/pod-name} {.metadata.labels.apps\.kubernetes\.io/pod-index} {.spec.hostname} {.spec.subdomain} {.spec.volumes[?(@.name=="www")].persistentVolumeClaim.claimName}`)
			if want := fmt.Sprintf("%s %d %s web www-%s", name, i, name, name); l != want {
				t.Fatalf("pod %s: %q, want %q", name, l, want)
			}
		}
		claims := kn(t, s, ns, "get", "pvc", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.phase}{" "}{end}`)
		if claims != "www-web-0=Pending www-web-1=Pending www-web-2=Pending " {
			t.Fatalf("claims: %q", claims)
		}
		st := kn(t, s, ns, "get", "sts", "web", "-o", `jsonpath={.status.replicas} {.status.readyReplicas} {.status.currentReplicas} {.status.updatedReplicas} {.status.availableReplicas} {.status.observedGeneration}`)
		if st != "3 3 3 3 3 1" {
			t.Fatalf("status %q", st)
		}
	})

	t.Run("rolling update from the highest ordinal", func(t *testing.T) {
		log.take()
		kn(t, s, ns, "set", "image", "sts/web", "nginx=nginx:1.26")
		out := kn(t, s, ns, "rollout", "status", "sts/web", "--timeout=120s")
		if !strings.Contains(out, "roll out complete") {
			t.Fatalf("rollout status: %s", out)
		}
		eventually(t, 60*time.Second, func() error {
			cur := kn(t, s, ns, "get", "sts", "web", "-o", `jsonpath={.status.currentRevision} {.status.updateRevision}`)
			if f := strings.Fields(cur); len(f) != 2 || f[0] != f[1] {
				return fmt.Errorf("revisions %q", cur)
			}
			return nil
		})
		if got := log.take(); !inOrder(got, "web-2 deleting|web-2 gone", "web-2 ready", "web-1 deleting|web-1 gone", "web-1 ready", "web-0 deleting|web-0 gone", "web-0 ready") {
			t.Fatalf("update out of order: %v", got)
		}
		if revs := revisionNumbers(t, s, ns, "sts/web"); revs != "1 2" {
			t.Fatalf("revisions %q", revs)
		}
		kn(t, s, ns, "rollout", "undo", "sts/web")
		eventually(t, 120*time.Second, func() error {
			images := kn(t, s, ns, "get", "pods", "-l", "app=web", "-o", `jsonpath={.items[*].spec.containers[0].image}`)
			if images != "nginx:1.25 nginx:1.25 nginx:1.25" {
				return fmt.Errorf("images after undo: %q", images)
			}
			return nil
		})
		kn(t, s, ns, "rollout", "status", "sts/web", "--timeout=120s")
	})

	t.Run("scaled down in reverse order", func(t *testing.T) {
		log.take()
		kn(t, s, ns, "scale", "sts/web", "--replicas=0")
		eventually(t, 90*time.Second, func() error {
			if pods := podsOf(t, s, ns, "app=web"); len(pods) != 0 {
				return fmt.Errorf("pods left: %v", pods)
			}
			return nil
		})
		if got := log.take(); !inOrder(got, "web-2 deleting|web-2 gone", "web-2 gone", "web-1 deleting|web-1 gone", "web-1 gone", "web-0 deleting|web-0 gone") {
			t.Fatalf("deletions out of order: %v", got)
		}
		// Claims stay (retention policy Retain by default).
		if claims := lines(kn(t, s, ns, "get", "pvc", "-o", "name")); len(claims) != 3 {
			t.Fatalf("claims after scale-down: %v", claims)
		}
		// Scaled up again, the pods get their old names and claims back.
		kn(t, s, ns, "scale", "sts/web", "--replicas=2")
		kn(t, s, ns, "rollout", "status", "sts/web", "--timeout=120s")
		if pods := podsOf(t, s, ns, "app=web"); strings.Join(pods, ",") != "web-0,web-1" {
			t.Fatalf("pods after scale-up: %v", pods)
		}
	})

	t.Run("parallel pod management", func(t *testing.T) {
		createIn(t, s, ns, strings.NewReplacer("name: web\nspec:\n  serviceName", "name: par\nspec:\n  podManagementPolicy: Parallel\n  serviceName",
			"app: web", "app: par").Replace(statefulSetYAML[strings.Index(statefulSetYAML, "---\n")+4:]))
		kn(t, s, ns, "rollout", "status", "sts/par", "--timeout=120s")
		if pods := podsOf(t, s, ns, "app=par"); strings.Join(pods, ",") != "par-0,par-1,par-2" {
			t.Fatalf("pods: %v", pods)
		}
	})
}
