package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"tug/internal/agent/containerd"
	"tug/internal/agent/cri"
	"tug/internal/agent/node"
	"tug/test/framework"
)

// BenchmarkPodStartup measures pod start-up on one real node (tug agent --netns
// on containerd, runc and the CNI bridge): create → Running as a watch sees it,
// one pod at a time and in bursts, next to the floor, the same sandboxes and
// containers made directly through CRI on the same containerd with nothing in
// between.
func BenchmarkPodStartup(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	nn := framework.NewNodeNet()
	b.Cleanup(func() { _ = nn.Delete() })
	s, err := framework.StartServer(tugBin, b.TempDir(), nn.ServerArgs()...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Stop)
	dir := b.TempDir()
	pause, err := framework.PauseBinary(tugBin, dir)
	if err != nil {
		b.Fatal(err)
	}
	a, err := framework.StartAgent(tugBin, s, &nn, filepath.Join(dir, "agent"), "bench", pause)
	b.Cleanup(func() {
		if b.Failed() {
			b.Logf("agent log:\n%s", a.LogTail(80))
		}
		if err := a.Reset(); err != nil {
			b.Logf("reset: %v", err)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	cs, err := s.Clientset()
	if err != nil {
		b.Fatal(err)
	}
	rt, err := cri.Dial(containerd.Config{Dir: node.ContainerdDir(a.DataDir())}.Socket())
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	logDir := filepath.Join(dir, "floor-logs")

	mustNamespace(b, cs, "startup")
	w := newRunningWatch(b, cs, "startup")
	defer w.stop()
	seq := 0
	run := func(burst int) []time.Duration {
		names := make([]string, burst)
		for i := range names {
			seq++
			names[i] = fmt.Sprintf("p%03d", seq)
		}
		var wg sync.WaitGroup
		for _, name := range names {
			wg.Add(1)
			go func(name string) {
				defer wg.Done()
				w.created(name)
				if _, err := cs.CoreV1().Pods("startup").Create(context.Background(), startupPod(name, a.Name), metav1.CreateOptions{}); err != nil {
					b.Error(err)
				}
			}(name)
		}
		wg.Wait()
		return w.waitAll(b, names, 120*time.Second)
	}
	// The machine is shared and its load moves: tug and the floor take turns,
	// round by round, so both see the same conditions.
	b.ResetTimer()
	// First, on the fresh node:
	// 100 pods at a steady 5 pods/s (how the reference kubelet was measured on this
	// machine: p50 1,082 ms, p99 1,701 ms).
	var steadyNames []string
	var swg sync.WaitGroup
	tick := time.NewTicker(200 * time.Millisecond)
	for i := 0; i < 100; i++ {
		<-tick.C
		seq++
		name := fmt.Sprintf("p%03d", seq)
		steadyNames = append(steadyNames, name)
		swg.Add(1)
		go func(name string) {
			defer swg.Done()
			w.created(name)
			if _, err := cs.CoreV1().Pods("startup").Create(context.Background(), startupPod(name, a.Name), metav1.CreateOptions{}); err != nil {
				b.Error(err)
			}
		}(name)
	}
	tick.Stop()
	swg.Wait()
	steady := w.waitAll(b, steadyNames, 120*time.Second)
	s50, s99 := percentiles(steady)
	b.Logf("100 pods at 5 pods/s: tug p50 %v p99 %v", s50.Round(time.Millisecond), s99.Round(time.Millisecond))
	b.ReportMetric(float64(s50.Milliseconds()), "p50-ms-steady5")
	b.ReportMetric(float64(s99.Milliseconds()), "p99-ms-steady5")
	// Make room for the bursts and let the node finish tearing those pods down.
	b.StopTimer()
	emptyNamespace(b, cs, "startup")
	time.Sleep(15 * time.Second)
	b.StartTimer()
	results := map[int][]time.Duration{}
	floor := map[int][]time.Duration{}
	for _, c := range []struct{ burst, rounds int }{{1, 20}, {10, 2}, {30, 1}, {100, 1}} {
		if c.burst == 100 {
			// A node takes 110 pods and its /24 has 254 addresses: make room for
			// the burst of 100 (and the floor's 100 sandboxes).
			b.StopTimer()
			emptyNamespace(b, cs, "startup")
			clearFloor(b, rt)
			time.Sleep(15 * time.Second)
			b.StartTimer()
		}
		for r := 0; r < c.rounds; r++ {
			floor[c.burst] = append(floor[c.burst], floorRun(b, rt, logDir, c.burst, c.burst)...)
			if c.burst == 100 {
				clearFloor(b, rt)
			}
			results[c.burst] = append(results[c.burst], run(c.burst)...)
		}
	}
	b.StopTimer()
	for _, burst := range []int{1, 10, 30, 100} {
		p50, p99 := percentiles(results[burst])
		f50, f99 := percentiles(floor[burst])
		b.Logf("burst %2d: tug p50 %v p99 %v | floor (CRI directly) p50 %v p99 %v | ratio p50 %.2f", burst, p50.Round(time.Millisecond), p99.Round(time.Millisecond), f50.Round(time.Millisecond), f99.Round(time.Millisecond), float64(p50)/float64(f50))
		b.ReportMetric(float64(p50.Milliseconds()), fmt.Sprintf("p50-ms-burst%d", burst))
		b.ReportMetric(float64(p99.Milliseconds()), fmt.Sprintf("p99-ms-burst%d", burst))
		b.ReportMetric(float64(f50.Milliseconds()), fmt.Sprintf("floor-p50-ms-burst%d", burst))
	}
	if rss, err := a.RSS(); err == nil {
		b.Logf("agent RSS with 100 pods running: %.1f MiB", float64(rss)/(1<<20))
		b.ReportMetric(float64(rss)/(1<<20), "agent-rss-MiB")
	}
}

func startupPod(name, node string) *corev1.Pod {
	grace := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "startup"},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: "c", Image: "busybox:1.35", ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"sleep", "3600"},
			}},
		},
	}
}

// runningWatch records when each pod was created and when a watch first saw it
// Running.
type runningWatch struct {
	mu      sync.Mutex
	start   map[string]time.Time
	running map[string]time.Time
	cancel  context.CancelFunc
	changed chan struct{}
}

func newRunningWatch(b *testing.B, cs kubernetes.Interface, ns string) *runningWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &runningWatch{start: map[string]time.Time{}, running: map[string]time.Time{}, cancel: cancel, changed: make(chan struct{}, 1)}
	wi, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for ev := range wi.ResultChan() {
			if ev.Type != watch.Modified && ev.Type != watch.Added {
				continue
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Status.Phase != corev1.PodRunning {
				continue
			}
			now := time.Now()
			w.mu.Lock()
			if _, seen := w.running[p.Name]; !seen {
				w.running[p.Name] = now
			}
			w.mu.Unlock()
			select {
			case w.changed <- struct{}{}:
			default:
			}
		}
	}()
	return w
}

func (w *runningWatch) created(name string) {
	w.mu.Lock()
	w.start[name] = time.Now()
	w.mu.Unlock()
}

func (w *runningWatch) stop() { w.cancel() }

func (w *runningWatch) waitAll(b *testing.B, names []string, timeout time.Duration) []time.Duration {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		var lat []time.Duration
		for _, n := range names {
			if r, ok := w.running[n]; ok {
				lat = append(lat, r.Sub(w.start[n]))
			}
		}
		w.mu.Unlock()
		if len(lat) == len(names) {
			return lat
		}
		select {
		case <-w.changed:
		case <-deadline:
			b.Fatalf("only %d of %d pods running after %s", len(lat), len(names), timeout)
		}
	}
}

var floorSeq atomic.Int64

// floorRun starts n sandboxes with one busybox container each straight through
// CRI, burst at a time, and returns each one's time from start to started.
func floorRun(b *testing.B, rt *cri.Client, logDir string, n, burst int) []time.Duration {
	var mu sync.Mutex
	var lat []time.Duration
	for done := 0; done < n; done += burst {
		var wg sync.WaitGroup
		for i := 0; i < burst; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				name := fmt.Sprintf("floor-%d", floorSeq.Add(1))
				t0 := time.Now()
				ctx := context.Background()
				ld := filepath.Join(logDir, name)
				_ = os.MkdirAll(ld, 0o755)
				sbCfg := &runtimeapi.PodSandboxConfig{
					Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "floor", Uid: name},
					Hostname: name, LogDirectory: ld,
					Labels: map[string]string{"floor": "true"},
					Linux:  &runtimeapi.LinuxPodSandboxConfig{CgroupParent: "/tug/bench/floor-" + name},
				}
				sb, err := rt.RunPodSandbox(ctx, sbCfg)
				if err != nil {
					b.Error(err)
					return
				}
				id, err := rt.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
					Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: "busybox:1.35"},
					Command: []string{"sleep", "3600"}, LogPath: "c.log", Labels: map[string]string{"floor": "true"},
				}, sbCfg)
				if err != nil {
					b.Error(err)
					return
				}
				if err := rt.StartContainer(ctx, id); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}(i)
		}
		wg.Wait()
	}
	return lat
}

func clearFloor(b *testing.B, rt *cri.Client) {
	ctx := context.Background()
	sbs, err := rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"floor": "true"}})
	if err != nil {
		b.Fatal(err)
	}
	cs, _ := rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"floor": "true"}})
	for _, c := range cs {
		_ = rt.StopContainer(ctx, c.Id, 0)
		_ = rt.RemoveContainer(ctx, c.Id)
	}
	for _, sb := range sbs {
		_ = rt.StopPodSandbox(ctx, sb.Id)
		_ = rt.RemovePodSandbox(ctx, sb.Id)
	}
}

// emptyNamespace deletes every pod of ns and waits until they are gone.
func emptyNamespace(b *testing.B, cs *kubernetes.Clientset, ns string) {
	b.Helper()
	ctx := context.Background()
	if err := cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil && len(l.Items) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatalf("pods of %s still there after 2m", ns)
}
