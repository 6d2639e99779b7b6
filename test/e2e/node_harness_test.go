package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"tug/internal/agent/containerd"
	"tug/internal/agent/cri"
	"tug/internal/agent/node"
	"tug/test/framework"
)

// nodeCluster is a private server with one real node: `tug agent --netns` on
// real containerd, runc and CNI, in a network namespace of its own.
type nodeCluster struct {
	s     *Server
	a     *framework.Agent
	net   framework.NodeNet
	pause string
}

// startNodeCluster starts the cluster and removes everything it made when the
// test ends: containers, containerd, mounts, cgroups, the namespace and the
// bridge. On failure the agent's and containerd's logs are printed.
func startNodeCluster(t *testing.T) *nodeCluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("real nodes need root (network namespaces, containerd)")
	}
	nn := framework.NewNodeNet()
	c := &nodeCluster{net: nn}
	t.Cleanup(func() {
		if err := nn.Delete(); err != nil {
			t.Logf("delete bridge %s: %v", nn.Bridge, err)
		}
	})
	c.s = newServer(t, nn.ServerArgs()...)
	dir := t.TempDir()
	pause, err := framework.PauseBinary(tugBin, dir)
	if err != nil {
		t.Fatal(err)
	}
	c.pause = pause
	name := fmt.Sprintf("n%d", time.Now().UnixNano()%1000000)
	a, err := framework.StartAgent(tugBin, c.s, &c.net, filepath.Join(dir, "agent"), name, pause)
	c.a = a
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tug agent log (last 150 lines):\n%s", a.LogTail(150))
			t.Logf("containerd log (last 60 lines):\n%s", a.ContainerdLogTail(60))
		}
		if err := a.Reset(); err != nil {
			t.Errorf("reset node %s: %v", a.Name, err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runtime connects to the node's containerd through CRI.
func (c *nodeCluster) runtime(t *testing.T) *cri.Client {
	t.Helper()
	rt, err := cri.Dial(containerd.Config{Dir: node.ContainerdDir(c.a.DataDir())}.Socket())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// containersOf lists the runtime containers of a pod.
func (c *nodeCluster) containersOf(t *testing.T, uid string) []*runtimeapi.Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := c.runtime(t).ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"io.kubernetes.pod.uid": uid}})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// podOn renders a pod manifest bound to the node.
func (c *nodeCluster) apply(t *testing.T, ns, manifest string) {
	t.Helper()
	manifest = strings.ReplaceAll(manifest, "NODE", c.a.Name)
	if out, errOut, err := kStdin(t, c.s, manifest, "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s%s\nmanifest:\n%s", err, out, errOut, manifest)
	}
}

// pod reads a pod.
func (c *nodeCluster) pod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	out := k(t, c.s, "get", "pod", "-n", ns, name, "-o", "json")
	var p corev1.Pod
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// waitPod waits until cond holds for the pod.
func (c *nodeCluster) waitPod(t *testing.T, ns, name string, timeout time.Duration, what string, cond func(p *corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	eventually(t, timeout, func() error {
		out, _, err := c.s.Kubectl("get", "pod", "-n", ns, name, "-o", "json")
		if err != nil {
			return err
		}
		var p corev1.Pod
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			return err
		}
		last = &p
		if cond(&p) {
			return nil
		}
		b, _ := json.Marshal(p.Status)
		return fmt.Errorf("pod %s/%s is not %s; status: %s", ns, name, what, b)
	})
	return last
}

func running(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Running != nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readFile waits for a file a container writes into a hostPath volume.
func readFile(t *testing.T, path string, timeout time.Duration) string {
	t.Helper()
	var b []byte
	eventually(t, timeout, func() error {
		var err error
		b, err = os.ReadFile(path)
		if err == nil && len(b) == 0 {
			return fmt.Errorf("%s is empty", path)
		}
		return err
	})
	return string(b)
}
