package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"tug/test/framework"
)

// startHollow runs `tug agent --hollow n` against s and waits until n nodes are
// Ready, and returns the agent's PID.
func startHollow(b *testing.B, s *framework.Server, cs *kubernetes.Clientset, n int) int {
	b.Helper()
	dir := b.TempDir()
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(s.Bin, "agent", "--hollow", fmt.Sprint(n), "--server", s.URL,
		"--token-file", filepath.Join(s.Dir, "data", "node-token"), "--data-dir", filepath.Join(dir, "agent"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err == nil {
			ready := 0
			for _, nd := range nodes.Items {
				for _, c := range nd.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
			if ready >= n {
				// Let the burst of joins (certificates, first statuses) pass, so
				// the measurement sees nodes in their steady state.
				time.Sleep(15 * time.Second)
				return cmd.Process.Pid
			}
		}
		time.Sleep(time.Second)
	}
	b.Fatalf("%d hollow nodes not ready after 5 minutes", n)
	return 0
}

// startSchedServer starts a server whose cluster CIDR has a /24 for each of
// thousands of nodes (the default /16 has 256).
func startSchedServer(b *testing.B) (*framework.Server, *kubernetes.Clientset) {
	b.Helper()
	s, err := framework.StartServer(tugBin, b.TempDir(), "--cluster-cidr", "10.128.0.0/9")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Stop)
	cs, err := s.Clientset()
	if err != nil {
		b.Fatal(err)
	}
	return s, cs
}

func schedPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "sched-bench"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "busybox:1.36", Command: []string{"sleep", "3600"},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
			}},
		}}},
	}
}

// bindWatch records when each pod s-NNNNNN of ns is first seen bound.
type bindWatch struct {
	boundAt []int64 // unix nanos
	count   atomic.Int64
	all     chan struct{}
}

func watchBindings(b *testing.B, ctx context.Context, cs *kubernetes.Clientset, ns string, pods int) *bindWatch {
	b.Helper()
	bw := &bindWatch{boundAt: make([]int64, pods), all: make(chan struct{})}
	// Only bound pods: the watch is the benchmark's instrument and shares the
	// machine with the server, so it does not decode the pods' creation.
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName!="})
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Spec.NodeName == "" {
				continue
			}
			var i int
			if _, err := fmt.Sscanf(p.Name, "s-%d", &i); err != nil || i < 0 || i >= pods || bw.boundAt[i] != 0 {
				continue
			}
			bw.boundAt[i] = time.Now().UnixNano()
			if bw.count.Add(1) == int64(pods) {
				close(bw.all)
				return
			}
		}
	}()
	return bw
}

func (bw *bindWatch) wait(b *testing.B, pods int) {
	b.Helper()
	select {
	case <-bw.all:
	case <-time.After(10 * time.Minute):
		b.Fatalf("only %d of %d pods bound after 10 minutes", bw.count.Load(), pods)
	}
}

// createPod creates a pod without decoding the pod the server returns (nothing
// reads it; the benchmark client shares the two cores with the server).
func createPod(ctx context.Context, cs *kubernetes.Clientset, pod *corev1.Pod) error {
	return cs.CoreV1().RESTClient().Post().Namespace(pod.Namespace).Resource("pods").Body(pod).Do(ctx).Error()
}

// parallel runs f(i) for i in [0, n) on 32 clients.
func parallel(b *testing.B, n int, f func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for c := 0; c < 32; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// benchmarkScheduling creates pods onto hollow nodes with 32 clients and waits
// until every pod is bound: pods/s from the first create to the last binding,
// and the per-pod latency from the create request to the binding seen by a watch.
func benchmarkScheduling(b *testing.B, nodes, pods int) {
	s, cs := startSchedServer(b)
	agent := startHollow(b, s, cs, nodes)
	ns := "sched"
	mustNamespace(b, cs, ns)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bw := watchBindings(b, ctx, cs, ns, pods)
	created := make([]int64, pods) // unix nanos when the create was sent

	cpu0, _ := cpuSeconds(s.PID())
	agent0, _ := cpuSeconds(agent)
	self0, _ := cpuSeconds(os.Getpid())
	profileServer(b, ctx, cs, 8)
	allocProfile(b, ctx, cs, ".0")
	b.ResetTimer()
	start := time.Now()
	parallel(b, pods, func(i int) error {
		atomic.StoreInt64(&created[i], time.Now().UnixNano())
		return createPod(ctx, cs, schedPod(ns, fmt.Sprintf("s-%06d", i)))
	})
	createdAll := time.Since(start)
	bw.wait(b, pods)
	b.StopTimer()
	allocProfile(b, ctx, cs, ".1")
	cpu1, _ := cpuSeconds(s.PID())
	agent1, _ := cpuSeconds(agent)
	self1, _ := cpuSeconds(os.Getpid())
	var last int64
	lat := make([]time.Duration, pods)
	for i, t := range bw.boundAt {
		last = max(last, t)
		lat[i] = time.Duration(t - created[i])
	}
	wall := time.Duration(last - start.UnixNano())
	p50, p99 := percentiles(lat)
	b.ReportMetric(float64(pods)/wall.Seconds(), "pods/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(pods)/createdAll.Seconds(), "creates/s")
	b.ReportMetric((cpu1-cpu0)*1000/float64(pods), "server-CPU-ms/pod")
	b.ReportMetric((agent1-agent0)*1000/float64(pods), "agent-CPU-ms/pod")
	b.ReportMetric((self1-self0)*1000/float64(pods), "bench-CPU-ms/pod")
	reportRSS(b, s, "server-MiB")
	b.Logf("%d pods on %d nodes: all created in %s, all bound in %s", pods, nodes, createdAll.Round(time.Millisecond), wall.Round(time.Millisecond))
}

// benchmarkBacklog measures the scheduler draining a queue, without creates
// competing for the API server: the benchmark takes the scheduler's Lease (the
// scheduler steps down), creates the pods, then deletes the Lease; the time runs
// from that deletion (the scheduler takes over, lists the pods and places them)
// to the last binding.
func benchmarkBacklog(b *testing.B, nodes, pods int) {
	s, cs := startSchedServer(b)
	startHollow(b, s, cs, nodes)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leases := cs.CoordinationV1().Leases("kube-system")
	for {
		l, err := leases.Get(ctx, "kube-scheduler", metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		holder, secs, now := "benchmark", int32(3600), metav1.NewMicroTime(time.Now())
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.AcquireTime, l.Spec.RenewTime = &holder, &secs, &now, &now
		if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err == nil {
			break
		} else if !apierrors.IsConflict(err) {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(s.LogTail(2000), `msg="leadership ended" lease=kube-system/kube-scheduler`) {
		if time.Now().After(deadline) {
			b.Fatal("the scheduler did not step down")
		}
		time.Sleep(200 * time.Millisecond)
	}
	ns := "backlog"
	mustNamespace(b, cs, ns)
	bw := watchBindings(b, ctx, cs, ns, pods)
	parallel(b, pods, func(i int) error {
		_, err := cs.CoreV1().Pods(ns).Create(ctx, schedPod(ns, fmt.Sprintf("s-%06d", i)), metav1.CreateOptions{})
		return err
	})
	time.Sleep(5 * time.Second)
	if n := bw.count.Load(); n != 0 {
		b.Fatalf("%d pods bound while the scheduler was not leading", n)
	}
	cpu0, _ := cpuSeconds(s.PID())
	b.ResetTimer()
	start := time.Now()
	if err := leases.Delete(ctx, "kube-scheduler", metav1.DeleteOptions{}); err != nil {
		b.Fatal(err)
	}
	bw.wait(b, pods)
	b.StopTimer()
	cpu1, _ := cpuSeconds(s.PID())
	var first, last int64 = math.MaxInt64, 0
	for _, t := range bw.boundAt {
		first, last = min(first, t), max(last, t)
	}
	wall := time.Duration(last - start.UnixNano())
	drain := time.Duration(last - first)
	b.ReportMetric(float64(pods)/wall.Seconds(), "pods/s")
	b.ReportMetric(float64(pods)/drain.Seconds(), "pods/s-after-first-bind")
	b.ReportMetric((cpu1-cpu0)*1000/float64(pods), "server-CPU-ms/pod")
	reportRSS(b, s, "server-MiB")
	b.Logf("backlog of %d pods on %d nodes: first binding %s after the lease was freed, all bound after %s",
		pods, nodes, time.Duration(first-start.UnixNano()).Round(time.Millisecond), wall.Round(time.Millisecond))
}

// profileServer writes a CPU profile of the server's next secs seconds to the
// file named by TUG_BENCH_CPUPROFILE, when it is set (for looking into a run:
// go tool pprof bin/tug FILE); TUG_BENCH_CPUPROFILE_SECONDS changes secs.
func profileServer(b *testing.B, ctx context.Context, cs *kubernetes.Clientset, secs int) {
	file := os.Getenv("TUG_BENCH_CPUPROFILE")
	if file == "" {
		return
	}
	if v, err := strconv.Atoi(os.Getenv("TUG_BENCH_CPUPROFILE_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	go func() {
		data, err := cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", fmt.Sprint(secs)).DoRaw(ctx)
		if err == nil {
			err = os.WriteFile(file, data, 0o644)
		}
		if err != nil {
			b.Logf("cpu profile: %v", err)
		}
	}()
}

// allocProfile writes the server's allocation profile (counted since it started) to
// the file named by TUG_BENCH_ALLOCPROFILE plus suffix, when it is set. What a run
// allocated: go tool pprof -sample_index=alloc_space -base FILE.0 bin/tug FILE.1
func allocProfile(b *testing.B, ctx context.Context, cs *kubernetes.Clientset, suffix string) {
	file := os.Getenv("TUG_BENCH_ALLOCPROFILE")
	if file == "" {
		return
	}
	data, err := cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/allocs").DoRaw(ctx)
	if err == nil {
		err = os.WriteFile(file+suffix, data, 0o644)
	}
	if err != nil {
		b.Logf("allocation profile: %v", err)
	}
}

// BenchmarkScheduling1000Nodes: 10,000 pods onto 1,000 hollow nodes.
func BenchmarkScheduling1000Nodes(b *testing.B) { benchmarkScheduling(b, 1000, 10000) }

// BenchmarkScheduling5000Nodes: 5,000 pods onto 5,000 hollow nodes.
func BenchmarkScheduling5000Nodes(b *testing.B) { benchmarkScheduling(b, 5000, 5000) }

// BenchmarkSchedulingBacklog1000Nodes: a queue of 10,000 pods drained onto 1,000
// hollow nodes.
func BenchmarkSchedulingBacklog1000Nodes(b *testing.B) { benchmarkBacklog(b, 1000, 10000) }
