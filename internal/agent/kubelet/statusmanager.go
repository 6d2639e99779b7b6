package kubelet

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/workqueue"
)

// statusManager writes pod statuses to the API as soon as they change. Writes of
// different pods run in parallel; for one pod only the newest status is sent.
type statusManager struct {
	client kubernetes.Interface
	queue  workqueue.TypedRateLimitingInterface[types.UID]

	mu      sync.Mutex
	pending map[types.UID]*statusEntry
	written map[types.UID]corev1.PodStatus
}

type statusEntry struct {
	ns, name string
	// uid is the API object's uid (a mirror pod's for static pods).
	uid    types.UID
	status corev1.PodStatus
}

func newStatusManager(c kubernetes.Interface) *statusManager {
	return &statusManager{
		client: c,
		queue: workqueue.NewTypedRateLimitingQueue[types.UID](
			workqueue.NewTypedItemExponentialFailureRateLimiter[types.UID](50*time.Millisecond, 10*time.Second)),
		pending: map[types.UID]*statusEntry{},
		written: map[types.UID]corev1.PodStatus{},
	}
}

// set records the status to publish for the API object ns/name (uid).
func (m *statusManager) set(ns, name string, uid types.UID, st corev1.PodStatus) {
	m.mu.Lock()
	if w, ok := m.written[uid]; ok && apiequality.Semantic.DeepEqual(w, st) {
		delete(m.pending, uid)
		m.mu.Unlock()
		return
	}
	m.pending[uid] = &statusEntry{ns: ns, name: name, uid: uid, status: st}
	m.mu.Unlock()
	m.queue.Add(uid)
}

// lastWritten is the last status this agent wrote for the object.
func (m *statusManager) lastWritten(uid types.UID) (corev1.PodStatus, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.written[uid]
	return st, ok
}

func (m *statusManager) forget(uid types.UID) {
	m.mu.Lock()
	delete(m.pending, uid)
	delete(m.written, uid)
	m.mu.Unlock()
}

func (m *statusManager) run(ctx context.Context) {
	for i := 0; i < 4; i++ {
		go func() {
			for m.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	m.queue.ShutDown()
}

// flush waits briefly for pending writes (on shutdown).
func (m *statusManager) flush(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		m.mu.Lock()
		n := len(m.pending)
		m.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *statusManager) processNext(ctx context.Context) bool {
	uid, quit := m.queue.Get()
	if quit {
		return false
	}
	defer m.queue.Done(uid)
	m.mu.Lock()
	e := m.pending[uid]
	delete(m.pending, uid)
	m.mu.Unlock()
	if e == nil {
		m.queue.Forget(uid)
		return true
	}
	t0 := time.Now()
	err := m.write(ctx, e)
	slog.Debug("pod status written", "pod", e.ns+"/"+e.name, "phase", e.status.Phase, "took", time.Since(t0), "err", err)
	if err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) && isUIDPrecondition(err) {
			m.queue.Forget(uid)
			return true
		}
		slog.Debug("write pod status", "pod", e.ns+"/"+e.name, "err", err)
		m.mu.Lock()
		if _, newer := m.pending[uid]; !newer {
			m.pending[uid] = e
		}
		m.mu.Unlock()
		if ctx.Err() == nil {
			m.queue.AddRateLimited(uid)
		}
		return true
	}
	m.queue.Forget(uid)
	return true
}

func isUIDPrecondition(err error) bool {
	return apierrors.IsConflict(err) && containsFold(err.Error(), "uid")
}

// write sends the status as a strategic merge patch with the object's uid as a
// precondition, so a pod re-created under the same name is never written to.
func (m *statusManager) write(ctx context.Context, e *statusEntry) error {
	body := map[string]any{
		"metadata": map[string]any{"uid": e.uid},
		"status":   statusPatch(e.status),
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, err = m.client.CoreV1().Pods(e.ns).Patch(ctx, e.name, types.StrategicMergePatchType, b, metav1.PatchOptions{}, "status")
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.written[e.uid] = e.status
	m.mu.Unlock()
	return nil
}

// statusPatch is the status with explicit nulls for fields the agent clears, so
// that a merge removes them.
func statusPatch(st corev1.PodStatus) map[string]any {
	b, _ := json.Marshal(st)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, f := range []string{"podIP", "podIPs", "hostIP", "hostIPs", "message", "reason", "initContainerStatuses", "containerStatuses"} {
		if _, ok := m[f]; !ok {
			m[f] = nil
		}
	}
	// Lists without a merge key are replaced whole; those with one (conditions,
	// podIPs, hostIPs) merge by key.
	return m
}
