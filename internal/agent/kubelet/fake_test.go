package kubelet

import (
	"context"
	"fmt"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"tug/internal/agent/cri"
)

// fakeRuntime is an in-memory CRI runtime: sandboxes and containers with
// states that tests move by hand (exit, OOM), and a record of calls.
type fakeRuntime struct {
	mu         sync.Mutex
	now        func() time.Time
	seq        int
	sandboxes  map[string]*runtimeapi.PodSandbox
	containers map[string]*fakeContainer
	images     map[string]string // reference -> id
	calls      []string
	// execResult answers ExecSync by command (joined with spaces).
	execResult map[string]int32
	pullErr    error
	down       bool
}

type fakeContainer struct {
	c      *runtimeapi.Container
	status *runtimeapi.ContainerStatus
	cfg    *runtimeapi.ContainerConfig
}

func newFakeRuntime(now func() time.Time) *fakeRuntime {
	return &fakeRuntime{
		now: now, sandboxes: map[string]*runtimeapi.PodSandbox{}, containers: map[string]*fakeContainer{},
		images:     map[string]string{"busybox": "sha256:bb", "docker.io/library/busybox:latest": "sha256:bb"},
		execResult: map[string]int32{},
	}
}

func (f *fakeRuntime) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Calls returns the recorded calls and forgets them.
func (f *fakeRuntime) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeRuntime) nextID(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s%d", prefix, f.seq)
}

func (f *fakeRuntime) ts() int64 {
	f.seq++
	return f.now().UnixNano() + int64(f.seq)
}

// exit ends a running container with a code (and reason, like OOMKilled).
func (f *fakeRuntime) exit(id string, code int32, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc := f.containers[id]
	fc.c.State = runtimeapi.ContainerState_CONTAINER_EXITED
	fc.status.State = runtimeapi.ContainerState_CONTAINER_EXITED
	fc.status.ExitCode = code
	fc.status.FinishedAt = f.now().UnixNano()
	if reason == "" {
		reason = "Completed"
		if code != 0 {
			reason = "Error"
		}
	}
	fc.status.Reason = reason
}

// byName finds the newest container of that name.
func (f *fakeRuntime) byName(name string) *fakeContainer {
	f.mu.Lock()
	defer f.mu.Unlock()
	var best *fakeContainer
	for _, c := range f.containers {
		if c.c.Metadata.Name == name && (best == nil || c.c.CreatedAt > best.c.CreatedAt) {
			best = c
		}
	}
	return best
}

func (f *fakeRuntime) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.containers {
		if c.c.Metadata.Name == name {
			n++
		}
	}
	return n
}

func (f *fakeRuntime) Version(context.Context) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{RuntimeName: "fake", RuntimeVersion: "1.0"}, nil
}

func (f *fakeRuntime) Status(context.Context) (*runtimeapi.RuntimeStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, fmt.Errorf("connection refused")
	}
	return &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{{Type: "RuntimeReady", Status: true}, {Type: "NetworkReady", Status: true}}}, nil
}

func (f *fakeRuntime) RunPodSandbox(_ context.Context, cfg *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextID("sb")
	f.sandboxes[id] = &runtimeapi.PodSandbox{Id: id, Metadata: cfg.Metadata, State: runtimeapi.PodSandboxState_SANDBOX_READY, CreatedAt: f.ts(), Labels: cfg.Labels, Annotations: cfg.Annotations}
	f.record("RunPodSandbox %s", cfg.Metadata.Name)
	return id, nil
}

func (f *fakeRuntime) StopPodSandbox(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sb, ok := f.sandboxes[id]; ok {
		sb.State = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	}
	f.record("StopPodSandbox")
	return nil
}

func (f *fakeRuntime) RemovePodSandbox(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sandboxes, id)
	f.record("RemovePodSandbox")
	return nil
}

func (f *fakeRuntime) PodSandboxStatus(_ context.Context, id string) (*runtimeapi.PodSandboxStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sb, ok := f.sandboxes[id]
	if !ok {
		return nil, cri.ErrNotFound
	}
	return &runtimeapi.PodSandboxStatus{Id: id, State: sb.State, Network: &runtimeapi.PodSandboxNetworkStatus{Ip: "10.244.0.7"}}, nil
}

func matches(labels, sel map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeRuntime) ListPodSandbox(_ context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*runtimeapi.PodSandbox
	for _, sb := range f.sandboxes {
		if filter != nil && !matches(sb.Labels, filter.LabelSelector) {
			continue
		}
		c := *sb
		out = append(out, &c)
	}
	return out, nil
}

func (f *fakeRuntime) CreateContainer(_ context.Context, podID string, cfg *runtimeapi.ContainerConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextID("c")
	created := f.ts()
	c := &runtimeapi.Container{Id: id, PodSandboxId: podID, Metadata: cfg.Metadata, Image: cfg.Image, State: runtimeapi.ContainerState_CONTAINER_CREATED, CreatedAt: created, Labels: cfg.Labels, Annotations: cfg.Annotations}
	st := &runtimeapi.ContainerStatus{Id: id, Metadata: cfg.Metadata, State: runtimeapi.ContainerState_CONTAINER_CREATED, CreatedAt: created, ImageRef: "sha256:bb", Labels: cfg.Labels, Annotations: cfg.Annotations}
	f.containers[id] = &fakeContainer{c: c, status: st, cfg: cfg}
	f.record("CreateContainer %s/%d", cfg.Metadata.Name, cfg.Metadata.Attempt)
	return id, nil
}

func (f *fakeRuntime) StartContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc, ok := f.containers[id]
	if !ok {
		return cri.ErrNotFound
	}
	fc.c.State = runtimeapi.ContainerState_CONTAINER_RUNNING
	fc.status.State = runtimeapi.ContainerState_CONTAINER_RUNNING
	fc.status.StartedAt = f.now().UnixNano()
	f.record("StartContainer %s", fc.c.Metadata.Name)
	return nil
}

func (f *fakeRuntime) StopContainer(_ context.Context, id string, timeout int64) error {
	f.mu.Lock()
	fc, ok := f.containers[id]
	running := ok && fc.c.State == runtimeapi.ContainerState_CONTAINER_RUNNING
	if ok {
		f.record("StopContainer %s grace=%d", fc.c.Metadata.Name, timeout)
	}
	f.mu.Unlock()
	if running {
		f.exit(id, 137, "Error")
	}
	return nil
}

func (f *fakeRuntime) RemoveContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, id)
	f.record("RemoveContainer")
	return nil
}

func (f *fakeRuntime) ListContainers(_ context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*runtimeapi.Container
	for _, c := range f.containers {
		if filter != nil && !matches(c.c.Labels, filter.LabelSelector) {
			continue
		}
		cc := *c.c
		out = append(out, &cc)
	}
	return out, nil
}

func (f *fakeRuntime) ContainerStatus(_ context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc, ok := f.containers[id]
	if !ok {
		return nil, cri.ErrNotFound
	}
	s := *fc.status
	return &s, nil
}

func (f *fakeRuntime) ExecSync(_ context.Context, id string, cmd []string, _ time.Duration) ([]byte, []byte, int32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := ""
	for i, c := range cmd {
		if i > 0 {
			key += " "
		}
		key += c
	}
	f.record("ExecSync %s", key)
	return nil, nil, f.execResult[key], nil
}

func (f *fakeRuntime) ListContainerStats(context.Context) ([]*runtimeapi.ContainerStats, error) {
	return nil, nil
}

func (f *fakeRuntime) ListPodSandboxStats(context.Context) ([]*runtimeapi.PodSandboxStats, error) {
	return nil, nil
}

func (f *fakeRuntime) ImageStatus(_ context.Context, image string) (*runtimeapi.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.images[image]; ok {
		return &runtimeapi.Image{Id: id, RepoTags: []string{image}}, nil
	}
	return nil, nil
}

func (f *fakeRuntime) ListImages(context.Context) ([]*runtimeapi.Image, error) { return nil, nil }

func (f *fakeRuntime) PullImage(_ context.Context, image string, _ *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("PullImage %s", image)
	if f.pullErr != nil {
		return "", f.pullErr
	}
	if id, ok := f.images[image]; ok {
		return id, nil
	}
	return "", fmt.Errorf("%s: not found", image)
}

func (f *fakeRuntime) ImageFsInfo(context.Context) ([]*runtimeapi.FilesystemUsage, error) {
	return nil, nil
}

var _ cri.Runtime = (*fakeRuntime)(nil)
