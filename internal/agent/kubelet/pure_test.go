package kubelet

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func running(name string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func exited(name string, code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}
}

func waiting(name, reason string, last *int32) corev1.ContainerStatus {
	s := corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
	if last != nil {
		s.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: *last}
	}
	return s
}

func i32(v int32) *int32 { return &v }

// The pod phase rules: a pod is Pending until its init containers succeeded and
// its containers started, Running while any runs or will be restarted, and
// Succeeded/Failed by exit codes under its restart policy.
func TestPodPhase(t *testing.T) {
	for _, tc := range []struct {
		name       string
		policy     corev1.RestartPolicy
		inits      []corev1.ContainerStatus
		containers []corev1.ContainerStatus
		want       corev1.PodPhase
	}{
		{"creating", corev1.RestartPolicyAlways, nil, []corev1.ContainerStatus{waiting("a", "ContainerCreating", nil)}, corev1.PodPending},
		{"running", corev1.RestartPolicyAlways, nil, []corev1.ContainerStatus{running("a")}, corev1.PodRunning},
		{"one running one creating", corev1.RestartPolicyAlways, nil, []corev1.ContainerStatus{running("a"), waiting("b", "ContainerCreating", nil)}, corev1.PodPending},
		{"crash loop is running", corev1.RestartPolicyAlways, nil, []corev1.ContainerStatus{waiting("a", "CrashLoopBackOff", i32(1))}, corev1.PodRunning},
		{"never failed", corev1.RestartPolicyNever, nil, []corev1.ContainerStatus{exited("a", 2)}, corev1.PodFailed},
		{"never one failed one ok", corev1.RestartPolicyNever, nil, []corev1.ContainerStatus{exited("a", 0), exited("b", 1)}, corev1.PodFailed},
		{"never succeeded", corev1.RestartPolicyNever, nil, []corev1.ContainerStatus{exited("a", 0)}, corev1.PodSucceeded},
		{"onfailure succeeded", corev1.RestartPolicyOnFailure, nil, []corev1.ContainerStatus{exited("a", 0)}, corev1.PodSucceeded},
		{"onfailure failing restarts", corev1.RestartPolicyOnFailure, nil, []corev1.ContainerStatus{exited("a", 1)}, corev1.PodRunning},
		{"always exited", corev1.RestartPolicyAlways, nil, []corev1.ContainerStatus{exited("a", 0)}, corev1.PodRunning},
		{"init running", corev1.RestartPolicyAlways, []corev1.ContainerStatus{running("i")}, []corev1.ContainerStatus{waiting("a", "PodInitializing", nil)}, corev1.PodPending},
		{"init failed never", corev1.RestartPolicyNever, []corev1.ContainerStatus{exited("i", 1)}, []corev1.ContainerStatus{waiting("a", "PodInitializing", nil)}, corev1.PodFailed},
		{"init failed restarting", corev1.RestartPolicyAlways, []corev1.ContainerStatus{waiting("i", "CrashLoopBackOff", i32(1))}, []corev1.ContainerStatus{waiting("a", "PodInitializing", nil)}, corev1.PodPending},
		{"init done", corev1.RestartPolicyAlways, []corev1.ContainerStatus{exited("i", 0)}, []corev1.ContainerStatus{running("a")}, corev1.PodRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: tc.policy}}
			if got := podPhase(pod, tc.inits, tc.containers); got != tc.want {
				t.Errorf("phase %s, want %s", got, tc.want)
			}
		})
	}
}

func TestComputeStatusConditions(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	earlier := metav1.NewTime(now.Add(-time.Hour))
	pod := testPod("p", func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Image: "busybox:1.35"})
		p.Spec.ReadinessGates = nil
		p.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: earlier},
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: earlier},
		}
	})
	rs := &podRuntime{
		sandboxes: []*runtimeapi.PodSandbox{{Id: "sb", State: runtimeapi.PodSandboxState_SANDBOX_READY}},
		sandboxIP: "10.244.0.9",
		containers: []*containerRecord{
			{ID: "c1", Name: "c", SandboxID: "sb", State: runtimeRunning, Status: &runtimeapi.ContainerStatus{StartedAt: now.UnixNano(), ImageRef: "sha256:x"}},
			{ID: "b1", Name: "b", SandboxID: "sb", State: runtimeRunning, Status: &runtimeapi.ContainerStatus{StartedAt: now.UnixNano()}},
		},
	}
	probe := func(_ *corev1.Pod, c *corev1.Container, _ string) (bool, bool) { return c.Name != "b", true }
	st := computeStatus(statusInput{pod: pod, rs: rs, probe: probe, hostIP: "10.200.0.2", runtime: "containerd", now: now, waiting: map[string]waitInfo{}})
	cond := map[corev1.PodConditionType]corev1.PodCondition{}
	for _, c := range st.Conditions {
		cond[c.Type] = c
	}
	if c := cond[corev1.PodReady]; c.Status != corev1.ConditionFalse || c.Message != "containers with unready status: [b]" || !c.LastTransitionTime.Equal(&earlier) {
		t.Errorf("Ready %+v (an unchanged condition keeps its transition time)", c)
	}
	if c := cond[corev1.PodScheduled]; c.Status != corev1.ConditionTrue {
		t.Errorf("PodScheduled is kept: %+v", c)
	}
	if cond[corev1.PodInitialized].Status != corev1.ConditionTrue || cond[corev1.PodReadyToStartContainers].Status != corev1.ConditionTrue {
		t.Errorf("conditions %+v", st.Conditions)
	}
	if st.ContainerStatuses[0].Name != "b" || st.ContainerStatuses[1].Image != "docker.io/library/busybox:latest" || st.ContainerStatuses[0].Image != "docker.io/library/busybox:1.35" {
		t.Errorf("container statuses sorted by name with full image names: %+v", st.ContainerStatuses)
	}
	if st.PodIP != "10.244.0.9" || len(st.PodIPs) != 1 || st.StartTime == nil || st.Phase != corev1.PodRunning {
		t.Errorf("status %+v", st)
	}
}

func TestQOSAndOOMScore(t *testing.T) {
	res := func(req, lim string) corev1.ResourceRequirements {
		r := corev1.ResourceRequirements{}
		if req != "" {
			r.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req), corev1.ResourceMemory: resource.MustParse(req + "Mi")}
		}
		if lim != "" {
			r.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(lim), corev1.ResourceMemory: resource.MustParse(lim + "Mi")}
		}
		return r
	}
	for _, tc := range []struct {
		req, lim string
		qos      corev1.PodQOSClass
		oom      int64
	}{
		{"", "", corev1.PodQOSBestEffort, 1000},
		{"1", "1", corev1.PodQOSGuaranteed, -997},
		{"", "1", corev1.PodQOSGuaranteed, -997},
		{"1", "2", corev1.PodQOSBurstable, 999},
	} {
		pod := testPod("q", func(p *corev1.Pod) { p.Spec.Containers[0].Resources = res(tc.req, tc.lim) })
		if tc.req == "" && tc.lim != "" {
			// The API server fills requests from limits.
			pod.Spec.Containers[0].Resources.Requests = pod.Spec.Containers[0].Resources.Limits
		}
		if q := qosClass(pod); q != tc.qos {
			t.Errorf("%s/%s: qos %s, want %s", tc.req, tc.lim, q, tc.qos)
		}
		if o := oomScoreAdj(pod, &pod.Spec.Containers[0], 1<<40); o != tc.oom {
			t.Errorf("%s/%s: oom %d, want %d", tc.req, tc.lim, o, tc.oom)
		}
	}
}

func TestLinuxResources(t *testing.T) {
	k := &Kubelet{}
	pod := testPod("r", func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		}
	})
	r := k.linuxResources(pod, &pod.Spec.Containers[0])
	if r.CpuShares != 256 || r.CpuQuota != 50000 || r.CpuPeriod != 100000 || r.MemoryLimitInBytes != 64<<20 {
		t.Errorf("resources %+v", r)
	}
}

func TestContainerEnv(t *testing.T) {
	pod := testPod("envpod", func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": "x"}
		p.Status.PodIP = "10.244.0.3"
	})
	c := &corev1.Container{
		Name: "c",
		EnvFrom: []corev1.EnvFromSource{
			{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptrTrue()}},
		},
		Env: []corev1.EnvVar{
			{Name: "A", Value: "one"},
			{Name: "B", Value: "$(A)-two $$(A) $(MISSING)"},
			{Name: "CM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "k"}}},
			{Name: "SEC", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "pw"}}},
			{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "nope", Optional: ptrTrue()}}},
		},
	}
	src := envSources{
		configMap: func(ns, name string) (*corev1.ConfigMap, error) {
			if name == "cfg" {
				return &corev1.ConfigMap{Data: map[string]string{"k": "v", "1.x-y": "relaxed", "ok": "1"}}, nil
			}
			return nil, errors.New("not found")
		},
		secret: func(ns, name string) (*corev1.Secret, error) {
			if name == "sec" {
				return &corev1.Secret{Data: map[string][]byte{"pw": []byte("hunter2")}}, nil
			}
			return nil, errors.New("not found")
		},
		services:    []*corev1.Service{{ObjectMeta: metav1.ObjectMeta{Name: "my-svc"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.5", Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}}},
		allocatable: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
	}
	env, err := containerEnv(pod, c, src)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range env {
		got[e.Name] = e.Value
	}
	want := map[string]string{
		"A": "one", "B": "one-two $(A) $(MISSING)", "CM": "v", "SEC": "hunter2", "IP": "10.244.0.3", "APP": "x", "MEM": "2048",
		"CM_k": "v", "CM_ok": "1", "CM_1.x-y": "relaxed", "MY_SVC_SERVICE_HOST": "10.96.0.5", "MY_SVC_SERVICE_PORT": "80", "MY_SVC_SERVICE_PORT_HTTP": "80",
		"MY_SVC_PORT": "tcp://10.96.0.5:80", "MY_SVC_PORT_80_TCP_ADDR": "10.96.0.5",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"OPT"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s should not be set", k)
		}
	}
	// A missing required reference is a configuration error.
	c.Env = append(c.Env, corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "k"}}})
	if _, err := containerEnv(pod, c, src); err == nil || !strings.Contains(err.Error(), `secret "absent" not found`) {
		t.Errorf("err %v", err)
	}
}

func TestVolumes(t *testing.T) {
	dir := t.TempDir()
	dirs := podDirs{root: filepath.Join(dir, "pod")}
	mode := int32(0o600)
	pod := testPod("vol", func(p *corev1.Pod) {
		p.Labels = map[string]string{"a": "b"}
		p.Spec.Volumes = []corev1.Volume{
			{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Items: []corev1.KeyToPath{{Key: "k", Path: "sub/file", Mode: &mode}}}}},
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec"}}},
			{Name: "dw", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
			{Name: "empty", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(dir, "made"), Type: hostPathType(corev1.HostPathDirectoryOrCreate)}}},
			{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
			}}}},
		}
	})
	data := map[string]string{"k": "v1"}
	src := volumeSources{
		configMap: func(ns, name string) (*corev1.ConfigMap, error) { return &corev1.ConfigMap{Data: data}, nil },
		secret: func(ns, name string) (*corev1.Secret, error) {
			return &corev1.Secret{Data: map[string][]byte{"pw": []byte("s")}}, nil
		},
	}
	paths, err := setupVolumes(context.Background(), pod, dirs, src)
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(filepath.Join(paths["cm"], "sub/file")); got != "v1" {
		t.Errorf("configmap item %q", got)
	}
	if st, _ := os.Stat(filepath.Join(paths["cm"], "sub/file")); st.Mode().Perm() != 0o600 {
		t.Errorf("item mode %v", st.Mode())
	}
	if got := read(filepath.Join(paths["sec"], "pw")); got != "s" {
		t.Errorf("secret %q", got)
	}
	if got := read(filepath.Join(paths["dw"], "labels")); got != `a="b"` {
		t.Errorf("downward %q", got)
	}
	if got := read(filepath.Join(paths["proj"], "name")) + read(filepath.Join(paths["proj"], "k")); got != "volv1" {
		t.Errorf("projected %q", got)
	}
	if st, err := os.Stat(paths["host"]); err != nil || !st.IsDir() {
		t.Errorf("hostPath DirectoryOrCreate: %v", err)
	}
	if st, err := os.Stat(paths["empty"]); err != nil || st.Mode().Perm() != 0o777 {
		t.Errorf("emptyDir: %v %v", st, err)
	}
	// An update replaces the content atomically through ..data.
	data["k"] = "v2"
	if _, err := setupVolumes(context.Background(), pod, dirs, src); err != nil {
		t.Fatal(err)
	}
	if got := read(filepath.Join(paths["cm"], "sub/file")); got != "v2" {
		t.Errorf("after update %q", got)
	}
	entries, _ := os.ReadDir(paths["cm"])
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "..2"+names[0][3:]+",..data,sub" && len(names) != 3 {
		t.Errorf("entries after update %v (one timestamped dir, ..data, the link)", names)
	}
	// subPath inside a volume.
	c := &corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{{Name: "empty", MountPath: "/x", SubPath: "deep/er"}, {Name: "empty", MountPath: "/y", SubPath: "../escape"}}}
	if _, err := containerMounts(pod, c, nil, paths); err == nil {
		t.Error("a subPath leaving the volume was accepted")
	}
	c.VolumeMounts = c.VolumeMounts[:1]
	m, err := containerMounts(pod, c, nil, paths)
	if err != nil || m[0].HostPath != filepath.Join(paths["empty"], "deep/er") {
		t.Errorf("subPath mount %+v %v", m, err)
	}
	// Missing required sources fail the mount; optional ones do not.
	pod.Spec.Volumes = []corev1.Volume{{Name: "x", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "absent", Optional: ptrTrue()}}}}
	src.secret = func(ns, name string) (*corev1.Secret, error) { return nil, errors.New("nope") }
	if _, err := setupVolumes(context.Background(), pod, dirs, src); err != nil {
		t.Errorf("optional secret: %v", err)
	}
	pod.Spec.Volumes[0].Secret.Optional = nil
	if _, err := setupVolumes(context.Background(), pod, dirs, src); err == nil || !strings.Contains(err.Error(), `MountVolume.SetUp failed for volume "x"`) {
		t.Errorf("required secret: %v", err)
	}
	if err := teardownVolumes(dirs); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dirs.root); !os.IsNotExist(err) {
		t.Error("pod dir not removed")
	}
}

func hostPathType(t corev1.HostPathType) *corev1.HostPathType { return &t }

func TestBackoff(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	b := NewBackoff(clk, 10*time.Second, 5*time.Minute)
	var got []time.Duration
	for i := 0; i < 7; i++ {
		got = append(got, b.Next("k"))
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	failed := clk.Now()
	clk.Step(100 * time.Second)
	if left := b.Remaining("k", failed); left != 200*time.Second {
		t.Errorf("remaining %s", left)
	}
	// Quiet for twice the maximum: start over.
	clk.Step(11 * time.Minute)
	if left := b.Remaining("k", failed); left != 0 {
		t.Errorf("remaining after a long quiet %s", left)
	}
	if d := b.Next("k"); d != 10*time.Second {
		t.Errorf("restart at %s", d)
	}
}

func TestProbes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(500)
			return
		}
		if r.Header.Get("X-Probe") != "yes" || !strings.HasPrefix(r.UserAgent(), "kube-probe/") {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	n := newTestNode(t)
	n.rt.execResult["false"] = 1
	c := &corev1.Container{Name: "c", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
	pod := testPod("p", nil)
	for _, tc := range []struct {
		name string
		h    corev1.ProbeHandler
		ok   bool
	}{
		{"exec ok", corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}, true},
		{"exec fails", corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"false"}}}, false},
		{"http named port", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("web"), HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}}}}, true},
		{"http 500", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/bad", Port: intstr.FromInt32(int32(port))}}, false},
		{"tcp open", corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}, true},
		{"tcp closed", corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(1)}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ok, msg := n.k.runProbe(ctx, pod, c, "c1", host, &tc.h, 2*time.Second)
			if ok != tc.ok {
				t.Errorf("ok=%v (%s), want %v", ok, msg, tc.ok)
			}
		})
	}
}

func TestDNSAndHosts(t *testing.T) {
	k := &Kubelet{cfg: Config{ClusterDNS: []string{"10.96.0.10"}, ClusterDomain: "cluster.local"}, hostDNS: hostResolv{Servers: []string{"1.1.1.1"}, Searches: []string{"corp"}}}
	pod := testPod("p", func(p *corev1.Pod) { p.Namespace = "ns1" })
	dc := k.dnsConfig(pod)
	if strings.Join(dc.Servers, ",") != "10.96.0.10" || strings.Join(dc.Searches, " ") != "ns1.svc.cluster.local svc.cluster.local cluster.local corp" || strings.Join(dc.Options, ",") != "ndots:5" {
		t.Errorf("ClusterFirst %+v", dc)
	}
	k.cfg.ClusterDNS = nil
	if dc := k.dnsConfig(pod); strings.Join(dc.Servers, ",") != "1.1.1.1" {
		t.Errorf("ClusterFirst without cluster DNS falls back to the node's: %+v", dc)
	}
	pod.Spec.DNSPolicy = corev1.DNSNone
	pod.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"9.9.9.9"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptrString("2")}}}
	if dc := k.dnsConfig(pod); strings.Join(dc.Servers, ",") != "9.9.9.9" || strings.Join(dc.Options, ",") != "ndots:2" {
		t.Errorf("None %+v", dc)
	}
	pod.Spec.Hostname, pod.Spec.Subdomain = "h", "sub"
	pod.Spec.HostAliases = []corev1.HostAlias{{IP: "1.2.3.4", Hostnames: []string{"a", "b"}}}
	hosts := string(hostsFile(pod, "10.244.0.4", "cluster.local"))
	for _, want := range []string{"127.0.0.1\tlocalhost", "10.244.0.4\th.sub.ns1.svc.cluster.local\th", "1.2.3.4\ta\tb"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("hosts lacks %q:\n%s", want, hosts)
		}
	}
}

func ptrString(s string) *string { return &s }

func TestImageNames(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                      "docker.io/library/busybox:latest",
		"busybox:1.35":                 "docker.io/library/busybox:1.35",
		"me/app":                       "docker.io/me/app:latest",
		"registry.local:5000/app:v1":   "registry.local:5000/app:v1",
		"localhost/app":                "localhost/app:latest",
		"busybox@sha256:abc":           "docker.io/library/busybox@sha256:abc",
		"sha256:0123":                  "sha256:0123",
		"tug.local/pause:3.10":         "tug.local/pause:3.10",
		"quay.io/org/img:tag@sha256:1": "quay.io/org/img:tag@sha256:1",
	} {
		if got := normalizeImage(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	for img, want := range map[string]corev1.PullPolicy{"busybox": corev1.PullAlways, "busybox:latest": corev1.PullAlways, "busybox:1.35": corev1.PullIfNotPresent, "a/b@sha256:1": corev1.PullIfNotPresent, "host:5000/x": corev1.PullAlways} {
		if got := pullPolicy(&corev1.Container{Image: img}); got != want {
			t.Errorf("%s: %s, want %s", img, got, want)
		}
	}
}

func TestStaticPodManifest(t *testing.T) {
	n := newTestNode(t)
	s := n.k.static
	pod, err := s.decode([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: c, image: busybox}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pod.Name != "web-n1" || pod.Namespace != "default" || pod.Spec.NodeName != "n1" || pod.UID == "" || pod.Annotations[annoConfigSource] != "file" {
		t.Errorf("static pod %+v", pod.ObjectMeta)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyAlways || pod.Spec.Containers[0].ImagePullPolicy != corev1.PullAlways || pod.Spec.Containers[0].TerminationMessagePath == "" {
		t.Errorf("defaults %+v", pod.Spec)
	}
	again, _ := s.decode([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: c, image: busybox}\n"))
	changed, _ := s.decode([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: c, image: busybox:1.35}\n"))
	if again.UID != pod.UID || changed.UID == pod.UID {
		t.Error("the uid must follow the manifest's content")
	}
	if _, err := s.decode([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")); err == nil {
		t.Error("a manifest that is not a pod was accepted")
	}
}
