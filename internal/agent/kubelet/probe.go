package kubelet

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeKind is liveness, readiness or startup.
type probeKind string

const (
	probeLiveness  probeKind = "Liveness"
	probeReadiness probeKind = "Readiness"
	probeStartup   probeKind = "Startup"
)

// probeManager runs each container's probes on their own timers and keeps the
// results the status and the pod worker read. A result that flips wakes the
// pod's worker.
type probeManager struct {
	k *Kubelet

	mu      sync.Mutex
	workers map[probeKey]*probeWorker
}

type probeKey struct {
	uid       types.UID
	container string
	kind      probeKind
}

type probeWorker struct {
	key         probeKey
	containerID string
	stop        chan struct{}
	// result: true is success. Readiness and startup begin false, liveness true.
	result bool
	// failed marks a liveness or startup probe that crossed its threshold.
	failed bool
}

func newProbeManager(k *Kubelet) *probeManager {
	return &probeManager{k: k, workers: map[probeKey]*probeWorker{}}
}

func (m *probeManager) probeFor(c *corev1.Container, kind probeKind) *corev1.Probe {
	switch kind {
	case probeLiveness:
		return c.LivenessProbe
	case probeReadiness:
		return c.ReadinessProbe
	case probeStartup:
		return c.StartupProbe
	}
	return nil
}

// syncPod starts probe workers for running containers and stops those of
// containers that are gone or replaced.
func (m *probeManager) syncPod(pod *corev1.Pod, rs *podRuntime) {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[probeKey]string{}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cur := rs.latest(c.Name)
		if cur == nil || cur.State != runtimeRunning {
			continue
		}
		for _, kind := range []probeKind{probeLiveness, probeReadiness, probeStartup} {
			if m.probeFor(c, kind) != nil {
				want[probeKey{pod.UID, c.Name, kind}] = cur.ID
			}
		}
	}
	for key, w := range m.workers {
		if key.uid != pod.UID {
			continue
		}
		if id, ok := want[key]; !ok || id != w.containerID {
			close(w.stop)
			delete(m.workers, key)
		}
	}
	for key, id := range want {
		if _, ok := m.workers[key]; ok {
			continue
		}
		c := findContainer(pod, key.container)
		w := &probeWorker{key: key, containerID: id, stop: make(chan struct{}), result: key.kind == probeLiveness}
		m.workers[key] = w
		go m.loop(pod.DeepCopy(), c.DeepCopy(), w, rs.sandboxIP, startedAt(rs.latest(c.Name)))
	}
}

func startedAt(rec *containerRecord) time.Time {
	if rec == nil || rec.Status == nil {
		return time.Now()
	}
	return unixNano(rec.Status.StartedAt)
}

// results answers readiness and startup for a running container.
func (m *probeManager) results(pod *corev1.Pod, c *corev1.Container, id string) (ready, started bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	started = true
	if c.StartupProbe != nil {
		w := m.workers[probeKey{pod.UID, c.Name, probeStartup}]
		started = w != nil && w.containerID == id && w.result
	}
	ready = started
	if c.ReadinessProbe != nil {
		w := m.workers[probeKey{pod.UID, c.Name, probeReadiness}]
		ready = started && w != nil && w.containerID == id && w.result
	}
	return ready, started
}

// mustRestart names the probe (liveness or startup) that says the container
// must be restarted, or "".
func (m *probeManager) mustRestart(uid types.UID, name, id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, kind := range []probeKind{probeStartup, probeLiveness} {
		if w := m.workers[probeKey{uid, name, kind}]; w != nil && w.containerID == id && w.failed {
			return strings.ToLower(string(kind))
		}
	}
	return ""
}

// resetContainer stops a container's probes (it is being restarted).
func (m *probeManager) resetContainer(uid types.UID, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, w := range m.workers {
		if key.uid == uid && key.container == name {
			close(w.stop)
			delete(m.workers, key)
		}
	}
}

func (m *probeManager) removePod(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, w := range m.workers {
		if key.uid == uid {
			close(w.stop)
			delete(m.workers, key)
		}
	}
}

func (m *probeManager) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, w := range m.workers {
		close(w.stop)
		delete(m.workers, key)
	}
}

// loop runs one probe: after the initial delay, every period, counting
// consecutive results against the thresholds.
func (m *probeManager) loop(pod *corev1.Pod, c *corev1.Container, w *probeWorker, podIP string, started time.Time) {
	k := m.k
	p := m.probeFor(c, w.key.kind)
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	success := max(p.SuccessThreshold, 1)
	failure := max(p.FailureThreshold, 1)
	if delay := time.Duration(p.InitialDelaySeconds)*time.Second - k.clock.Since(started); delay > 0 {
		select {
		case <-w.stop:
			return
		case <-k.clock.After(delay):
		}
	}
	var okRun, failRun int32
	t := k.clock.NewTicker(period)
	defer t.Stop()
	for {
		// Liveness and readiness wait for the startup probe to pass.
		if w.key.kind != probeStartup && c.StartupProbe != nil {
			_, startedOK := m.results(pod, c, w.containerID)
			if !startedOK {
				select {
				case <-w.stop:
					return
				case <-t.C():
					continue
				}
			}
		}
		ctx, cancel := context.WithTimeout(k.ctx, timeout)
		ok, msg := k.runProbe(ctx, pod, c, w.containerID, podIP, &p.ProbeHandler, timeout)
		cancel()
		select {
		case <-w.stop:
			return
		default:
		}
		if ok {
			okRun, failRun = okRun+1, 0
		} else {
			okRun, failRun = 0, failRun+1
			k.recorder.Eventf(refFor(pod, c), corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", w.key.kind, msg)
		}
		flipped := false
		m.mu.Lock()
		if cur := m.workers[w.key]; cur != w {
			m.mu.Unlock()
			return
		}
		switch {
		case ok && okRun >= success && !w.result:
			w.result, flipped = true, true
		case !ok && failRun >= failure && w.result:
			w.result, flipped = false, true
		case !ok && failRun >= failure && w.key.kind == probeStartup && !w.failed:
			flipped = true
		}
		if !ok && failRun >= failure && w.key.kind != probeReadiness {
			w.failed = true
		}
		done := w.key.kind == probeStartup && w.result
		m.mu.Unlock()
		if flipped {
			slog.Debug("probe result changed", "pod", podKey(pod), "container", c.Name, "probe", w.key.kind, "success", ok)
			k.wakePod(pod.UID)
		}
		if done {
			// A passed startup probe is not run again for this container.
			<-w.stop
			return
		}
		select {
		case <-w.stop:
			return
		case <-t.C():
		}
	}
}

func (k *Kubelet) wakePod(uid types.UID) {
	k.mu.Lock()
	w := k.workers[uid]
	k.mu.Unlock()
	if w != nil {
		w.kick()
		return
	}
	k.static.wake(uid)
}

// runProbe runs a probe handler once: a command in the container, an HTTP GET
// or a TCP connection, from the node's network.
func (k *Kubelet) runProbe(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id, podIP string, h *corev1.ProbeHandler, timeout time.Duration) (bool, string) {
	switch {
	case h.Exec != nil:
		stdout, stderr, code, err := k.rt.ExecSync(ctx, id, h.Exec.Command, timeout)
		if err != nil {
			return false, err.Error()
		}
		if code != 0 {
			out := strings.TrimSpace(string(stdout) + string(stderr))
			return false, fmt.Sprintf("command %q exited with %d: %s", strings.Join(h.Exec.Command, " "), code, out)
		}
		return true, ""
	case h.HTTPGet != nil:
		return k.httpGet(ctx, c, podIP, h.HTTPGet, timeout)
	case h.TCPSocket != nil:
		host := h.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		port, err := resolvePort(h.TCPSocket.Port, c)
		if err != nil {
			return false, err.Error()
		}
		conn, err := k.dial(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false, fmt.Sprintf("dial tcp %s: %v", net.JoinHostPort(host, strconv.Itoa(port)), err)
		}
		conn.Close()
		return true, ""
	case h.GRPC != nil:
		return false, "gRPC probes are not supported by this node"
	}
	return true, ""
}

func (k *Kubelet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if k.cfg.Dial != nil {
		return k.cfg.Dial(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (k *Kubelet) httpGet(ctx context.Context, c *corev1.Container, podIP string, g *corev1.HTTPGetAction, timeout time.Duration) (bool, string) {
	host := g.Host
	if host == "" {
		host = podIP
	}
	port, err := resolvePort(g.Port, c)
	if err != nil {
		return false, err.Error()
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	full := u.String() + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, full, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", "kube-probe/1.32")
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	tr := &http.Transport{
		DialContext:       k.dial,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if len(via) >= 10 || r.URL.Hostname() != host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		return false, fmt.Sprintf("Get %q: %v", full, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return true, ""
	}
	_ = body
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

// resolvePort turns a probe's port (number or container port name) into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port %q in container %s", p.StrVal, c.Name)
}

// runHook runs a lifecycle hook: a command in the container, an HTTP GET, or a
// sleep.
func (k *Kubelet) runHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id, podIP string, h *corev1.LifecycleHandler, grace int64) (string, error) {
	switch {
	case h.Exec != nil:
		timeout := time.Duration(max(grace, 1)) * time.Second
		stdout, stderr, code, err := k.rt.ExecSync(ctx, id, h.Exec.Command, timeout)
		if err != nil {
			return err.Error(), err
		}
		if code != 0 {
			msg := fmt.Sprintf("command '%s' exited with %d: %s", strings.Join(h.Exec.Command, " "), code, strings.TrimSpace(string(stdout)+string(stderr)))
			return msg, fmt.Errorf("%s", msg)
		}
		return "", nil
	case h.HTTPGet != nil:
		ok, msg := k.httpGet(ctx, c, podIP, h.HTTPGet, 10*time.Second)
		if !ok {
			return msg, fmt.Errorf("%s", msg)
		}
		return "", nil
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-k.clock.After(time.Duration(h.Sleep.Seconds) * time.Second):
		}
		return "", nil
	}
	return "", nil
}
