package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func testPod(mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func TestPodDefaults(t *testing.T) {
	r := mustResource(t, "", "v1", "pods")
	p := testPod(func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Ports = []corev1.ContainerPort{{ContainerPort: 80}}
		c.Env = []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}}
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}}
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		p.Spec.Volumes = []corev1.Volume{
			{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}}},
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "x"}}},
			{Name: "scratch"},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp"}}},
			{Name: "dapi", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
		}
	})
	if errs := simulateCreate(t, r, p); len(errs) > 0 {
		t.Fatalf("valid pod refused: %v", errs)
	}
	s := p.Spec
	c := s.Containers[0]
	checks := []struct {
		name      string
		got, want interface{}
	}{
		{"restartPolicy", s.RestartPolicy, corev1.RestartPolicyAlways},
		{"dnsPolicy", s.DNSPolicy, corev1.DNSClusterFirst},
		{"terminationGracePeriodSeconds", *s.TerminationGracePeriodSeconds, int64(30)},
		{"schedulerName", s.SchedulerName, "default-scheduler"},
		{"securityContext", s.SecurityContext != nil, true},
		{"enableServiceLinks", *s.EnableServiceLinks, true},
		{"imagePullPolicy", c.ImagePullPolicy, corev1.PullAlways},
		{"terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", c.TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"ports[0].protocol", c.Ports[0].Protocol, corev1.ProtocolTCP},
		{"env fieldRef apiVersion", c.Env[0].ValueFrom.FieldRef.APIVersion, "v1"},
		{"liveness timeout", c.LivenessProbe.TimeoutSeconds, int32(1)},
		{"liveness period", c.LivenessProbe.PeriodSeconds, int32(10)},
		{"liveness success", c.LivenessProbe.SuccessThreshold, int32(1)},
		{"liveness failure", c.LivenessProbe.FailureThreshold, int32(3)},
		{"httpGet scheme", c.LivenessProbe.HTTPGet.Scheme, corev1.URISchemeHTTP},
		{"httpGet path", c.LivenessProbe.HTTPGet.Path, "/"},
		{"grpc service", *c.ReadinessProbe.GRPC.Service, ""},
		{"requests from limits", c.Resources.Requests.Cpu().String(), "1"},
		{"configMap defaultMode", *s.Volumes[0].ConfigMap.DefaultMode, int32(420)},
		{"secret defaultMode", *s.Volumes[1].Secret.DefaultMode, int32(420)},
		{"emptyDir", s.Volumes[2].EmptyDir != nil, true},
		{"hostPath type", *s.Volumes[3].HostPath.Type, corev1.HostPathUnset},
		{"downwardAPI defaultMode", *s.Volumes[4].DownwardAPI.DefaultMode, int32(420)},
		{"downwardAPI fieldRef apiVersion", s.Volumes[4].DownwardAPI.Items[0].FieldRef.APIVersion, "v1"},
		{"status phase", p.Status.Phase, corev1.PodPending},
		{"qosClass", p.Status.QOSClass, corev1.PodQOSBurstable},
		{"no priority (admission sets it)", s.Priority == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// Templates get the pod spec defaults, but not the pod-only ones.
	tpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}}}
	DefaultPodTemplate(&tpl)
	if tpl.Spec.EnableServiceLinks != nil || tpl.Spec.Containers[0].Resources.Requests != nil {
		t.Errorf("template got pod-only defaults: %+v", tpl.Spec)
	}
	if tpl.Spec.RestartPolicy != corev1.RestartPolicyAlways || tpl.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("template defaults missing: %+v", tpl.Spec)
	}
}

func TestImagePullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                            corev1.PullAlways,
		"nginx:latest":                     corev1.PullAlways,
		"nginx:1.27":                       corev1.PullIfNotPresent,
		"localhost:5000/nginx":             corev1.PullAlways,
		"localhost:5000/nginx:v1":          corev1.PullIfNotPresent,
		"nginx@sha256:0123456789abcdef":    corev1.PullIfNotPresent,
		"registry.k8s.io/pause:3.10":       corev1.PullIfNotPresent,
		"docker.io/library/busybox:latest": corev1.PullAlways,
	} {
		if got := imagePullPolicyFor(image); got != want {
			t.Errorf("%s: %s, want %s", image, got, want)
		}
	}
}

func TestPodValidation(t *testing.T) {
	r := mustResource(t, "", "v1", "pods")
	cases := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string
	}{
		{"valid", func(p *corev1.Pod) {}, ""},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, "spec.containers: Required value"},
		{"bad container name", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "Web_1" }, `spec.containers[0].name: Invalid value: "Web_1"`},
		{"duplicate container", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "web", Image: "busybox"}}
		}, `spec.containers[0].name: Duplicate value: "web"`},
		{"no image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, "spec.containers[0].image: Required value"},
		{"port out of range", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000}}
		}, "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"},
		{"port name too long", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "a-very-long-port-name", ContainerPort: 80}}
		}, "spec.containers[0].ports[0].name: Invalid value: \"a-very-long-port-name\": must be no more than 15 characters"},
		{"duplicate port name", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "http", ContainerPort: 81}}
		}, `spec.containers[0].ports[1].name: Duplicate value: "http"`},
		{"bad protocol", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: "XTP"}}
		}, `spec.containers[0].ports[0].protocol: Unsupported value: "XTP"`},
		{"host port clash", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Image: "x", Ports: []corev1.ContainerPort{{ContainerPort: 81, HostPort: 8080}}})
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
		}, `spec.containers[1].ports[0].hostPort: Duplicate value: "8080/TCP"`},
		{"host network port mismatch", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 81}}
		}, "must match `containerPort` when `hostNetwork` is true"},
		{"bad env name", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A=B"}} }, `spec.containers[0].env[0].name: Invalid value: "A=B"`},
		{"env value and valueFrom", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "x", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		}, "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty"},
		{"env field path", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.bogus"}}}}
		}, `spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.bogus"`},
		{"env label subscript", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}}}
		}, ""},
		{"mount of a missing volume", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, `spec.containers[0].volumeMounts[0].name: Not found: "data"`},
		{"duplicate volume", func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{{Name: "a"}, {Name: "a"}} }, `spec.volumes[1].name: Duplicate value: "a"`},
		{"two volume sources", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}}
		}, "spec.volumes[0]: Forbidden: may not specify more than 1 volume type"},
		{"configMap item path", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Items: []corev1.KeyToPath{{Key: "k", Path: "../x"}}}}}}
		}, "spec.volumes[0].configMap.items[0].path: Invalid value: \"../x\": must not contain '..'"},
		{"bad file mode", func(p *corev1.Pod) {
			m := int32(0o1777)
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: &m}}}}
		}, "spec.volumes[0].secret.defaultMode: Invalid value: 1023: must be a number between 0 and 0777 (octal), both inclusive"},
		{"requests over limits", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
		}, `spec.containers[0].resources.requests: Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi`},
		{"negative quantity", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("-1")}
		}, `spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0`},
		{"unknown resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"gpus": resource.MustParse("1")}
		}, "spec.containers[0].resources.requests[gpus]: Invalid value: \"gpus\": must be a standard resource for containers"},
		{"extended resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}
		}, ""},
		{"probe without handler", func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{} },
			"spec.containers[0].readinessProbe: Required value: must specify a handler type"},
		{"probe with two handlers", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				Exec: &corev1.ExecAction{Command: []string{"true"}}, TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}}
		}, "spec.containers[0].livenessProbe: Forbidden: may not specify more than 1 handler type"},
		{"liveness success threshold", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}, SuccessThreshold: 2}
		}, "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"},
		{"probe on init container", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox",
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}, "spec.initContainers[0].readinessProbe: Forbidden"},
		{"sidecar may probe", func(p *corev1.Pod) {
			always := corev1.ContainerRestartPolicyAlways
			p.Spec.InitContainers = []corev1.Container{{Name: "proxy", Image: "envoy", RestartPolicy: &always,
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}, ""},
		{"restartPolicy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" },
			`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`},
		{"dnsPolicy", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" }, `spec.dnsPolicy: Unsupported value: "Google"`},
		{"dnsPolicy None needs config", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone },
			"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"},
		{"node selector", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"bad key!": "x"} }, "spec.nodeSelector: Invalid value: \"bad key!\""},
		{"toleration Exists with value", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists, Value: "b"}}
		}, "spec.tolerations[0].operator: Invalid value: \"b\": value must be empty when `operator` is 'Exists'"},
		{"toleration seconds need NoExecute", func(p *corev1.Pod) {
			s := int64(10)
			p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: &s}}
		}, "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set"},
		{"toleration effect", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists, Effect: "Sometimes"}}
		}, `spec.tolerations[0].effect: Unsupported value: "Sometimes"`},
		{"empty key needs Exists", func(p *corev1.Pod) { p.Spec.Tolerations = []corev1.Toleration{{Value: "x"}} },
			"spec.tolerations[0].operator: Invalid value: \"\": operator must be Exists when `key` is empty"},
		{"affinity without terms", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}}
		}, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value"},
		{"affinity In without values", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn}}}}}}}
		}, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value"},
		{"pod affinity topology key", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{}}}}
		}, "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty"},
		{"preferred weight", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
				{Weight: 0, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "zone"}}}}}
		}, "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100"},
		{"run as user", func(p *corev1.Pod) {
			u := int64(-1)
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &u}
		}, "spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive"},
		{"privileged without escalation", func(p *corev1.Pod) {
			t, f := true, false
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &t, AllowPrivilegeEscalation: &f}
		}, "spec.containers[0].securityContext: Invalid value"},
		{"active deadline", func(p *corev1.Pod) { d := int64(0); p.Spec.ActiveDeadlineSeconds = &d },
			"spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"},
		{"container restartPolicy on a regular container", func(p *corev1.Pod) {
			always := corev1.ContainerRestartPolicyAlways
			p.Spec.Containers[0].RestartPolicy = &always
		}, "spec.containers[0].restartPolicy: Forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErrs(t, simulateCreate(t, r, testPod(tc.mutate)), tc.want)
		})
	}
}

func TestPodTemplateValidationPaths(t *testing.T) {
	tpl := testTemplate("web")
	tpl.Labels["bad key!"] = "x"
	tpl.Spec.Containers[0].Image = ""
	DefaultPodTemplate(&tpl)
	errs := ValidatePodTemplate(&tpl, field.NewPath("spec", "template"))
	checkErrs(t, errs, "spec.template.metadata.labels: Invalid value: \"bad key!\"")
	checkErrs(t, errs, "spec.template.spec.containers[0].image: Required value")
}

func TestPodUpdate(t *testing.T) {
	r := mustResource(t, "", "v1", "pods")
	base := func() *corev1.Pod {
		p := testPod(func(p *corev1.Pod) {
			d := int64(100)
			p.Spec.ActiveDeadlineSeconds = &d
			s := int64(300)
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &s}}
		})
		simulateCreate(t, r, p)
		return p
	}
	cases := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string
	}{
		{"image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.27" }, ""},
		{"shorter deadline", func(p *corev1.Pod) { d := int64(50); p.Spec.ActiveDeadlineSeconds = &d }, ""},
		{"longer deadline", func(p *corev1.Pod) { d := int64(500); p.Spec.ActiveDeadlineSeconds = &d },
			"spec.activeDeadlineSeconds: Invalid value: 500: must be less than or equal to previous value"},
		{"added toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "x", Operator: corev1.TolerationOpExists})
		}, ""},
		{"shorter toleration seconds", func(p *corev1.Pod) { s := int64(10); p.Spec.Tolerations[0].TolerationSeconds = &s }, ""},
		{"removed toleration", func(p *corev1.Pod) { p.Spec.Tolerations = nil }, "spec.tolerations: Forbidden"},
		{"grace period", func(p *corev1.Pod) { g := int64(5); p.Spec.TerminationGracePeriodSeconds = &g }, ""},
		{"node name", func(p *corev1.Pod) { p.Spec.NodeName = "node1" }, "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"},
		{"container ports", func(p *corev1.Pod) { p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}} }, "changed: spec.containers"},
		{"added container", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Image: "b"})
		}, "spec.containers: Forbidden: pod updates may not add or remove containers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := base()
			next := old.DeepCopy()
			tc.mutate(next)
			checkErrs(t, simulateUpdate(t, r, next, old), tc.want)
		})
	}
}

func TestPodStatusUpdate(t *testing.T) {
	r := mustResource(t, "", "v1", "pods")
	old := testPod()
	simulateCreate(t, r, old)
	old.Status.Phase = corev1.PodSucceeded
	next := old.DeepCopy()
	next.Status.Phase = corev1.PodRunning
	checkErrs(t, r.Strategy.ValidateStatusUpdate(context.Background(), next, old), `status.phase: Forbidden: cannot transition from a terminal phase "Succeeded"`)

	old.Status.Phase = corev1.PodPending
	next = old.DeepCopy()
	next.Status.Phase = corev1.PodRunning
	next.Status.PodIP = "10.244.0.5"
	next.Status.QOSClass = ""
	r.Strategy.PrepareForStatusUpdate(context.Background(), next, old)
	r.Strategy.Default(next)
	checkErrs(t, r.Strategy.ValidateStatusUpdate(context.Background(), next, old), "")
	if len(next.Status.PodIPs) != 1 || next.Status.PodIPs[0].IP != "10.244.0.5" || next.Status.QOSClass != old.Status.QOSClass {
		t.Errorf("status after update: %+v", next.Status)
	}
	next.Status.PodIPs = []corev1.PodIP{{IP: "not-an-ip"}}
	next.Status.PodIP = "not-an-ip"
	checkErrs(t, r.Strategy.ValidateStatusUpdate(context.Background(), next, old), "status.podIPs[0]: Invalid value: \"not-an-ip\"")
}

func TestPodQOS(t *testing.T) {
	q := func(s string) resource.Quantity { return resource.MustParse(s) }
	cases := []struct {
		name string
		res  []corev1.ResourceRequirements
		want corev1.PodQOSClass
	}{
		{"nothing", []corev1.ResourceRequirements{{}}, corev1.PodQOSBestEffort},
		{"only other resources", []corev1.ResourceRequirements{{Limits: corev1.ResourceList{"example.com/gpu": q("1")}}}, corev1.PodQOSBestEffort},
		{"equal cpu and memory", []corev1.ResourceRequirements{{
			Requests: corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")}}}, corev1.PodQOSGuaranteed},
		{"request below limit", []corev1.ResourceRequirements{{
			Requests: corev1.ResourceList{corev1.ResourceCPU: q("500m"), corev1.ResourceMemory: q("1Gi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")}}}, corev1.PodQOSBurstable},
		{"only cpu limit", []corev1.ResourceRequirements{{
			Requests: corev1.ResourceList{corev1.ResourceCPU: q("1")}, Limits: corev1.ResourceList{corev1.ResourceCPU: q("1")}}}, corev1.PodQOSBurstable},
		{"one container unbounded", []corev1.ResourceRequirements{
			{Requests: corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")}, Limits: corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")}},
			{}}, corev1.PodQOSBurstable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := &corev1.PodSpec{}
			for i, r := range tc.res {
				spec.Containers = append(spec.Containers, corev1.Container{Name: string(rune('a' + i)), Resources: r})
			}
			if got := PodQOS(spec); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPodGracePeriod(t *testing.T) {
	ten, neg := int64(10), int64(-5)
	cases := []struct {
		name      string
		node      string
		phase     corev1.PodPhase
		own       *int64
		requested *int64
		want      int64
	}{
		{"unscheduled", "", corev1.PodPending, nil, &ten, 0},
		{"finished", "n1", corev1.PodSucceeded, nil, nil, 0},
		{"failed", "n1", corev1.PodFailed, &ten, nil, 0},
		{"requested", "n1", corev1.PodRunning, nil, &ten, 10},
		{"own", "n1", corev1.PodRunning, &ten, nil, 10},
		{"default", "n1", corev1.PodRunning, nil, nil, 30},
		{"force", "n1", corev1.PodRunning, &ten, new(int64), 0},
		{"negative", "n1", corev1.PodRunning, nil, &neg, 1},
	}
	for _, tc := range cases {
		p := testPod(func(p *corev1.Pod) {
			p.Spec.NodeName, p.Status.Phase, p.Spec.TerminationGracePeriodSeconds = tc.node, tc.phase, tc.own
		})
		if got := podGracePeriod(p, tc.requested); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestPodFields(t *testing.T) {
	r := mustResource(t, "", "v1", "pods")
	p := testPod(func(p *corev1.Pod) {
		p.Spec.NodeName, p.Spec.HostNetwork = "n1", true
		p.Status.Phase, p.Status.PodIP, p.Status.NominatedNodeName = corev1.PodRunning, "10.0.0.1", "n2"
	})
	simulateCreate(t, r, p)
	p.Status.Phase, p.Status.PodIP, p.Status.NominatedNodeName = corev1.PodRunning, "10.0.0.1", "n2"
	f := r.Fields(p)
	want := map[string]string{"spec.nodeName": "n1", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
		"spec.serviceAccountName": "", "spec.hostNetwork": "true", "status.phase": "Running", "status.podIP": "10.0.0.1", "status.nominatedNodeName": "n2"}
	for k, v := range want {
		if !f.Has(k) || f.Get(k) != v {
			t.Errorf("field %s = %q, want %q", k, f.Get(k), v)
		}
	}
}

func TestPodRow(t *testing.T) {
	r := mustResource(t, "", "v1", "pods")
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(time.Now().Add(-d)) }
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	waiting := func(reason string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
	}
	terminated := func(reason string, code int32) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code}}
	}
	always := corev1.ContainerRestartPolicyAlways
	cases := []struct {
		name         string
		mutate       func(*corev1.Pod)
		ready        string
		status       string
		restarts     string
		ip, node, rg string
	}{
		{"pending", func(p *corev1.Pod) {}, "0/1", "Pending", "0", "<none>", "<none>", "<none>"},
		{"running and ready", func(p *corev1.Pod) {
			p.Spec.NodeName = "n1"
			p.Status.Phase, p.Status.PodIPs = corev1.PodRunning, []corev1.PodIP{{IP: "10.244.0.7"}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", Ready: true, State: running}}
		}, "1/1", "Running", "0", "10.244.0.7", "n1", "<none>"},
		{"creating", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: waiting("ContainerCreating")}}
		}, "0/1", "ContainerCreating", "0", "<none>", "<none>", "<none>"},
		{"crash loop with restarts", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", RestartCount: 3, State: waiting("CrashLoopBackOff"),
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(5 * time.Minute)}}}}
		}, "0/1", "CrashLoopBackOff", "3 (5m ago)", "<none>", "<none>", "<none>"},
		{"completed", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodSucceeded
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: terminated("Completed", 0)}}
		}, "0/1", "Completed", "0", "<none>", "<none>", "<none>"},
		{"exit code without reason", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: terminated("", 2)}}
		}, "0/1", "ExitCode:2", "0", "<none>", "<none>", "<none>"},
		{"one completed, one running, not ready", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side", Image: "x"})
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{
				{Name: "web", Ready: true, State: running}, {Name: "side", State: terminated("Completed", 0)}}
		}, "1/2", "NotReady", "0", "<none>", "<none>", "<none>"},
		{"init waiting", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "a", Image: "x"}, {Name: "b", Image: "x"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{
				{Name: "a", State: terminated("Completed", 0)}, {Name: "b", State: running}}
		}, "0/1", "Init:1/2", "0", "<none>", "<none>", "<none>"},
		{"init crash loop", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "a", Image: "x"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "a", RestartCount: 2, State: waiting("CrashLoopBackOff")}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: waiting("PodInitializing")}}
		}, "0/1", "Init:CrashLoopBackOff", "2", "<none>", "<none>", "<none>"},
		{"init failed", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "a", Image: "x"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "a", State: terminated("Error", 1)}}
		}, "0/1", "Init:Error", "0", "<none>", "<none>", "<none>"},
		{"sidecar counts", func(p *corev1.Pod) {
			started := true
			p.Spec.InitContainers = []corev1.Container{{Name: "proxy", Image: "x", RestartPolicy: &always}}
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "proxy", Ready: true, Started: &started, State: running}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", Ready: true, State: running}}
		}, "2/2", "Running", "0", "<none>", "<none>", "<none>"},
		{"terminating", func(p *corev1.Pod) {
			now := metav1.Now()
			p.DeletionTimestamp = &now
			p.Status.Phase = corev1.PodRunning
		}, "0/1", "Terminating", "0", "<none>", "<none>", "<none>"},
		{"evicted reason", func(p *corev1.Pod) {
			p.Status.Phase, p.Status.Reason = corev1.PodFailed, "Evicted"
		}, "0/1", "Evicted", "0", "<none>", "<none>", "<none>"},
		{"scheduling gated", func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated}}
		}, "0/1", "SchedulingGated", "0", "<none>", "<none>", "<none>"},
		{"readiness gates", func(p *corev1.Pod) {
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "a"}, {ConditionType: "b"}}
			p.Status.Conditions = []corev1.PodCondition{{Type: "a", Status: corev1.ConditionTrue}}
		}, "0/1", "Pending", "0", "<none>", "<none>", "1/2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := testPod()
			p.CreationTimestamp = ago(time.Hour)
			p.Status.Phase = corev1.PodPending
			tc.mutate(p)
			c := cellsOf(t, r, p)
			got := []interface{}{c[1], c[2], c[3], c[5], c[6], c[8]}
			want := []interface{}{tc.ready, tc.status, tc.restarts, tc.ip, tc.node, tc.rg}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("cells %v, want %v", got, want)
					break
				}
			}
			if c[0] != "web" || c[4] != "60m" || c[7] != "<none>" {
				t.Errorf("name/age/nominated cells %v %v %v", c[0], c[4], c[7])
			}
		})
	}
}

func TestEnvFieldPathsMatchDownwardAPI(t *testing.T) {
	// The error for an unsupported path lists the supported ones.
	errs := checkFieldRef(&corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.bogus"}, envFieldPaths, field.NewPath("x"))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `"status.podIP"`) {
		t.Fatalf("errors %v", errs)
	}
}
