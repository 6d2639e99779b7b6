package registry

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// writeEphemeral runs a write to pods/ephemeralcontainers of req over the stored
// pod old, as the API server does, and returns the pod it would store.
func writeEphemeral(t *testing.T, r *Resource, req, old *corev1.Pod) (*corev1.Pod, field.ErrorList) {
	t.Helper()
	rules := r.Subresources["ephemeralcontainers"]
	if rules == nil {
		t.Fatal("pods have no ephemeralcontainers subresource")
	}
	next := old.DeepCopy()
	rules.Take(next, req)
	rules.Prepare(context.Background(), next, old)
	return next, rules.Validate(context.Background(), next, old)
}

func debugger(name, image string, mutate ...func(*corev1.EphemeralContainer)) corev1.EphemeralContainer {
	ec := corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: image, Stdin: true, TTY: true}}
	for _, m := range mutate {
		m(&ec)
	}
	return ec
}

func TestEphemeralContainersWrite(t *testing.T) {
	r := mustResource(t, "", "v1", "pods")
	stored := func(mutate ...func(*corev1.Pod)) *corev1.Pod {
		p := testPod(func(p *corev1.Pod) {
			p.Spec.NodeName = "node1"
			p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "busybox"}}
		})
		if errs := simulateCreate(t, r, p); len(errs) > 0 {
			t.Fatal(errs)
		}
		for _, m := range mutate {
			m(p)
		}
		return p
	}
	withDebugger := func(p *corev1.Pod) {
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("debugger", "busybox:1.36")}
		defaultPodSpec(&p.Spec)
	}
	add := func(ecs ...corev1.EphemeralContainer) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, ecs...) }
	}
	cases := []struct {
		name   string
		old    []func(*corev1.Pod)
		change func(*corev1.Pod)
		want   string
	}{
		{"append one", nil, add(debugger("debugger", "busybox:1.36")), ""},
		{"append with a target", nil, add(debugger("debugger", "busybox", func(ec *corev1.EphemeralContainer) { ec.TargetContainerName = "web" })), ""},
		{"target an init container", nil, add(debugger("debugger", "busybox", func(ec *corev1.EphemeralContainer) { ec.TargetContainerName = "setup" })), ""},
		{"append a second", []func(*corev1.Pod){withDebugger}, add(debugger("debugger-2", "busybox")), ""},
		{"pod being deleted", []func(*corev1.Pod){func(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }}, add(debugger("debugger", "busybox")), ""},
		{"pod on no node", []func(*corev1.Pod){func(p *corev1.Pod) { p.Spec.NodeName = "" }}, add(debugger("debugger", "busybox")), ""},
		{"finished pod", []func(*corev1.Pod){func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }}, add(debugger("debugger", "busybox")), ""},

		{"no name", nil, add(debugger("", "busybox")), "spec.ephemeralContainers[0].name: Required value"},
		{"name not a DNS label", nil, add(debugger("Debug_1", "busybox")), `spec.ephemeralContainers[0].name: Invalid value: "Debug_1"`},
		{"name of a container", nil, add(debugger("web", "busybox")), `spec.ephemeralContainers[0].name: Duplicate value: "web"`},
		{"name of an init container", nil, add(debugger("setup", "busybox")), `spec.ephemeralContainers[0].name: Duplicate value: "setup"`},
		{"name of another ephemeral container", []func(*corev1.Pod){withDebugger}, add(debugger("debugger", "busybox:1.36")), `spec.ephemeralContainers[1].name: Duplicate value: "debugger"`},
		{"no image", nil, add(debugger("debugger", "")), "spec.ephemeralContainers[0].image: Required value"},
		{"unknown target", nil, add(debugger("debugger", "busybox", func(ec *corev1.EphemeralContainer) { ec.TargetContainerName = "nope" })),
			`spec.ephemeralContainers[0].targetContainerName: Not found: "nope"`},
		{"ports", nil, add(debugger("debugger", "busybox", func(ec *corev1.EphemeralContainer) {
			ec.Ports = []corev1.ContainerPort{{ContainerPort: 80}}
		})), "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container"},
		{"liveness probe", nil, add(debugger("debugger", "busybox", func(ec *corev1.EphemeralContainer) {
			ec.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		})), "spec.ephemeralContainers[0].livenessProbe: Forbidden: cannot be set for an Ephemeral Container"},
		{"readiness probe", nil, add(debugger("debugger", "busybox", func(ec *corev1.EphemeralContainer) {
			ec.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		})), "spec.ephemeralContainers[0].readinessProbe: Forbidden: cannot be set for an Ephemeral Container"},
		{"startup probe", nil, add(debugger("debugger", "busybox", func(ec *corev1.EphemeralContainer) {
			ec.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		})), "spec.ephemeralContainers[0].startupProbe: Forbidden: cannot be set for an Ephemeral Container"},
		{"lifecycle", nil, add(debugger("debugger", "busybox", func(ec *corev1.EphemeralContainer) {
			ec.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		})), "spec.ephemeralContainers[0].lifecycle: Forbidden: cannot be set for an Ephemeral Container"},
		{"resources", nil, add(debugger("debugger", "busybox", func(ec *corev1.EphemeralContainer) {
			ec.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		})), "spec.ephemeralContainers[0].resources: Forbidden: cannot be set for an Ephemeral Container"},
		{"restart policy", nil, add(debugger("debugger", "busybox", func(ec *corev1.EphemeralContainer) {
			always := corev1.ContainerRestartPolicyAlways
			ec.RestartPolicy = &always
		})), "spec.ephemeralContainers[0].restartPolicy: Forbidden: cannot be set for an Ephemeral Container"},
		{"other fields still checked", nil, add(debugger("debugger", "busybox", func(ec *corev1.EphemeralContainer) {
			ec.ImagePullPolicy = "Sometimes"
		})), `spec.ephemeralContainers[0].imagePullPolicy: Unsupported value: "Sometimes"`},
		{"remove", []func(*corev1.Pod){withDebugger}, func(p *corev1.Pod) { p.Spec.EphemeralContainers = nil },
			`spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" may not be removed`},
		{"replace with another", []func(*corev1.Pod){withDebugger}, func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("other", "busybox")}
		}, `existing ephemeral containers "debugger" may not be removed`},
		{"change", []func(*corev1.Pod){withDebugger}, func(p *corev1.Pod) { p.Spec.EphemeralContainers[0].Image = "busybox:1.37" },
			`spec.ephemeralContainers[0]: Forbidden: existing ephemeral containers "debugger" may not be changed`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := stored(tc.old...)
			req := old.DeepCopy()
			tc.change(req)
			_, errs := writeEphemeral(t, r, req, old)
			checkErrs(t, errs, tc.want)
		})
	}
}

// A write takes only spec.ephemeralContainers from the request, and defaults
// the new containers as any container.
func TestEphemeralContainersWriteTakesOnlyEphemeralContainers(t *testing.T) {
	r := mustResource(t, "", "v1", "pods")
	old := testPod(func(p *corev1.Pod) { p.Spec.NodeName = "node1" })
	simulateCreate(t, r, old)
	old.Status.Phase = corev1.PodRunning
	req := old.DeepCopy()
	req.Labels = map[string]string{"sneaky": "yes"}
	req.Spec.Containers[0].Image = "evil"
	req.Spec.NodeName = "node2"
	req.Status.Phase = corev1.PodFailed
	req.Spec.EphemeralContainers = []corev1.EphemeralContainer{
		debugger("latest", "busybox"),
		debugger("pinned", "busybox:1.36", func(ec *corev1.EphemeralContainer) { ec.TargetContainerName = "web" }),
	}
	got, errs := writeEphemeral(t, r, req, old)
	checkErrs(t, errs, "")
	if got.Labels["sneaky"] != "" || got.Spec.Containers[0].Image != "nginx" || got.Spec.NodeName != "node1" || got.Status.Phase != corev1.PodRunning {
		t.Errorf("the write changed more than the ephemeral containers: labels %v image %q node %q phase %q",
			got.Labels, got.Spec.Containers[0].Image, got.Spec.NodeName, got.Status.Phase)
	}
	if len(got.Spec.EphemeralContainers) != 2 {
		t.Fatalf("ephemeral containers %+v", got.Spec.EphemeralContainers)
	}
	checks := []struct {
		name      string
		got, want interface{}
	}{
		{"latest imagePullPolicy", got.Spec.EphemeralContainers[0].ImagePullPolicy, corev1.PullAlways},
		{"pinned imagePullPolicy", got.Spec.EphemeralContainers[1].ImagePullPolicy, corev1.PullIfNotPresent},
		{"terminationMessagePath", got.Spec.EphemeralContainers[0].TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", got.Spec.EphemeralContainers[0].TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"target", got.Spec.EphemeralContainers[1].TargetContainerName, "web"},
		{"stdin", got.Spec.EphemeralContainers[1].Stdin, true},
		{"tty", got.Spec.EphemeralContainers[1].TTY, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// Writing the same list again is no change, and valid.
	again := got.DeepCopy()
	if _, errs := writeEphemeral(t, r, again, got); len(errs) > 0 {
		t.Errorf("rewriting the same ephemeral containers: %v", errs)
	}
}

// The pod itself (PUT or PATCH of pods/NAME) may not add, change or remove
// ephemeral containers.
func TestPodUpdateKeepsEphemeralContainers(t *testing.T) {
	r := mustResource(t, "", "v1", "pods")
	base := func() *corev1.Pod {
		p := testPod(func(p *corev1.Pod) { p.Spec.NodeName = "node1" })
		simulateCreate(t, r, p)
		return p
	}
	cases := []struct {
		name   string
		old    func(*corev1.Pod)
		change func(*corev1.Pod)
		want   string
	}{
		{"add", nil, func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("debugger", "busybox")}
		}, "changed: spec.ephemeralContainers"},
		{"remove", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("debugger", "busybox")}
			defaultPodSpec(&p.Spec)
		}, func(p *corev1.Pod) { p.Spec.EphemeralContainers = nil }, "changed: spec.ephemeralContainers"},
		{"unchanged", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("debugger", "busybox")}
			defaultPodSpec(&p.Spec)
		}, func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := base()
			if tc.old != nil {
				tc.old(old)
			}
			next := old.DeepCopy()
			tc.change(next)
			checkErrs(t, simulateUpdate(t, r, next, old), tc.want)
		})
	}
}

func TestEphemeralContainersRefusedOnCreate(t *testing.T) {
	r := mustResource(t, "", "v1", "pods")
	p := testPod(func(p *corev1.Pod) {
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("debugger", "busybox:1.36")}
	})
	errs := simulateCreate(t, r, p)
	if len(errs) != 1 || errs[0].Field != "spec.ephemeralContainers" || errs[0].Type != field.ErrorTypeForbidden {
		t.Fatalf("want one Forbidden error on spec.ephemeralContainers, got %v", errs)
	}
}
