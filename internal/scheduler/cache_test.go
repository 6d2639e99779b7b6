package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func requested(c *Cache, node string) (milliCPU int64, pods int) {
	c.View(func(s *Snapshot) {
		if ni := s.byName[node]; ni != nil {
			milliCPU, pods = ni.Requested.MilliCPU, len(ni.Pods)
		}
	})
	return
}

func TestCacheAssumeConfirmForget(t *testing.T) {
	c := NewCache()
	c.AddNode(node("a", 4000, 4096))
	p := pod("p", 1000, 0)
	pi := NewPodInfo(p)

	c.Assume(pi, "a")
	if cpu, n := requested(c, "a"); cpu != 1000 || n != 1 {
		t.Fatalf("after assume: %dm, %d pods", cpu, n)
	}
	// The watch confirms the binding: counted once, no longer assumed.
	bound := p.DeepCopy()
	bound.Spec.NodeName = "a"
	bound.ResourceVersion = "2"
	c.AddPod(bound)
	if cpu, n := requested(c, "a"); cpu != 1000 || n != 1 {
		t.Fatalf("after confirm: %dm, %d pods", cpu, n)
	}
	// Forget only undoes assumptions, not confirmed pods.
	c.Forget(p.UID)
	if _, n := requested(c, "a"); n != 1 {
		t.Fatal("Forget removed a confirmed pod")
	}
	// A pod that finished frees its resources.
	done := bound.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	c.UpdatePod(done)
	if cpu, n := requested(c, "a"); cpu != 0 || n != 0 {
		t.Fatalf("after success: %dm, %d pods", cpu, n)
	}

	q := pod("q", 500, 0)
	c.Assume(NewPodInfo(q), "a")
	c.Forget(q.UID)
	if cpu, n := requested(c, "a"); cpu != 0 || n != 0 {
		t.Fatalf("after forget: %dm, %d pods", cpu, n)
	}
}

func TestCacheNodesAndPodsInAnyOrder(t *testing.T) {
	c := NewCache()
	// A pod may arrive before its node.
	c.AddPod(pod("early", 700, 0, on("late")))
	if n, _ := c.Counts(); n != 0 {
		t.Fatal("a placeholder counted as a node")
	}
	c.AddNode(node("late", 1000, 1024))
	if cpu, n := requested(c, "late"); cpu != 700 || n != 1 {
		t.Fatalf("node arriving after its pod: %dm, %d pods", cpu, n)
	}
	c.AddNode(node("other", 1000, 1024))
	c.RemoveNode("late")
	var names []string
	c.View(func(s *Snapshot) {
		for _, ni := range s.Nodes {
			names = append(names, ni.Name())
		}
		if s.Node("late") != nil {
			t.Error("removed node still visible")
		}
	})
	if len(names) != 1 || names[0] != "other" {
		t.Fatalf("nodes = %v", names)
	}
	// Its pod is still known (until deleted), and the node can come back.
	c.AddNode(node("late", 1000, 1024))
	if cpu, _ := requested(c, "late"); cpu != 700 {
		t.Fatalf("returning node lost its pod: %dm", cpu)
	}
}

func TestCacheLabelChangeRecomputes(t *testing.T) {
	c := NewCache()
	c.AddNode(node("a", 1000, 1024))
	p := pod("p", 0, 0, on("a"), podLabels("app", "x"))
	c.AddPod(p)
	q := p.DeepCopy()
	q.Labels["app"] = "y"
	q.ResourceVersion = "9"
	c.UpdatePod(q)
	c.View(func(s *Snapshot) {
		if got := s.Node("a").Pods[0].Pod.Labels["app"]; got != "y" {
			t.Fatalf("label = %q", got)
		}
	})
}

func TestRelevantChange(t *testing.T) {
	base := pod("p", 100, 64, on("a"), podLabels("app", "x"))
	tests := []struct {
		name   string
		change func(*corev1.Pod)
		want   bool
	}{
		{"status only", func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }, false},
		{"image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "other" }, false},
		{"labels", func(p *corev1.Pod) { p.Labels["app"] = "y" }, true},
		{"resize", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("200m")
		}, true},
		{"same quantity written differently", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("0.1")
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := base.DeepCopy()
			tt.change(q)
			if got := relevantChange(base, q); got != tt.want {
				t.Fatalf("relevantChange = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNodeChangeMatters(t *testing.T) {
	base := node("a", 1000, 1024)
	tests := []struct {
		name   string
		change func(*corev1.Node)
		want   bool
	}{
		{"heartbeat", func(n *corev1.Node) { n.Status.Conditions[0].Message = "still fine" }, false},
		{"images", func(n *corev1.Node) { n.Status.Images = []corev1.ContainerImage{{Names: []string{"busybox"}}} }, false},
		{"cordon", cordoned, true},
		{"taint", withTaint("k", "v", corev1.TaintEffectNoSchedule), true},
		{"label", withLabels("disk", "ssd"), true},
		{"allocatable", maxPods(5), true},
		{"not ready", notReady, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := base.DeepCopy()
			tt.change(n)
			if got := nodeChangeMatters(base, n); got != tt.want {
				t.Fatalf("nodeChangeMatters = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCloneKeepsNodeState: preemption's what-ifs run on clones, which must see the
// node as the filters do (cordoned, tainted, allocatable).
func TestCloneKeepsNodeState(t *testing.T) {
	ni := newNodeInfo(node("n", 1000, 1024, cordoned, withTaint("k", "v", corev1.TaintEffectNoSchedule)))
	c := ni.clone()
	if !c.Unschedulable || len(c.Taints) != len(ni.Taints) || c.Allocatable.MilliCPU != ni.Allocatable.MilliCPU || c.MaxPods != ni.MaxPods {
		t.Fatalf("clone lost node state: %+v", c)
	}
}
