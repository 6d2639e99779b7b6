package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// cpuSeconds is the user+system CPU time a process has used (/proc/PID/stat).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which may hold spaces: state is field 3,
	// utime and stime are fields 14 and 15.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	const ticks = 100 // USER_HZ on Linux
	return (ut + st) / ticks, nil
}

// rssSampler records the peak resident memory of a process.
type rssSampler struct {
	mu   sync.Mutex
	peak int64
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	r := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := rssOf(pid); err == nil {
				r.mu.Lock()
				r.peak = max(r.peak, v)
				r.mu.Unlock()
			}
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
		}
	}()
	return r
}

// reset starts a new peak and returns the previous one.
func (r *rssSampler) reset() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.peak
	r.peak = 0
	return p
}

func (r *rssSampler) end() int64 {
	close(r.stop)
	<-r.done
	return r.reset()
}

// waitRolledOut waits until the Deployment's status shows generation gen fully
// rolled out: every replica updated and available, no old replica left.
func waitRolledOut(b *testing.B, cs kubernetes.Interface, ns, name string, gen int64, replicas int32, limit time.Duration) {
	b.Helper()
	start := time.Now()
	for {
		d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			st := d.Status
			if st.ObservedGeneration >= gen && st.UpdatedReplicas == replicas && st.Replicas == replicas && st.AvailableReplicas == replicas {
				return
			}
			if time.Since(start) > limit {
				b.Fatalf("deployment %s/%s not rolled out after %s: %+v", ns, name, limit, st)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// podMilestones polls the pods of a selector and records when all n of them first
// existed, were bound to a node, and were Ready.
type podMilestones struct {
	created, bound, ready time.Duration
	stop                  chan struct{}
	done                  chan struct{}
}

func watchMilestones(cs kubernetes.Interface, ns, selector string, n int, start time.Time) *podMilestones {
	m := &podMilestones{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			list, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector, ResourceVersion: "0"})
			if err == nil {
				var bound, ready int
				for i := range list.Items {
					p := &list.Items[i]
					if p.Spec.NodeName != "" {
						bound++
					}
					for _, c := range p.Status.Conditions {
						if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
							ready++
						}
					}
				}
				at := time.Since(start)
				if m.created == 0 && len(list.Items) >= n {
					m.created = at
				}
				if m.bound == 0 && bound >= n {
					m.bound = at
				}
				if m.ready == 0 && ready >= n {
					m.ready = at
				}
			}
			select {
			case <-m.stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return m
}

func (m *podMilestones) end() *podMilestones {
	close(m.stop)
	<-m.done
	return m
}

// BenchmarkDeployment3000On1000Nodes: a Deployment of 3,000 replicas on 1,000
// hollow nodes, from create to all available, then a change of image to the rollout
// complete (maxSurge and maxUnavailable 25%), with the server's CPU and peak RSS.
func BenchmarkDeployment3000On1000Nodes(b *testing.B) {
	const nodes, replicas = 1000, int32(3000)
	s, cs := startSchedServer(b)
	startHollow(b, s, cs, nodes)
	ctx := context.Background()
	n := replicas
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "big", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "big"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "big"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1"}}},
			},
		},
	}
	pid := s.PID()
	idleRSS, _ := rssOf(pid)
	rss := sampleRSS(pid)
	cpu0, err := cpuSeconds(pid)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	ms := watchMilestones(cs, "default", "app=big", int(replicas), start)
	created, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	waitRolledOut(b, cs, "default", "big", created.Generation, replicas, 15*time.Minute)
	createTime := time.Since(start)
	ms.end()
	seen := func(d time.Duration) string {
		if d == 0 {
			return "not seen by the poller before the Deployment was done"
		}
		return d.Round(100 * time.Millisecond).String()
	}
	b.Logf("all %d pods created after %s, bound after %s, Ready after %s", replicas, seen(ms.created), seen(ms.bound), seen(ms.ready))
	cpu1, _ := cpuSeconds(pid)
	createRSS := rss.reset()

	start = time.Now()
	cur, err := cs.AppsV1().Deployments("default").Get(ctx, "big", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cur.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	updated, err := cs.AppsV1().Deployments("default").Update(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	waitRolledOut(b, cs, "default", "big", updated.Generation, replicas, 20*time.Minute)
	rolloutTime := time.Since(start)
	cpu2, _ := cpuSeconds(pid)
	rolloutRSS := rss.end()

	b.ReportMetric(createTime.Seconds(), "create_s")
	b.ReportMetric(rolloutTime.Seconds(), "rollout_s")
	b.ReportMetric(cpu1-cpu0, "create_cpu_s")
	b.ReportMetric(cpu2-cpu1, "rollout_cpu_s")
	b.ReportMetric(float64(createRSS)/(1<<20), "create_peak_rss_MiB")
	b.ReportMetric(float64(rolloutRSS)/(1<<20), "rollout_peak_rss_MiB")
	b.Logf("3,000 replicas on %d nodes: available after %s (server CPU %.1f s, peak RSS %d MiB); image change rolled out in %s (server CPU %.1f s, peak RSS %d MiB); server RSS before %d MiB",
		nodes, createTime.Round(time.Millisecond), cpu1-cpu0, createRSS>>20, rolloutTime.Round(time.Millisecond), cpu2-cpu1, rolloutRSS>>20, idleRSS>>20)
}
