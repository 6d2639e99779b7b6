// Package stats reports CPU and memory of a node, its pods and their containers,
// read from the container runtime (CRI stats) and the machine, in the two shapes
// metrics consumers read from a node: the summary document (/stats/summary) and
// the Prometheus resource metrics (/metrics/resource).
package stats

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Runtime is the part of the CRI client stats need.
type Runtime interface {
	ListContainerStats(ctx context.Context) ([]*runtimeapi.ContainerStats, error)
	ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error)
	ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error)
}

// Summary is the node's summary document.
type Summary struct {
	Node NodeStats  `json:"node"`
	Pods []PodStats `json:"pods"`
}

// NodeStats is the machine's usage.
type NodeStats struct {
	NodeName  string       `json:"nodeName"`
	StartTime time.Time    `json:"startTime"`
	CPU       *CPUStats    `json:"cpu,omitempty"`
	Memory    *MemoryStats `json:"memory,omitempty"`
}

// PodReference names a pod.
type PodReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
}

// PodStats is one pod's usage, the sum of its containers.
type PodStats struct {
	PodRef     PodReference     `json:"podRef"`
	StartTime  time.Time        `json:"startTime"`
	Containers []ContainerStats `json:"containers"`
	CPU        *CPUStats        `json:"cpu,omitempty"`
	Memory     *MemoryStats     `json:"memory,omitempty"`
}

// ContainerStats is one container's usage.
type ContainerStats struct {
	Name      string       `json:"name"`
	StartTime time.Time    `json:"startTime"`
	CPU       *CPUStats    `json:"cpu,omitempty"`
	Memory    *MemoryStats `json:"memory,omitempty"`
}

// CPUStats: cumulative CPU time and the recent rate.
type CPUStats struct {
	Time                 time.Time `json:"time"`
	UsageNanoCores       *uint64   `json:"usageNanoCores,omitempty"`
	UsageCoreNanoSeconds *uint64   `json:"usageCoreNanoSeconds,omitempty"`
}

// MemoryStats: working set (what the OOM killer and eviction look at) and more.
type MemoryStats struct {
	Time            time.Time `json:"time"`
	AvailableBytes  *uint64   `json:"availableBytes,omitempty"`
	UsageBytes      *uint64   `json:"usageBytes,omitempty"`
	WorkingSetBytes *uint64   `json:"workingSetBytes,omitempty"`
	RSSBytes        *uint64   `json:"rssBytes,omitempty"`
	PageFaults      *uint64   `json:"pageFaults,omitempty"`
	MajorPageFaults *uint64   `json:"majorPageFaults,omitempty"`
}

// Collector turns runtime samples into summaries, remembering the previous
// sample of each container to compute CPU rates.
type Collector struct {
	NodeName string
	Runtime  Runtime
	// Now is injectable for tests.
	Now func() time.Time

	mu   sync.Mutex
	prev map[string]cpuSample
}

type cpuSample struct {
	at    time.Time
	total uint64
}

func u64(v uint64) *uint64 { return &v }

// rate computes nanocores from the previous sample of key.
func (c *Collector) rate(key string, at time.Time, total uint64) *uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prev == nil {
		c.prev = map[string]cpuSample{}
	}
	p, ok := c.prev[key]
	c.prev[key] = cpuSample{at, total}
	if !ok || !at.After(p.at) || total < p.total {
		return nil
	}
	return u64(uint64(float64(total-p.total) / at.Sub(p.at).Seconds()))
}

// Summary collects the node's summary now.
func (c *Collector) Summary(ctx context.Context) (*Summary, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	t := now()
	cstats, err := c.Runtime.ListContainerStats(ctx)
	if err != nil {
		return nil, fmt.Errorf("container stats: %w", err)
	}
	containers, err := c.Runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}})
	if err != nil {
		return nil, err
	}
	sandboxes, err := c.Runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}})
	if err != nil {
		return nil, err
	}
	byID := map[string]*runtimeapi.Container{}
	for _, ct := range containers {
		byID[ct.Id] = ct
	}
	pods := map[string]*PodStats{}
	for _, sb := range sandboxes {
		m := sb.Metadata
		pods[sb.Id] = &PodStats{PodRef: PodReference{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUid()}, StartTime: time.Unix(0, sb.CreatedAt).UTC()}
	}
	for _, s := range cstats {
		ct := byID[s.GetAttributes().GetId()]
		if ct == nil {
			continue
		}
		p := pods[ct.PodSandboxId]
		if p == nil {
			continue
		}
		cs := ContainerStats{Name: ct.Metadata.GetName(), StartTime: time.Unix(0, ct.CreatedAt).UTC()}
		if cpu := s.GetCpu(); cpu != nil {
			at := time.Unix(0, cpu.Timestamp)
			total := cpu.GetUsageCoreNanoSeconds().GetValue()
			cs.CPU = &CPUStats{Time: at.UTC(), UsageCoreNanoSeconds: u64(total)}
			if nc := cpu.GetUsageNanoCores(); nc != nil && nc.Value > 0 {
				cs.CPU.UsageNanoCores = u64(nc.Value)
			} else {
				cs.CPU.UsageNanoCores = c.rate(ct.Id, at, total)
			}
		}
		if mem := s.GetMemory(); mem != nil {
			cs.Memory = &MemoryStats{Time: time.Unix(0, mem.Timestamp).UTC(),
				WorkingSetBytes: u64(mem.GetWorkingSetBytes().GetValue()),
				UsageBytes:      u64(mem.GetUsageBytes().GetValue()),
				RSSBytes:        u64(mem.GetRssBytes().GetValue()),
				PageFaults:      u64(mem.GetPageFaults().GetValue()),
				MajorPageFaults: u64(mem.GetMajorPageFaults().GetValue()),
			}
		}
		p.Containers = append(p.Containers, cs)
	}
	sum := &Summary{Node: c.nodeStats(t)}
	for _, p := range pods {
		sort.Slice(p.Containers, func(i, j int) bool { return p.Containers[i].Name < p.Containers[j].Name })
		var cpuTotal, cpuRate, ws, usage, rss uint64
		haveRate := false
		for _, cs := range p.Containers {
			if cs.CPU != nil {
				cpuTotal += *cs.CPU.UsageCoreNanoSeconds
				if cs.CPU.UsageNanoCores != nil {
					cpuRate += *cs.CPU.UsageNanoCores
					haveRate = true
				}
			}
			if cs.Memory != nil {
				ws += *cs.Memory.WorkingSetBytes
				usage += *cs.Memory.UsageBytes
				rss += *cs.Memory.RSSBytes
			}
		}
		p.CPU = &CPUStats{Time: t.UTC(), UsageCoreNanoSeconds: u64(cpuTotal)}
		if haveRate {
			p.CPU.UsageNanoCores = u64(cpuRate)
		}
		p.Memory = &MemoryStats{Time: t.UTC(), WorkingSetBytes: u64(ws), UsageBytes: u64(usage), RSSBytes: u64(rss)}
		if p.Containers == nil {
			p.Containers = []ContainerStats{}
		}
		sum.Pods = append(sum.Pods, *p)
	}
	sort.Slice(sum.Pods, func(i, j int) bool {
		a, b := sum.Pods[i].PodRef, sum.Pods[j].PodRef
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	if sum.Pods == nil {
		sum.Pods = []PodStats{}
	}
	return sum, nil
}

// nodeStats reads the machine's CPU time and memory.
func (c *Collector) nodeStats(t time.Time) NodeStats {
	n := NodeStats{NodeName: c.NodeName, StartTime: bootTime()}
	if total, ok := machineCPU(); ok {
		n.CPU = &CPUStats{Time: t.UTC(), UsageCoreNanoSeconds: u64(total), UsageNanoCores: c.rate("\x00node", t, total)}
	}
	mi := meminfo()
	if total, ok := mi["MemTotal"]; ok {
		avail := mi["MemAvailable"]
		used := total - avail
		n.Memory = &MemoryStats{Time: t.UTC(), AvailableBytes: u64(avail), UsageBytes: u64(total - mi["MemFree"]), WorkingSetBytes: u64(used)}
	}
	return n
}

func machineCPU() (uint64, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if !s.Scan() {
		return 0, false
	}
	fs := strings.Fields(s.Text())
	if len(fs) < 8 || fs[0] != "cpu" {
		return 0, false
	}
	// user nice system (idle iowait excluded) irq softirq steal
	var ticks uint64
	for i, v := range fs[1:] {
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		ticks += n
	}
	// USER_HZ is 100 on Linux.
	return ticks * 1e7, true
}

func meminfo() map[string]uint64 {
	out := map[string]uint64{}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return out
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, _ := strconv.ParseUint(fs[0], 10, 64)
		out[k] = n * 1024
	}
	return out
}

func bootTime() time.Time {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "btime "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Time{}
}

// WriteResourceMetrics writes the summary as Prometheus text: the resource
// metrics a metrics pipeline scrapes from nodes.
func WriteResourceMetrics(w io.Writer, s *Summary) {
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	fmt.Fprintln(w, "# HELP node_cpu_usage_seconds_total Cumulative CPU time the node consumed, in core-seconds")
	fmt.Fprintln(w, "# TYPE node_cpu_usage_seconds_total counter")
	if c := s.Node.CPU; c != nil {
		fmt.Fprintf(w, "node_cpu_usage_seconds_total %g %d\n", float64(*c.UsageCoreNanoSeconds)/1e9, ms(c.Time))
	}
	fmt.Fprintln(w, "# HELP node_memory_working_set_bytes Current working set of the node, in bytes")
	fmt.Fprintln(w, "# TYPE node_memory_working_set_bytes gauge")
	if m := s.Node.Memory; m != nil {
		fmt.Fprintf(w, "node_memory_working_set_bytes %d %d\n", *m.WorkingSetBytes, ms(m.Time))
	}
	fmt.Fprintln(w, "# HELP pod_cpu_usage_seconds_total Cumulative CPU time the pod consumed, in core-seconds")
	fmt.Fprintln(w, "# TYPE pod_cpu_usage_seconds_total counter")
	for _, p := range s.Pods {
		fmt.Fprintf(w, "pod_cpu_usage_seconds_total{namespace=%q,pod=%q} %g %d\n", p.PodRef.Namespace, p.PodRef.Name, float64(*p.CPU.UsageCoreNanoSeconds)/1e9, ms(p.CPU.Time))
	}
	fmt.Fprintln(w, "# HELP pod_memory_working_set_bytes Current working set of the pod, in bytes")
	fmt.Fprintln(w, "# TYPE pod_memory_working_set_bytes gauge")
	for _, p := range s.Pods {
		fmt.Fprintf(w, "pod_memory_working_set_bytes{namespace=%q,pod=%q} %d %d\n", p.PodRef.Namespace, p.PodRef.Name, *p.Memory.WorkingSetBytes, ms(p.Memory.Time))
	}
	fmt.Fprintln(w, "# HELP container_cpu_usage_seconds_total Cumulative CPU time the container consumed, in core-seconds")
	fmt.Fprintln(w, "# TYPE container_cpu_usage_seconds_total counter")
	for _, p := range s.Pods {
		for _, c := range p.Containers {
			if c.CPU != nil {
				fmt.Fprintf(w, "container_cpu_usage_seconds_total{container=%q,namespace=%q,pod=%q} %g %d\n", c.Name, p.PodRef.Namespace, p.PodRef.Name, float64(*c.CPU.UsageCoreNanoSeconds)/1e9, ms(c.CPU.Time))
			}
		}
	}
	fmt.Fprintln(w, "# HELP container_memory_working_set_bytes Current working set of the container, in bytes")
	fmt.Fprintln(w, "# TYPE container_memory_working_set_bytes gauge")
	for _, p := range s.Pods {
		for _, c := range p.Containers {
			if c.Memory != nil {
				fmt.Fprintf(w, "container_memory_working_set_bytes{container=%q,namespace=%q,pod=%q} %d %d\n", c.Name, p.PodRef.Namespace, p.PodRef.Name, *c.Memory.WorkingSetBytes, ms(c.Memory.Time))
			}
		}
	}
	fmt.Fprintln(w, "# HELP container_start_time_seconds Start time of the container since the Unix epoch, in seconds")
	fmt.Fprintln(w, "# TYPE container_start_time_seconds gauge")
	for _, p := range s.Pods {
		for _, c := range p.Containers {
			fmt.Fprintf(w, "container_start_time_seconds{container=%q,namespace=%q,pod=%q} %d\n", c.Name, p.PodRef.Namespace, p.PodRef.Name, c.StartTime.Unix())
		}
	}
	fmt.Fprintln(w, "# HELP scrape_error 1 if there was an error while getting container metrics, 0 otherwise")
	fmt.Fprintln(w, "# TYPE scrape_error gauge")
	fmt.Fprintln(w, "scrape_error 0")
}
