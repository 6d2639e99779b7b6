package scheduler

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// benchmarkDecisions measures the decision loop alone (queue, filters, scores,
// assume) for pods onto nodes shaped like hollow nodes.
func benchmarkDecisions(b *testing.B, nodes, pods int) {
	var ns []*corev1.Node
	for i := 0; i < nodes; i++ {
		ns = append(ns, node(fmt.Sprintf("n%05d", i), 32000, 256<<10))
	}
	ps := make([]*corev1.Pod, pods)
	for i := range ps {
		ps[i] = pod(fmt.Sprintf("p%d", i), 0, 0)
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		s := New(Options{Planner: newRecorder(), Seed: 1})
		for _, n := range ns {
			s.Cache.AddNode(n)
		}
		for _, p := range ps {
			s.Queue.Add(p)
		}
		for i := 0; i < pods; i++ {
			s.ScheduleOne(context.Background())
		}
	}
	b.ReportMetric(float64(pods*b.N)/b.Elapsed().Seconds(), "pods/s")
}

func BenchmarkDecisions1000Nodes(b *testing.B) { benchmarkDecisions(b, 1000, 10000) }
func BenchmarkDecisions5000Nodes(b *testing.B) { benchmarkDecisions(b, 5000, 5000) }
