// Package bench measures tug end to end: the real binary over HTTPS with client-go.
// Run with `make bench`; results go to docs/benchmarks.md.
package bench

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"tug/test/framework"
)

var tugBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tug-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tugBin, err = framework.Binary(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func startServer(b *testing.B) (*framework.Server, *kubernetes.Clientset) {
	b.Helper()
	s, err := framework.StartServer(tugBin, b.TempDir())
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

func benchPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "bench", "shard": name[len(name)-1:]}},
		// Another scheduler's pods: the API server benchmarks measure the API server,
		// not the scheduler's reaction to pods that cannot be placed (there are no nodes).
		Spec: corev1.PodSpec{SchedulerName: "benchmark-none", Containers: []corev1.Container{{
			Name: "app", Image: "busybox:1.36", Command: []string{"sleep", "3600"},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{}},
		}}},
	}
}

// percentiles returns p50 and p99 of durations.
func percentiles(d []time.Duration) (time.Duration, time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2], d[len(d)*99/100]
}

// concurrently runs op(0..n-1) on `workers` goroutines and returns each call's
// latency and the wall time; the first error fails the benchmark.
func concurrently(b *testing.B, n, workers int, op func(i int) error) ([]time.Duration, time.Duration) {
	b.Helper()
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				err := op(i)
				lat[i] = time.Since(t0)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	return lat, time.Since(start)
}

// createPods creates n pods with `workers` concurrent clients and returns the
// per-request latencies and the wall time.
func createPods(b *testing.B, cs *kubernetes.Clientset, ns string, n, workers int) ([]time.Duration, time.Duration) {
	b.Helper()
	return concurrently(b, n, workers, func(i int) error {
		_, err := cs.CoreV1().Pods(ns).Create(context.Background(), benchPod(ns, fmt.Sprintf("p-%06d", i)), metav1.CreateOptions{})
		return err
	})
}

func mustNamespace(b *testing.B, cs *kubernetes.Clientset, name string) {
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
}

func reportRSS(b *testing.B, s *framework.Server, name string) {
	if rss, err := s.RSS(); err == nil {
		b.ReportMetric(float64(rss)/(1<<20), name)
	}
}

// BenchmarkIdleRSS measures the resident memory of a freshly started server.
func BenchmarkIdleRSS(b *testing.B) {
	s, _ := startServer(b)
	time.Sleep(5 * time.Second)
	reportRSS(b, s, "idle-RSS-MiB")
}

// BenchmarkCreate creates 10,000 pods with 32 concurrent clients.
func BenchmarkCreate(b *testing.B) {
	s, cs := startServer(b)
	mustNamespace(b, cs, "bench")
	lat, wall := createPods(b, cs, "bench", 10000, 32)
	p50, p99 := percentiles(lat)
	b.ReportMetric(float64(len(lat))/wall.Seconds(), "creates/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	reportRSS(b, s, "RSS-MiB")
}

// BenchmarkGet reads random pods of 10,000 with 32 concurrent clients.
func BenchmarkGet(b *testing.B) {
	s, cs := startServer(b)
	mustNamespace(b, cs, "bench")
	createPods(b, cs, "bench", 10000, 32)
	ctx := context.Background()
	const n = 20000
	lat, wall := concurrently(b, n, 32, func(i int) error {
		_, err := cs.CoreV1().Pods("bench").Get(ctx, fmt.Sprintf("p-%06d", (i*7919)%10000), metav1.GetOptions{})
		return err
	})
	p50, p99 := percentiles(lat)
	b.ReportMetric(float64(n)/wall.Seconds(), "gets/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	reportRSS(b, s, "RSS-MiB")
}

// BenchmarkList lists 1,000 and 10,000 pods (whole lists, as client-go asks for them).
func BenchmarkList(b *testing.B) {
	s, cs := startServer(b)
	mustNamespace(b, cs, "small")
	mustNamespace(b, cs, "large")
	createPods(b, cs, "small", 1000, 32)
	createPods(b, cs, "large", 10000, 32)
	ctx := context.Background()
	for _, ns := range []string{"small", "large"} {
		var lat []time.Duration
		for i := 0; i < 10; i++ {
			t0 := time.Now()
			l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			if want := map[string]int{"small": 1000, "large": 10000}[ns]; len(l.Items) != want {
				b.Fatalf("listed %d pods, want %d", len(l.Items), want)
			}
		}
		p50, _ := percentiles(lat)
		b.ReportMetric(float64(p50.Microseconds())/1000, fmt.Sprintf("list-%d-p50-ms", map[string]int{"small": 1000, "large": 10000}[ns]))
	}
	// The same list as JSON (what kubectl -o json and most other clients ask for).
	var lat []time.Duration
	for i := 0; i < 10; i++ {
		t0 := time.Now()
		raw, err := cs.CoreV1().RESTClient().Get().Namespace("large").Resource("pods").SetHeader("Accept", "application/json").DoRaw(ctx)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		if len(raw) < 10000*500 {
			b.Fatalf("JSON list of 10,000 pods is only %d bytes", len(raw))
		}
	}
	p50, _ := percentiles(lat)
	b.ReportMetric(float64(p50.Microseconds())/1000, "list-10000-json-p50-ms")
	reportRSS(b, s, "RSS-MiB")
}

// BenchmarkWatchFanout has 100 watchers on one namespace and measures how fast 1,000
// new pods reach all of them.
func BenchmarkWatchFanout(b *testing.B) {
	s, cs := startServer(b)
	mustNamespace(b, cs, "bench")
	const watchers, pods = 100, 1000
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var created sync.Map // name -> time the create returned
	var delivered atomic.Int64
	lats := make([][]time.Duration, watchers)
	var wg sync.WaitGroup
	ready := make(chan struct{}, watchers)
	for i := 0; i < watchers; i++ {
		w, err := cs.CoreV1().Pods("bench").Watch(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func(i int, w watch.Interface) {
			defer wg.Done()
			defer w.Stop()
			ready <- struct{}{}
			seen := 0
			for ev := range w.ResultChan() {
				if ev.Type != watch.Added {
					continue
				}
				p := ev.Object.(*corev1.Pod)
				if t, ok := created.Load(p.Name); ok {
					lats[i] = append(lats[i], time.Since(t.(time.Time)))
				}
				seen++
				delivered.Add(1)
				if seen == pods {
					return
				}
			}
		}(i, w)
	}
	for i := 0; i < watchers; i++ {
		<-ready
	}
	start := time.Now()
	var next atomic.Int64
	var cwg sync.WaitGroup
	for c := 0; c < 16; c++ {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= pods {
					return
				}
				name := fmt.Sprintf("p-%06d", i)
				created.Store(name, time.Now())
				if _, err := cs.CoreV1().Pods("bench").Create(ctx, benchPod("bench", name), metav1.CreateOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	cwg.Wait()
	wg.Wait()
	wall := time.Since(start)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	p50, p99 := percentiles(all)
	b.ReportMetric(float64(delivered.Load())/wall.Seconds(), "events/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "delivery-p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "delivery-p99-ms")
	reportRSS(b, s, "RSS-MiB")
}
