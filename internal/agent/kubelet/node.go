package kubelet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"tug/internal/version"
)

// Node heartbeat timing: the Lease is renewed every leaseRenew, the Node's
// status is written when it changes and at least every statusRefresh.
const (
	leaseDuration = 40
	leaseRenew    = 10 * time.Second
	statusRefresh = time.Minute
	statusCheck   = 2 * time.Second
)

func everything() labels.Selector { return labels.Everything() }

// registerNode creates the Node, or takes over the existing one.
func (k *Kubelet) registerNode(ctx context.Context) error {
	want := k.initialNode()
	for attempt := 0; ; attempt++ {
		n, err := k.client.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			k.node.Store(n)
			slog.Info("node registered", "node", n.Name)
			return k.updateNodeStatus(ctx, true)
		}
		if apierrors.IsAlreadyExists(err) {
			old, gerr := k.client.CoreV1().Nodes().Get(ctx, want.Name, metav1.GetOptions{})
			if gerr == nil {
				n := old.DeepCopy()
				for key, v := range want.Labels {
					n.Labels = setKey(n.Labels, key, v)
				}
				if n.Spec.PodCIDR == "" && want.Spec.PodCIDR != "" {
					n.Spec.PodCIDR, n.Spec.PodCIDRs = want.Spec.PodCIDR, want.Spec.PodCIDRs
				}
				if !apiequality.Semantic.DeepEqual(n.Labels, old.Labels) || n.Spec.PodCIDR != old.Spec.PodCIDR {
					if n, err = k.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
						if apierrors.IsConflict(err) {
							continue
						}
						return fmt.Errorf("update node %s: %w", want.Name, err)
					}
				}
				k.node.Store(n)
				slog.Info("node found registered; taking it over", "node", n.Name)
				return k.updateNodeStatus(ctx, true)
			}
			err = gerr
		}
		if attempt > 30 || ctx.Err() != nil {
			return fmt.Errorf("register node %s: %w", want.Name, err)
		}
		slog.Warn("register node; retrying", "node", want.Name, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func setKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

func (k *Kubelet) initialNode() *corev1.Node {
	l := map[string]string{
		corev1.LabelHostname:      k.cfg.NodeName,
		corev1.LabelOSStable:      runtime.GOOS,
		corev1.LabelArchStable:    runtime.GOARCH,
		"beta.kubernetes.io/os":   runtime.GOOS,
		"beta.kubernetes.io/arch": runtime.GOARCH,
	}
	for key, v := range k.cfg.Labels {
		l[key] = v
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Labels: l}}
	if k.cfg.PodCIDR != "" {
		n.Spec.PodCIDR = k.cfg.PodCIDR
		n.Spec.PodCIDRs = []string{k.cfg.PodCIDR}
	}
	return n
}

// nodeLoop renews the Lease and keeps the Node's status current. A change of
// the runtime's health is published within statusCheck.
func (k *Kubelet) nodeLoop(ctx context.Context) {
	leaseT := k.clock.NewTicker(leaseRenew)
	defer leaseT.Stop()
	checkT := k.clock.NewTicker(statusCheck)
	defer checkT.Stop()
	k.renewLease(ctx)
	lastFull := k.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-leaseT.C():
			k.renewLease(ctx)
		case <-checkT.C():
			force := k.clock.Since(lastFull) > statusRefresh
			if err := k.updateNodeStatus(ctx, force); err != nil {
				slog.Warn("update node status", "err", err)
				continue
			}
			if force {
				lastFull = k.clock.Now()
			}
		}
	}
}

func (k *Kubelet) renewLease(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(k.clock.Now())
	dur := int32(leaseDuration)
	holder := k.cfg.NodeName
	l, err := leases.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Namespace: corev1.NamespaceNodeLease},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &now},
		}
		if n := k.node.Load(); n != nil {
			l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}
		}
		if _, err := leases.Create(ctx, l, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			slog.Warn("create node lease", "err", err)
		}
		return
	}
	if err != nil {
		slog.Warn("read node lease", "err", err)
		return
	}
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &holder, &dur, &now
	if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		slog.Warn("renew node lease", "err", err)
	}
}

// runtimeHealth asks the runtime whether it can run pods.
func (k *Kubelet) runtimeHealth(ctx context.Context) error {
	if k.cfg.RuntimeHealthy != nil {
		return k.cfg.RuntimeHealthy(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st, err := k.rt.Status(ctx)
	if err != nil {
		return fmt.Errorf("container runtime is down: %v", err)
	}
	for _, c := range st.GetConditions() {
		if (c.Type == "RuntimeReady" || c.Type == "NetworkReady") && !c.Status {
			return fmt.Errorf("container runtime %s is not ready: %s %s", strings.ToLower(strings.TrimSuffix(c.Type, "Ready")), c.Reason, c.Message)
		}
	}
	return nil
}

// updateNodeStatus writes the Node's status if it changed (or force).
func (k *Kubelet) updateNodeStatus(ctx context.Context, force bool) error {
	cur := k.node.Load()
	if cur == nil {
		return errors.New("node not registered")
	}
	rerr := k.runtimeHealth(ctx)
	prev := k.runtimeErr.Load()
	if (prev == nil) != (rerr == nil) {
		if rerr != nil && k.wasReady.Load() {
			slog.Warn("node not ready", "reason", rerr)
		} else if rerr != nil {
			slog.Info("node not ready yet", "reason", rerr)
		} else {
			k.wasReady.Store(true)
			slog.Info("node ready: the container runtime answers")
			k.kickAll()
		}
	}
	if rerr != nil {
		k.runtimeErr.Store(&rerr)
	} else {
		k.runtimeErr.Store(nil)
	}
	st := k.nodeStatus(cur.Status, rerr)
	if !force && nodeStatusEquivalent(cur.Status, st) {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := k.client.CoreV1().Nodes().Patch(ctx, k.cfg.NodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return err
	}
	k.node.Store(n)
	return nil
}

// nodeStatusEquivalent compares statuses ignoring heartbeat times.
func nodeStatusEquivalent(a, b corev1.NodeStatus) bool {
	strip := func(s corev1.NodeStatus) corev1.NodeStatus {
		s = *s.DeepCopy()
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		s.Images = nil
		return s
	}
	return apiequality.Semantic.DeepEqual(strip(a), strip(b))
}

// nodeStatus computes the Node's status: capacity from the machine, allocatable
// after reservations, addresses, system info and the four conditions.
func (k *Kubelet) nodeStatus(old corev1.NodeStatus, runtimeErr error) corev1.NodeStatus {
	now := metav1.NewTime(k.clock.Now())
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(k.memoryCapacity(), resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(k.cfg.MaxPods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(diskCapacity(k.cfg.RootDir), resource.BinarySI),
		"hugepages-1Gi":                 *resource.NewQuantity(0, resource.BinarySI),
		"hugepages-2Mi":                 *resource.NewQuantity(0, resource.BinarySI),
	}
	// Allocatable keeps back what the node itself needs: the eviction margins
	// (100 MiB of memory, a tenth of the disk) and whatever was reserved.
	reserved := corev1.ResourceList{
		corev1.ResourceMemory:           *resource.NewQuantity(100<<20, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(diskCapacity(k.cfg.RootDir)/10, resource.BinarySI),
	}
	for name, q := range k.cfg.Reserved {
		cur := reserved[name]
		cur.Add(q)
		reserved[name] = cur
	}
	allocatable := corev1.ResourceList{}
	for name, q := range capacity {
		a := q.DeepCopy()
		if r, ok := reserved[name]; ok {
			a.Sub(r)
		}
		if a.Sign() < 0 {
			a = *resource.NewQuantity(0, q.Format)
		}
		allocatable[name] = a
	}
	st := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable,
		Phase:       "",
		DaemonEndpoints: corev1.NodeDaemonEndpoints{
			KubeletEndpoint: corev1.DaemonEndpoint{Port: k.cfg.Port},
		},
		NodeInfo: k.nodeInfo(),
		Images:   old.Images,
	}
	if ip := k.hostIP(); ip != "" {
		st.Addresses = append(st.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	st.Addresses = append(st.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: k.cfg.NodeName})

	cond := func(t corev1.NodeConditionType, status corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		c := corev1.NodeCondition{Type: t, Status: status, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
		for _, oc := range old.Conditions {
			if oc.Type == t && oc.Status == status {
				c.LastTransitionTime = oc.LastTransitionTime
			}
		}
		return c
	}
	memAvail := memAvailable()
	memPressure := memAvail > 0 && memAvail < 100<<20
	diskPressure := diskFreeRatio(k.cfg.RootDir) < 0.10
	pidPressure := pidUsageRatio() > 0.95
	st.Conditions = []corev1.NodeCondition{
		pressure(cond, corev1.NodeMemoryPressure, memPressure, "KubeletHasInsufficientMemory", "KubeletHasSufficientMemory", "node has insufficient memory available", "node has sufficient memory available"),
		pressure(cond, corev1.NodeDiskPressure, diskPressure, "KubeletHasDiskPressure", "KubeletHasNoDiskPressure", "node has disk pressure", "node has no disk pressure"),
		pressure(cond, corev1.NodePIDPressure, pidPressure, "KubeletHasInsufficientPID", "KubeletHasSufficientPID", "node has insufficient PIDs available", "node has sufficient PIDs available"),
	}
	if runtimeErr != nil {
		st.Conditions = append(st.Conditions, cond(corev1.NodeReady, corev1.ConditionFalse, "KubeletNotReady", runtimeErr.Error()))
	} else {
		st.Conditions = append(st.Conditions, cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "node agent is posting ready status"))
	}
	return st
}

func pressure(cond func(corev1.NodeConditionType, corev1.ConditionStatus, string, string) corev1.NodeCondition, t corev1.NodeConditionType, on bool, onReason, offReason, onMsg, offMsg string) corev1.NodeCondition {
	if on {
		return cond(t, corev1.ConditionTrue, onReason, onMsg)
	}
	return cond(t, corev1.ConditionFalse, offReason, offMsg)
}

func (k *Kubelet) nodeInfo() corev1.NodeSystemInfo {
	var u unix.Utsname
	_ = unix.Uname(&u)
	return corev1.NodeSystemInfo{
		MachineID:               readTrim("/etc/machine-id"),
		SystemUUID:              readTrim("/sys/class/dmi/id/product_uuid"),
		BootID:                  readTrim("/proc/sys/kernel/random/boot_id"),
		KernelVersion:           unix.ByteSliceToString(u.Release[:]),
		OSImage:                 osImage(),
		ContainerRuntimeVersion: k.cfg.RuntimeVersion,
		KubeletVersion:          kubeletVersion(),
		KubeProxyVersion:        kubeletVersion(),
		OperatingSystem:         runtime.GOOS,
		Architecture:            runtime.GOARCH,
	}
}

// kubeletVersion is the Kubernetes release the node agent implements, without
// the build suffix (clients compare it with the server's).
func kubeletVersion() string {
	v, _, _ := strings.Cut(version.Kubernetes, "+")
	return v
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func osImage() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func meminfo(key string) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), key+":"); ok {
			fs := strings.Fields(v)
			if len(fs) > 0 {
				n, _ := strconv.ParseInt(fs[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

func readMemTotal() int64 { return meminfo("MemTotal") }
func memAvailable() int64 { return meminfo("MemAvailable") }

func diskCapacity(dir string) int64 {
	var s unix.Statfs_t
	if unix.Statfs(dir, &s) != nil {
		return 0
	}
	return int64(s.Blocks) * s.Bsize
}

func diskFreeRatio(dir string) float64 {
	var s unix.Statfs_t
	if unix.Statfs(dir, &s) != nil || s.Blocks == 0 {
		return 1
	}
	return float64(s.Bavail) / float64(s.Blocks)
}

func pidUsageRatio() float64 {
	max, err := strconv.ParseFloat(readTrim("/proc/sys/kernel/pid_max"), 64)
	if err != nil || max == 0 {
		return 0
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if c := e.Name()[0]; c >= '0' && c <= '9' {
			n++
		}
	}
	return float64(n) / max
}

// hostResolv is the node's own resolver configuration.
type hostResolv struct {
	Servers, Searches, Options []string
}

func readHostResolv(path string) hostResolv {
	var r hostResolv
	f, err := os.Open(path)
	if err != nil {
		return r
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) < 2 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		switch fs[0] {
		case "nameserver":
			r.Servers = append(r.Servers, fs[1])
		case "search":
			r.Searches = fs[1:]
		case "options":
			r.Options = append(r.Options, fs[1:]...)
		}
	}
	return r
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
