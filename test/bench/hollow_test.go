package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"tug/test/framework"
)

// rssOf returns a process's resident set size in bytes.
func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// countReady counts the Ready nodes.
func countReady(cs *kubernetes.Clientset) int {
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return 0
	}
	ready := 0
	for _, nd := range nodes.Items {
		for _, c := range nd.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready
}

// BenchmarkHollowNodes1000 joins 1,000 hollow nodes (each with its own
// certificate), lets them heartbeat, then runs 5,000 pods on them, and reports
// the time to join and the agent's memory.
func BenchmarkHollowNodes1000(b *testing.B) {
	const nodes, pods = 1000, 5000
	// 1,000 nodes need more than the 256 /24s of the default cluster CIDR.
	s, err := framework.StartServer(tugBin, b.TempDir(), "--cluster-cidr", "10.0.0.0/12")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Stop)
	cs, err := s.Clientset()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command(tugBin, "agent", "--hollow", fmt.Sprint(nodes), "--name-prefix", "bench", "--server", s.URL,
		"--token-file", filepath.Join(s.Dir, "data", "node-token"), "--data-dir", filepath.Join(dir, "agent"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	for countReady(cs) < nodes {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("%d hollow nodes not Ready after 5 minutes", nodes)
		}
		time.Sleep(500 * time.Millisecond)
	}
	joined := time.Since(start)
	// Steady heartbeats for a while (every lease renewed at least twice).
	time.Sleep(30 * time.Second)
	idleRSS, err := rssOf(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	if r := countReady(cs); r != nodes {
		b.Fatalf("only %d of %d nodes Ready after 30 s of heartbeats", r, nodes)
	}

	ctx := context.Background()
	replicas := int32(pods)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "load", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "load"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "load"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
			},
		},
	}
	podStart := time.Now()
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	for {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("status.phase", "Running").String(), ResourceVersion: "0"})
		if err == nil && len(list.Items) >= pods {
			break
		}
		if time.Since(podStart) > 10*time.Minute {
			b.Fatalf("%d pods not running after 10 minutes", pods)
		}
		time.Sleep(time.Second)
	}
	running := time.Since(podStart)
	time.Sleep(15 * time.Second)
	loadRSS, err := rssOf(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	serverRSS, _ := s.RSS()
	b.ReportMetric(joined.Seconds(), "s-to-ready")
	b.ReportMetric(float64(idleRSS)/(1<<20), "agent-MiB-idle")
	b.ReportMetric(running.Seconds(), "s-to-run-pods")
	b.ReportMetric(float64(loadRSS)/(1<<20), "agent-MiB-with-pods")
	b.ReportMetric(float64(serverRSS)/(1<<20), "server-MiB")
	b.Logf("%d hollow nodes Ready %s after start; agent RSS %.0f MiB idle; %d pods running after %s; agent RSS %.0f MiB with pods, server %.0f MiB",
		nodes, joined.Round(time.Millisecond), float64(idleRSS)/(1<<20), pods, running.Round(time.Millisecond), float64(loadRSS)/(1<<20), float64(serverRSS)/(1<<20))
}
