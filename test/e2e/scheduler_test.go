package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The scheduler's end-to-end tests run on one private server; each subtest
// starts its own hollow nodes (a `tug agent --hollow` process per node shape)
// and removes them when it ends, so the subtests do not see each other's nodes.

// hollowNodes starts n hollow nodes named PREFIX-0 … with the given cpu each and
// waits until they are Ready. When the subtest ends, its pods are removed, the
// agent stops and the nodes are deleted.
func hollowNodes(t *testing.T, s *Server, ns, prefix string, n int, cpu string) []string {
	t.Helper()
	var names []string
	for i := 0; i < n; i++ {
		names = append(names, fmt.Sprintf("%s-%d", prefix, i))
	}
	// Registered before the agent's own cleanup, so it runs after the agent
	// stopped (a running agent would report its nodes again).
	t.Cleanup(func() {
		_, _, _ = s.Kubectl("-n", ns, "delete", "pods", "--all", "--grace-period=0", "--force", "--wait=false")
		_, _, _ = s.Kubectl(append([]string{"delete", "node", "--wait=false"}, names...)...)
	})
	startAgent(t, s, t.TempDir(), "--token-file", nodeTokenFile(s), "--hollow", fmt.Sprint(n), "--name-prefix", prefix,
		"--hollow-cpu", cpu, "--hollow-heartbeat-interval", "2s")
	eventually(t, 120*time.Second, func() error {
		out := k(t, s, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		ready := map[string]bool{}
		for _, l := range lines(out) {
			name, st, _ := strings.Cut(l, "=")
			ready[name] = st == "True"
		}
		for _, name := range names {
			if !ready[name] {
				return fmt.Errorf("node %s not Ready:\n%s", name, out)
			}
		}
		return nil
	})
	return names
}

func schedPod(name, cpu, extra string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels: {app: %s}
spec:
  terminationGracePeriodSeconds: 0
%s
  containers:
  - name: c
    image: busybox:1.36
    command: ["sleep", "3600"]
    resources:
      requests: {cpu: "%s"}
`, name, name, extra, cpu)
}

func createIn(t *testing.T, s *Server, ns string, manifests ...string) {
	t.Helper()
	for _, m := range manifests {
		if out, errOut, err := kStdin(t, s, m, "-n", ns, "create", "-f", "-"); err != nil {
			t.Fatalf("create: %v\n%s%s", err, out, errOut)
		}
	}
}

func nodeOf(t *testing.T, s *Server, ns, pod string) string {
	t.Helper()
	return k(t, s, "-n", ns, "get", "pod", pod, "-o", "jsonpath={.spec.nodeName}")
}

// waitBound waits until the pod is bound and returns its node.
func waitBound(t *testing.T, s *Server, ns, pod string) string {
	t.Helper()
	var node string
	eventually(t, 60*time.Second, func() error {
		node = nodeOf(t, s, ns, pod)
		if node == "" {
			return fmt.Errorf("pod %s not bound", pod)
		}
		return nil
	})
	return node
}

// waitFailed waits for the FailedScheduling message in `kubectl describe pod`
// and returns the describe output.
func waitFailed(t *testing.T, s *Server, ns, pod, want string) string {
	t.Helper()
	var out string
	eventually(t, 60*time.Second, func() error {
		out = k(t, s, "-n", ns, "describe", "pod", pod)
		if !strings.Contains(out, "FailedScheduling") || !strings.Contains(out, want) {
			return fmt.Errorf("describe pod %s does not show %q:\n%s", pod, want, out)
		}
		return nil
	})
	return out
}

func TestScheduler(t *testing.T) {
	s := newServer(t)

	t.Run("LeaderLease", func(t *testing.T) {
		eventually(t, 30*time.Second, func() error {
			out, _, err := s.Kubectl("-n", "kube-system", "get", "lease", "kube-scheduler", "-o", "jsonpath={.spec.holderIdentity}")
			if err != nil || strings.TrimSpace(out) == "" {
				return fmt.Errorf("no holder of kube-system/kube-scheduler yet: %v %q", err, out)
			}
			return nil
		})
	})

	t.Run("PodsLandOnlyWhereTheyFit", func(t *testing.T) {
		ns := namespace(t, s)
		hollowNodes(t, s, ns, "fit-big", 1, "2")
		hollowNodes(t, s, ns, "fit-small", 1, "1")
		for i := 0; i < 3; i++ {
			createIn(t, s, ns, schedPod(fmt.Sprintf("p%d", i), "1", ""))
		}
		per := map[string]int{}
		for i := 0; i < 3; i++ {
			per[waitBound(t, s, ns, fmt.Sprintf("p%d", i))]++
		}
		// The hollow nodes run what they are given.
		eventually(t, 60*time.Second, func() error {
			if ph := k(t, s, "-n", ns, "get", "pod", "p0", "-o", "jsonpath={.status.phase}"); ph != "Running" {
				return fmt.Errorf("p0 is %s", ph)
			}
			return nil
		})
		if per["fit-big-0"] != 2 || per["fit-small-0"] != 1 {
			t.Fatalf("placement %v, want 2 on fit-big-0 and 1 on fit-small-0", per)
		}
		createIn(t, s, ns, schedPod("extra", "1", ""))
		out := waitFailed(t, s, ns, "extra", "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.")
		if !strings.Contains(out, "default-scheduler") {
			t.Fatalf("event source missing:\n%s", out)
		}
		// The PodScheduled condition carries the reason too.
		cond := k(t, s, "-n", ns, "get", "pod", "extra", "-o", `jsonpath={.status.conditions[?(@.type=="PodScheduled")].reason}`)
		if cond != "Unschedulable" {
			t.Fatalf("PodScheduled reason = %q", cond)
		}
		// Scheduled events name the node.
		ev := k(t, s, "-n", ns, "get", "events", "--field-selector", "reason=Scheduled", "-o", "jsonpath={.items[*].message}")
		if !strings.Contains(ev, "Successfully assigned "+ns+"/p0 to ") {
			t.Fatalf("Scheduled events: %q", ev)
		}
		// Room freed by a deletion is used.
		k(t, s, "-n", ns, "delete", "pod", "p0", "--grace-period=0", "--force")
		waitBound(t, s, ns, "extra")
	})

	t.Run("CordonUncordon", func(t *testing.T) {
		ns := namespace(t, s)
		hollowNodes(t, s, ns, "cordon", 1, "2")
		k(t, s, "cordon", "cordon-0")
		createIn(t, s, ns, schedPod("waits", "100m", ""))
		waitFailed(t, s, ns, "waits", "0/1 nodes are available: 1 node(s) were unschedulable.")
		k(t, s, "uncordon", "cordon-0")
		if n := waitBound(t, s, ns, "waits"); n != "cordon-0" {
			t.Fatalf("bound to %s", n)
		}
	})

	t.Run("TaintsAndTolerations", func(t *testing.T) {
		ns := namespace(t, s)
		hollowNodes(t, s, ns, "taint", 2, "4")
		k(t, s, "taint", "nodes", "taint-0", "dedicated=db:NoSchedule")
		k(t, s, "label", "nodes", "taint-0", "role=db")
		createIn(t, s, ns,
			schedPod("web", "100m", ""),
			schedPod("db", "100m", `  nodeSelector: {role: db}
  tolerations:
  - {key: dedicated, operator: Equal, value: db, effect: NoSchedule}`))
		if n := waitBound(t, s, ns, "web"); n != "taint-1" {
			t.Fatalf("untolerating pod on %s", n)
		}
		if n := waitBound(t, s, ns, "db"); n != "taint-0" {
			t.Fatalf("tolerating pod on %s", n)
		}
		k(t, s, "taint", "nodes", "taint-1", "dedicated=db:NoSchedule")
		createIn(t, s, ns, schedPod("web2", "100m", ""))
		waitFailed(t, s, ns, "web2", "0/2 nodes are available: 2 node(s) had untolerated taint {dedicated: db}.")
		k(t, s, "taint", "nodes", "taint-1", "dedicated-")
		if n := waitBound(t, s, ns, "web2"); n != "taint-1" {
			t.Fatalf("web2 on %s after the taint was removed", n)
		}
	})

	t.Run("NodeSelector", func(t *testing.T) {
		ns := namespace(t, s)
		hollowNodes(t, s, ns, "sel", 2, "4")
		k(t, s, "label", "nodes", "sel-0", "disk=ssd")
		k(t, s, "label", "nodes", "sel-1", "disk=hdd")
		createIn(t, s, ns, schedPod("fast", "100m", "  nodeSelector: {disk: ssd}"), schedPod("nvme", "100m", "  nodeSelector: {disk: nvme}"))
		if n := waitBound(t, s, ns, "fast"); n != "sel-0" {
			t.Fatalf("fast on %s", n)
		}
		waitFailed(t, s, ns, "nvme", "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.")
		k(t, s, "label", "nodes", "sel-1", "disk=nvme", "--overwrite")
		if n := waitBound(t, s, ns, "nvme"); n != "sel-1" {
			t.Fatalf("nvme on %s after relabel", n)
		}
	})

	t.Run("AntiAffinitySpreadsReplicas", func(t *testing.T) {
		ns := namespace(t, s)
		hollowNodes(t, s, ns, "anti", 3, "4")
		rs := `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector: {matchLabels: {app: web}}
      containers:
      - name: c
        image: busybox:1.36
        resources: {requests: {cpu: 100m}}
`
		createIn(t, s, ns, rs)
		var pending string
		eventually(t, 60*time.Second, func() error {
			out := k(t, s, "-n", ns, "get", "pods", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.metadata.name}={.spec.nodeName}{"\n"}{end}`)
			seen := map[string]bool{}
			pending = ""
			n := 0
			for _, l := range lines(out) {
				name, node, _ := strings.Cut(l, "=")
				n++
				if node == "" {
					pending = name
					continue
				}
				if seen[node] {
					return fmt.Errorf("two replicas on %s:\n%s", node, out)
				}
				seen[node] = true
			}
			if n != 4 || len(seen) != 3 || pending == "" {
				return fmt.Errorf("want 3 replicas on 3 nodes and 1 pending:\n%s", out)
			}
			return nil
		})
		waitFailed(t, s, ns, pending, "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.")
	})

	t.Run("PriorityPreemption", func(t *testing.T) {
		ns := namespace(t, s)
		hollowNodes(t, s, ns, "prio", 1, "2")
		createIn(t, s, ns, `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: e2e-low}
value: 10
`, `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: e2e-high}
value: 1000
`, `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: e2e-polite}
value: 1000
preemptionPolicy: Never
`)
		t.Cleanup(func() { _, _, _ = s.Kubectl("delete", "priorityclass", "e2e-low", "e2e-high", "e2e-polite") })
		createIn(t, s, ns, schedPod("low-a", "1", "  priorityClassName: e2e-low"), schedPod("low-b", "1", "  priorityClassName: e2e-low"))
		waitBound(t, s, ns, "low-a")
		waitBound(t, s, ns, "low-b")
		createIn(t, s, ns, schedPod("polite", "1", "  priorityClassName: e2e-polite"))
		waitFailed(t, s, ns, "polite", "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.")
		k(t, s, "-n", ns, "delete", "pod", "polite", "--grace-period=0", "--force")

		createIn(t, s, ns, schedPod("vip", "1", "  priorityClassName: e2e-high"))
		// One low-priority pod is preempted: it gets the Preempted event, its
		// node's agent stops it, and the high-priority pod takes its place.
		var victim string
		eventually(t, 60*time.Second, func() error {
			out := k(t, s, "-n", ns, "get", "events", "--field-selector", "reason=Preempted", "-o", `jsonpath={range .items[*]}{.involvedObject.name}:{.message}{"\n"}{end}`)
			for _, l := range lines(out) {
				name, msg, _ := strings.Cut(l, ":")
				if strings.Contains(msg, "Preempted by pod "+ns+"/vip on node prio-0") {
					victim = name
					return nil
				}
			}
			return fmt.Errorf("no Preempted event yet: %q", out)
		})
		if victim != "low-a" && victim != "low-b" {
			t.Fatalf("victim %q", victim)
		}
		if nom := k(t, s, "-n", ns, "get", "pod", "vip", "-o", "jsonpath={.status.nominatedNodeName}"); nom != "prio-0" {
			t.Fatalf("nominatedNodeName = %q", nom)
		}
		if n := waitBound(t, s, ns, "vip"); n != "prio-0" {
			t.Fatalf("vip on %s", n)
		}
		other := map[string]string{"low-a": "low-b", "low-b": "low-a"}[victim]
		if n := nodeOf(t, s, ns, other); n != "prio-0" {
			t.Fatalf("the other low pod moved: %q", n)
		}
	})

	t.Run("SchedulingGates", func(t *testing.T) {
		ns := namespace(t, s)
		hollowNodes(t, s, ns, "gate", 1, "2")
		createIn(t, s, ns, schedPod("gated", "100m", "  schedulingGates:\n  - name: example.com/wait"))
		out := k(t, s, "-n", ns, "get", "pod", "gated")
		if !strings.Contains(out, "SchedulingGated") {
			t.Fatalf("kubectl get pod:\n%s", out)
		}
		time.Sleep(time.Second)
		if n := nodeOf(t, s, ns, "gated"); n != "" {
			t.Fatalf("gated pod bound to %s", n)
		}
		k(t, s, "-n", ns, "patch", "pod", "gated", "--type=json", "-p", `[{"op":"remove","path":"/spec/schedulingGates"}]`)
		if n := waitBound(t, s, ns, "gated"); n != "gate-0" {
			t.Fatalf("bound to %s", n)
		}
	})

	t.Run("OtherSchedulerNameIsLeftAlone", func(t *testing.T) {
		ns := namespace(t, s)
		hollowNodes(t, s, ns, "other", 1, "2")
		createIn(t, s, ns, schedPod("theirs", "100m", "  schedulerName: my-scheduler"), schedPod("ours", "100m", ""))
		waitBound(t, s, ns, "ours")
		time.Sleep(time.Second)
		if n := nodeOf(t, s, ns, "theirs"); n != "" {
			t.Fatalf("a pod for another scheduler was bound to %s", n)
		}
	})
}
