package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"tug/internal/agent/network"
	"tug/internal/agent/node"
	"tug/test/framework"
)

// TestUp runs `tug up` (server and node in one process, the node in a network
// namespace tug makes), runs a pod on it, and checks that stopping it leaves
// nothing behind: no namespace, no bridge, no mounts, no cgroups, no processes.
func TestUp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	nn := framework.NewNodeNet()
	dir := t.TempDir()
	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pause, err := framework.PauseBinary(tugBin, dir)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("up%d", time.Now().UnixNano()%100000)
	netns := "tug-" + name
	data := filepath.Join(dir, "data")
	logPath := filepath.Join(dir, "up.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tugBin, "up", "--data-dir", data, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--node-name", name, "--bridge", nn.Bridge, "--bridge-cidr", nn.CIDR, "--pause-binary", pause)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("tug up log:\n%s", b)
		}
		_ = node.Reset(filepath.Join(data, "agent"), netns, "/tug/"+name)
		_ = nn.Delete()
	})
	eventually(t, 90*time.Second, func() error {
		select {
		case <-done:
			return fmt.Errorf("tug up exited")
		default:
		}
		b, _ := os.ReadFile(logPath)
		if !strings.Contains(string(b), "tug is up") {
			return fmt.Errorf("not up yet")
		}
		return nil
	})
	s := &framework.Server{Dir: dir, Kubeconfig: filepath.Join(data, "admin.kubeconfig")}
	if out := k(t, s, "get", "nodes", "-o", "wide"); !strings.Contains(out, name) || !strings.Contains(out, "Ready") || !strings.Contains(out, "containerd://") {
		t.Fatalf("kubectl get nodes:\n%s", out)
	}
	k(t, s, "run", "hello", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo hello; sleep 3600")
	c := &nodeCluster{s: s}
	p := c.waitPod(t, "default", "hello", 90*time.Second, "running", running)
	if p.Spec.NodeName != name || p.Status.PodIP == "" {
		t.Fatalf("pod on %q with IP %q", p.Spec.NodeName, p.Status.PodIP)
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Fatalf("phase %s", p.Status.Phase)
	}
	if holder := k(t, s, "get", "lease", "-n", "kube-node-lease", name, "-o", "jsonpath={.spec.holderIdentity}"); holder != name {
		t.Errorf("node lease held by %q", holder)
	}

	// Stop: everything tug up made goes away.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("tug up did not stop within 60s of SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(network.NetnsDir, netns)); err == nil {
		t.Errorf("network namespace %s left behind", netns)
	}
	if _, err := net.InterfaceByName(nn.Bridge); err == nil {
		t.Errorf("bridge %s left behind", nn.Bridge)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), data) {
		t.Errorf("mounts under %s left behind", data)
	}
	if m, _ := filepath.Glob("/sys/fs/cgroup/*/tug/" + name); len(m) > 0 {
		t.Errorf("cgroups left behind: %v", m)
	}
	if ps := processesNaming(filepath.Join(data, "agent")); len(ps) > 0 {
		t.Errorf("processes left behind: %v", ps)
	}
}

// processesNaming lists the command lines of processes that mention s.
func processesNaming(s string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
