package kubelet

import (
	"context"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"tug/internal/agent/cri"
)

// Labels the agent puts on sandboxes and containers: they tie runtime objects to
// pods after an agent restart, and tools that read CRI labels understand them.
const (
	labelPodUID        = "io.kubernetes.pod.uid"
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelContainerName = "io.kubernetes.container.name"
	// annotations of the agent's own
	annoContainerHash = "tug.dev/container-hash"
	annoGracePeriod   = "tug.dev/termination-grace-period"
	annoInit          = "tug.dev/init-container"
)

// podRuntime is what the runtime holds for one pod.
type podRuntime struct {
	// sandboxes, newest first.
	sandboxes []*runtimeapi.PodSandbox
	// containers of every sandbox, newest first.
	containers []*containerRecord
	// sandboxIP is the address of the newest sandbox, if it has one.
	sandboxIP string
}

// containerRecord is one runtime container with what the agent knows of it.
type containerRecord struct {
	ID        string
	Name      string
	Attempt   uint32
	SandboxID string
	State     runtimeapi.ContainerState
	CreatedAt int64
	// Status is the runtime's full status (exit code, times, reason).
	Status      *runtimeapi.ContainerStatus
	Annotations map[string]string
}

// newestSandbox returns the newest sandbox, or nil.
func (p *podRuntime) newestSandbox() *runtimeapi.PodSandbox {
	if len(p.sandboxes) == 0 {
		return nil
	}
	return p.sandboxes[0]
}

// latest returns the newest container of that name in the newest sandbox.
func (p *podRuntime) latest(name string) *containerRecord {
	sb := p.newestSandbox()
	for _, c := range p.containers {
		if c.Name == name && (sb == nil || c.SandboxID == sb.Id) {
			return c
		}
	}
	return nil
}

// previous returns the newest container of that name before cur (any sandbox).
func (p *podRuntime) previous(name string, cur *containerRecord) *containerRecord {
	seen := cur == nil
	for _, c := range p.containers {
		if c.Name != name {
			continue
		}
		if seen {
			return c
		}
		if c == cur {
			seen = true
		}
	}
	return nil
}

// nextAttempt is the attempt number of the next container of that name: the
// restart count carries across sandboxes.
func (p *podRuntime) nextAttempt(name string) uint32 {
	for _, c := range p.containers {
		if c.Name == name {
			return c.Attempt + 1
		}
	}
	return 0
}

// runtimeCache remembers what cannot change: the status of exited containers and
// the address of sandboxes.
type runtimeCache struct {
	mu        sync.Mutex
	exited    map[string]*runtimeapi.ContainerStatus
	sandboxIP map[string]string
}

func newRuntimeCache() *runtimeCache {
	return &runtimeCache{exited: map[string]*runtimeapi.ContainerStatus{}, sandboxIP: map[string]string{}}
}

func (rc *runtimeCache) forget(ids ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, id := range ids {
		delete(rc.exited, id)
		delete(rc.sandboxIP, id)
	}
}

// podState reads a pod's sandboxes and containers from the runtime.
func podState(ctx context.Context, rt cri.Runtime, cache *runtimeCache, uid types.UID) (*podRuntime, error) {
	sel := map[string]string{labelPodUID: string(uid)}
	sbs, err := rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	cs, err := rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	return assemble(ctx, rt, cache, sbs, cs)
}

func assemble(ctx context.Context, rt cri.Runtime, cache *runtimeCache, sbs []*runtimeapi.PodSandbox, cs []*runtimeapi.Container) (*podRuntime, error) {
	p := &podRuntime{sandboxes: sbs}
	sort.Slice(p.sandboxes, func(i, j int) bool { return p.sandboxes[i].CreatedAt > p.sandboxes[j].CreatedAt })
	for _, c := range cs {
		rec := &containerRecord{ID: c.Id, Name: c.Metadata.GetName(), Attempt: c.Metadata.GetAttempt(), SandboxID: c.PodSandboxId, State: c.State, CreatedAt: c.CreatedAt, Annotations: c.Annotations}
		cache.mu.Lock()
		st := cache.exited[c.Id]
		cache.mu.Unlock()
		if st == nil {
			s, err := rt.ContainerStatus(ctx, c.Id)
			if err != nil {
				if cri.IsNotFound(err) {
					continue
				}
				return nil, err
			}
			st = s
			if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
				cache.mu.Lock()
				cache.exited[c.Id] = st
				cache.mu.Unlock()
			}
		}
		rec.Status = st
		rec.State = st.State
		p.containers = append(p.containers, rec)
	}
	sort.Slice(p.containers, func(i, j int) bool {
		a, b := p.containers[i], p.containers[j]
		if a.Attempt != b.Attempt {
			return a.Attempt > b.Attempt
		}
		return a.CreatedAt > b.CreatedAt
	})
	if sb := p.newestSandbox(); sb != nil && sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
		cache.mu.Lock()
		ip, ok := cache.sandboxIP[sb.Id]
		cache.mu.Unlock()
		if !ok {
			st, err := rt.PodSandboxStatus(ctx, sb.Id)
			if err != nil && !cri.IsNotFound(err) {
				return nil, err
			}
			if st != nil {
				ip = st.GetNetwork().GetIp()
				cache.mu.Lock()
				cache.sandboxIP[sb.Id] = ip
				cache.mu.Unlock()
			}
		}
		p.sandboxIP = ip
	}
	return p, nil
}
