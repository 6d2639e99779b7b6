package e2e

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The images on these nodes come from the machine's own busybox (no registry is
// reachable), so debug containers use `busybox`, which every node has.

var debuggerNameRE = regexp.MustCompile(`Defaulting debug container name to (\S+)\.`)

// debugStatus is the status of a pod's ephemeral container, if reported.
func debugStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range p.Status.EphemeralContainerStatuses {
		if p.Status.EphemeralContainerStatuses[i].Name == name {
			return &p.Status.EphemeralContainerStatuses[i]
		}
	}
	return nil
}

// testDebugContainer: `kubectl debug POD --target=CONTAINER -- CMD` adds an
// ephemeral container that runs once in the pod, sees the target's processes,
// leaves its output in its log and its exit in the pod's status; the pod's own
// container is untouched, and the debug container is never started again.
func testDebugContainer(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  nodeName: NODE
  containers:
  - name: main
    image: busybox
    command: [sleep, "3601"]
`)
	before := c.waitPod(t, ns, "app", 60*time.Second, "running", running)
	out, errOut, err := c.s.Kubectl("debug", "-n", ns, "app", "--image=busybox", "--target=main", "--", "sh", "-c", "ps; echo debug-ok")
	if err != nil {
		t.Fatalf("kubectl debug: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	m := debuggerNameRE.FindStringSubmatch(out + errOut)
	if m == nil {
		t.Fatalf("kubectl debug named no debug container: stdout %q stderr %q", out, errOut)
	}
	name := m[1]
	p := c.waitPod(t, ns, "app", 60*time.Second, "showing the debug container ended", func(p *corev1.Pod) bool {
		ds := debugStatus(p, name)
		return ds != nil && ds.State.Terminated != nil
	})
	ds := debugStatus(p, name)
	if ds.State.Terminated.ExitCode != 0 || ds.State.Terminated.Reason != "Completed" || !strings.HasPrefix(ds.ContainerID, "containerd://") || ds.ImageID == "" || ds.Image == "" {
		t.Errorf("debug container status %+v", ds)
	}
	code := k(t, c.s, "get", "pod", "-n", ns, "app", "-o", "jsonpath={.status.ephemeralContainerStatuses[0].state.terminated.exitCode}")
	if code != "0" {
		t.Errorf("jsonpath exit code %q, want 0", code)
	}
	logs := k(t, c.s, "logs", "-n", ns, "app", "-c", name)
	// In the target's PID namespace the debug container sees the target's
	// process (PID 1 there) besides its own.
	if !strings.Contains(logs, "debug-ok") || !regexp.MustCompile(`(?m)^\s*1 .*sleep 3601`).MatchString(logs) {
		t.Errorf("debug container log %q: want debug-ok and the target's sleep 3601 as PID 1", logs)
	}

	// Nothing restarts: the pod's own container keeps running as it was, and
	// the debug container stays ended (one runtime container for it).
	time.Sleep(3 * time.Second)
	p = c.pod(t, ns, "app")
	if ds2 := debugStatus(p, name); ds2 == nil || ds2.State.Terminated == nil || ds2.ContainerID != ds.ContainerID || ds2.RestartCount != 0 {
		t.Errorf("debug container status later %+v, want it still ended as %s", ds2, ds.ContainerID)
	}
	if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 || cs.State.Running == nil || cs.ContainerID != before.Status.ContainerStatuses[0].ContainerID {
		t.Errorf("the pod's own container changed: %+v", cs)
	}
	n := 0
	for _, rc := range c.containersOf(t, string(p.UID)) {
		if rc.Metadata.Name == name {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d runtime containers for the debug container, want 1", n)
	}

	// Ephemeral containers may be added, never removed.
	errOut = kFail(t, c.s, "patch", "pod", "-n", ns, "app", "--subresource=ephemeralcontainers", "--type=json",
		"-p", `[{"op":"remove","path":"/spec/ephemeralContainers/0"}]`)
	if !strings.Contains(errOut, "spec.ephemeralContainers: Forbidden") || !strings.Contains(errOut, "may not be removed") {
		t.Errorf("removing a debug container: %q", errOut)
	}
}

// testDebugInteractive: `kubectl debug -it --target` attaches a terminal to a
// shell in a new debug container that sees the target's processes; the
// container ends with the shell.
func testDebugInteractive(t *testing.T, c *nodeCluster, ns string) {
	p := startPTY(t, c, "debug -it -n "+ns+" ticker --image=busybox --target=main -- sh")
	p.waitFor(t, "If you don't see a command prompt")
	// The shell may have prompted before kubectl attached: a new line asks again.
	io.WriteString(p.stdin, "\n")
	p.waitFor(t, "# ")
	io.WriteString(p.stdin, "echo in-debug-$((40+2)); tty\n")
	p.waitFor(t, "in-debug-42")
	// The ticker's shell loop is PID 1 of the target's namespace.
	io.WriteString(p.stdin, "ps | grep -q '^ *1 .*sh -c i=0' && echo sees-$((1+1))-target\n")
	p.waitFor(t, "sees-2-target")
	io.WriteString(p.stdin, "exit\n")
	if code, err := p.exitCode(); code != 0 || err != nil {
		t.Errorf("debug -it ended with %d (%v); output %q", code, err, p.out.String())
	}
	out := p.out.String()
	m := debuggerNameRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no debug container name in %q", out)
	}
	if !strings.Contains(out, "/dev/pts/") {
		t.Errorf("the debug shell has no terminal: %q", out)
	}
	c.waitPod(t, ns, "ticker", 30*time.Second, fmt.Sprintf("showing %s ended", m[1]), func(p *corev1.Pod) bool {
		ds := debugStatus(p, m[1])
		return ds != nil && ds.State.Terminated != nil && ds.State.Terminated.ExitCode == 0
	})
}
