package stats

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

type fakeRuntime struct{ cpu uint64 }

func (f *fakeRuntime) ListContainerStats(context.Context) ([]*runtimeapi.ContainerStats, error) {
	f.cpu += 500_000_000
	now := time.Now().UnixNano()
	return []*runtimeapi.ContainerStats{{
		Attributes: &runtimeapi.ContainerAttributes{Id: "c1"},
		Cpu:        &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: f.cpu}},
		Memory:     &runtimeapi.MemoryUsage{Timestamp: now, WorkingSetBytes: &runtimeapi.UInt64Value{Value: 4 << 20}, UsageBytes: &runtimeapi.UInt64Value{Value: 5 << 20}},
	}}, nil
}

func (f *fakeRuntime) ListContainers(context.Context, *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	return []*runtimeapi.Container{{Id: "c1", PodSandboxId: "s1", Metadata: &runtimeapi.ContainerMetadata{Name: "web"}, CreatedAt: 1}}, nil
}

func (f *fakeRuntime) ListPodSandbox(context.Context, *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	return []*runtimeapi.PodSandbox{{Id: "s1", Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns", Uid: "u"}}}, nil
}

func TestSummaryAndMetrics(t *testing.T) {
	c := &Collector{NodeName: "n1", Runtime: &fakeRuntime{}}
	if _, err := c.Summary(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	s, err := c.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Node.NodeName != "n1" || len(s.Pods) != 1 {
		t.Fatalf("summary %+v", s)
	}
	p := s.Pods[0]
	if p.PodRef.Name != "p" || len(p.Containers) != 1 || *p.Memory.WorkingSetBytes != 4<<20 || *p.CPU.UsageCoreNanoSeconds != 1_000_000_000 {
		t.Errorf("pod %+v", p)
	}
	// The second sample gives a rate.
	if p.Containers[0].CPU.UsageNanoCores == nil || *p.Containers[0].CPU.UsageNanoCores == 0 {
		t.Error("no CPU rate from two samples")
	}
	var b bytes.Buffer
	WriteResourceMetrics(&b, s)
	for _, want := range []string{
		`container_memory_working_set_bytes{container="web",namespace="ns",pod="p"} 4194304`,
		`pod_cpu_usage_seconds_total{namespace="ns",pod="p"} 1`,
		"node_memory_working_set_bytes ",
		"scrape_error 0",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}
