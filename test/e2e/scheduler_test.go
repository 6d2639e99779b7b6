package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The scheduler's end-to-end tests run on a private server whose node monitor
// grace period is long, so that Node objects created here (with no agent behind
// them) stay Ready; each subtest creates its own nodes and removes them.

// schedNode is a Ready node manifest with the given allocatable cpu.
func schedNode(name, cpu string, extra string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Node
metadata:
  name: %s
  labels:
    kubernetes.io/hostname: %s
%s
status:
  capacity: {cpu: "%s", memory: 8Gi, pods: "110"}
  allocatable: {cpu: "%s", memory: 8Gi, pods: "110"}
  conditions:
  - {type: Ready, status: "True", reason: KubeletReady, message: ready}
`, name, name, extra, cpu, cpu)
}

// withNodes creates nodes and deletes them (and every pod of ns) when the
// subtest ends.
func withNodes(t *testing.T, s *Server, ns string, manifests ...string) {
	t.Helper()
	var names []string
	for _, m := range manifests {
		if out, errOut, err := kStdin(t, s, m, "create", "-f", "-"); err != nil {
			t.Fatalf("create node: %v\n%s%s", err, out, errOut)
		}
		names = append(names, strings.Fields(strings.SplitN(m, "name: ", 2)[1])[0])
	}
	t.Cleanup(func() {
		_, _, _ = s.Kubectl("-n", ns, "delete", "pods", "--all", "--grace-period=0", "--force", "--wait=false")
		_, _, _ = s.Kubectl(append([]string{"delete", "node", "--wait=false"}, names...)...)
	})
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
	s := newServer(t, "--node-monitor-grace-period", "1h")

	t.Run("PodsLandOnlyWhereTheyFit", func(t *testing.T) {
		ns := namespace(t, s)
		withNodes(t, s, ns, schedNode("fit-big", "2", ""), schedNode("fit-small", "1", ""))
		for i := 0; i < 3; i++ {
			createIn(t, s, ns, schedPod(fmt.Sprintf("p%d", i), "1", ""))
		}
		per := map[string]int{}
		for i := 0; i < 3; i++ {
			per[waitBound(t, s, ns, fmt.Sprintf("p%d", i))]++
		}
		if per["fit-big"] != 2 || per["fit-small"] != 1 {
			t.Fatalf("placement %v, want 2 on fit-big and 1 on fit-small", per)
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
		withNodes(t, s, ns, schedNode("cordon-1", "2", ""))
		k(t, s, "cordon", "cordon-1")
		createIn(t, s, ns, schedPod("waits", "100m", ""))
		waitFailed(t, s, ns, "waits", "0/1 nodes are available: 1 node(s) were unschedulable.")
		k(t, s, "uncordon", "cordon-1")
		if n := waitBound(t, s, ns, "waits"); n != "cordon-1" {
			t.Fatalf("bound to %s", n)
		}
	})

	t.Run("TaintsAndTolerations", func(t *testing.T) {
		ns := namespace(t, s)
		withNodes(t, s, ns, schedNode("taint-db", "4", ""), schedNode("taint-plain", "4", ""))
		k(t, s, "taint", "nodes", "taint-db", "dedicated=db:NoSchedule")
		k(t, s, "label", "nodes", "taint-db", "role=db")
		createIn(t, s, ns,
			schedPod("web", "100m", ""),
			schedPod("db", "100m", `  nodeSelector: {role: db}
  tolerations:
  - {key: dedicated, operator: Equal, value: db, effect: NoSchedule}`))
		if n := waitBound(t, s, ns, "web"); n != "taint-plain" {
			t.Fatalf("untolerating pod on %s", n)
		}
		if n := waitBound(t, s, ns, "db"); n != "taint-db" {
			t.Fatalf("tolerating pod on %s", n)
		}
		k(t, s, "taint", "nodes", "taint-plain", "dedicated=db:NoSchedule")
		createIn(t, s, ns, schedPod("web2", "100m", ""))
		waitFailed(t, s, ns, "web2", "0/2 nodes are available: 2 node(s) had untolerated taint {dedicated: db}.")
		k(t, s, "taint", "nodes", "taint-plain", "dedicated-")
		if n := waitBound(t, s, ns, "web2"); n != "taint-plain" {
			t.Fatalf("web2 on %s after the taint was removed", n)
		}
	})

	t.Run("NodeSelector", func(t *testing.T) {
		ns := namespace(t, s)
		withNodes(t, s, ns, schedNode("sel-ssd", "4", ""), schedNode("sel-hdd", "4", ""))
		k(t, s, "label", "nodes", "sel-ssd", "disk=ssd")
		k(t, s, "label", "nodes", "sel-hdd", "disk=hdd")
		createIn(t, s, ns, schedPod("fast", "100m", "  nodeSelector: {disk: ssd}"), schedPod("nvme", "100m", "  nodeSelector: {disk: nvme}"))
		if n := waitBound(t, s, ns, "fast"); n != "sel-ssd" {
			t.Fatalf("fast on %s", n)
		}
		waitFailed(t, s, ns, "nvme", "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.")
		k(t, s, "label", "nodes", "sel-hdd", "disk=nvme", "--overwrite")
		if n := waitBound(t, s, ns, "nvme"); n != "sel-hdd" {
			t.Fatalf("nvme on %s after relabel", n)
		}
	})

	t.Run("AntiAffinitySpreadsReplicas", func(t *testing.T) {
		ns := namespace(t, s)
		withNodes(t, s, ns, schedNode("anti-1", "4", ""), schedNode("anti-2", "4", ""), schedNode("anti-3", "4", ""))
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
		withNodes(t, s, ns, schedNode("prio-1", "2", ""))
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
		// One low-priority pod is preempted: it gets the Preempted event and
		// goes away (with no agent behind the node, a terminating victim is
		// finished here as a kubelet would).
		var victim string
		eventually(t, 60*time.Second, func() error {
			out := k(t, s, "-n", ns, "get", "events", "--field-selector", "reason=Preempted", "-o", `jsonpath={range .items[*]}{.involvedObject.name}:{.message}{"\n"}{end}`)
			for _, l := range lines(out) {
				name, msg, _ := strings.Cut(l, ":")
				if strings.Contains(msg, "Preempted by pod "+ns+"/vip on node prio-1") {
					victim = name
					return nil
				}
			}
			return fmt.Errorf("no Preempted event yet: %q", out)
		})
		if victim != "low-a" && victim != "low-b" {
			t.Fatalf("victim %q", victim)
		}
		if nom := k(t, s, "-n", ns, "get", "pod", "vip", "-o", "jsonpath={.status.nominatedNodeName}"); nom != "prio-1" {
			t.Fatalf("nominatedNodeName = %q", nom)
		}
		_, _, _ = s.Kubectl("-n", ns, "delete", "pod", victim, "--grace-period=0", "--force")
		if n := waitBound(t, s, ns, "vip"); n != "prio-1" {
			t.Fatalf("vip on %s", n)
		}
		other := map[string]string{"low-a": "low-b", "low-b": "low-a"}[victim]
		if n := nodeOf(t, s, ns, other); n != "prio-1" {
			t.Fatalf("the other low pod moved: %q", n)
		}
	})

	t.Run("OtherSchedulerNameIsLeftAlone", func(t *testing.T) {
		ns := namespace(t, s)
		withNodes(t, s, ns, schedNode("other-1", "2", ""))
		createIn(t, s, ns, schedPod("theirs", "100m", "  schedulerName: my-scheduler"), schedPod("ours", "100m", ""))
		waitBound(t, s, ns, "ours")
		time.Sleep(time.Second)
		if n := nodeOf(t, s, ns, "theirs"); n != "" {
			t.Fatalf("a pod for another scheduler was bound to %s", n)
		}
	})
}
