package registry

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// sameCells fails unless a row equals want.
func sameCells(t *testing.T, r *Resource, obj runtime.Object, want ...interface{}) {
	t.Helper()
	got := cellsOf(t, r, obj)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("cells %v, want %v", got, want)
		}
	}
}

func hoursAgo(h int) metav1.Time {
	return metav1.NewTime(time.Now().Add(-time.Duration(h) * time.Hour))
}

func TestSecrets(t *testing.T) {
	r := mustResource(t, "", "v1", "secrets")
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"},
		Data: map[string][]byte{"a": []byte("1")}, StringData: map[string]string{"b": "2", "a": "3"}}
	checkErrs(t, simulateCreate(t, r, s), "")
	if s.Type != corev1.SecretTypeOpaque || string(s.Data["a"]) != "3" || string(s.Data["b"]) != "2" || s.StringData != nil {
		t.Errorf("secret after create: %+v", s)
	}
	if r.Fields(s).Get("type") != "Opaque" {
		t.Error("type field")
	}
	s.CreationTimestamp = hoursAgo(2)
	sameCells(t, r, s, "s", "Opaque", int64(2), "120m")

	cases := []struct {
		name string
		s    corev1.Secret
		want string
	}{
		{"bad key", corev1.Secret{Data: map[string][]byte{"a b": nil}}, `data[a b]: Invalid value: "a b"`},
		{"tls keys", corev1.Secret{Type: corev1.SecretTypeTLS}, "data[tls.crt]: Required value"},
		{"docker config json", corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte("{")}}, "data[.dockerconfigjson]: Invalid value"},
		{"service account token", corev1.Secret{Type: corev1.SecretTypeServiceAccountToken}, "metadata.annotations[kubernetes.io/service-account.name]: Required value"},
		{"basic auth", corev1.Secret{Type: corev1.SecretTypeBasicAuth, Data: map[string][]byte{"password": []byte("x")}}, ""},
		{"ssh auth", corev1.Secret{Type: corev1.SecretTypeSSHAuth}, "data[ssh-privatekey]: Required value"},
		{"custom type", corev1.Secret{Type: "example.com/thing"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			s.Name, s.Namespace = "s", "default"
			checkErrs(t, simulateCreate(t, r, &s), tc.want)
		})
	}

	old := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"a": []byte("1")}}
	next := old.DeepCopy()
	next.Type = corev1.SecretTypeTLS
	next.Data = map[string][]byte{"tls.crt": nil, "tls.key": nil}
	checkErrs(t, simulateUpdate(t, r, next, old), `type: Invalid value: "kubernetes.io/tls": field is immutable`)
	imm := true
	old.Immutable = &imm
	next = old.DeepCopy()
	next.Data["a"] = []byte("2")
	checkErrs(t, simulateUpdate(t, r, next, old), "data: Forbidden: field is immutable when `immutable` is set")
}

func TestEvents(t *testing.T) {
	r := mustResource(t, "", "v1", "events")
	if r.TTL(&corev1.Event{}) != 3600 {
		t.Error("events should live an hour")
	}
	e := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web.1", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", Namespace: "default", UID: "u1", FieldPath: "spec.containers{web}"},
		Reason:         "Pulled", Message: " Pulled image \n", Type: corev1.EventTypeNormal, Count: 4,
		Source:         corev1.EventSource{Component: "kubelet", Host: "node1"},
		FirstTimestamp: hoursAgo(3), LastTimestamp: hoursAgo(1),
	}
	checkErrs(t, simulateCreate(t, r, e), "")
	sameCells(t, r, e, "60m", "Normal", "Pulled", "pod/web", "spec.containers{web}", "kubelet, node1", "Pulled image", "3h", int64(4), "web.1")
	f := r.Fields(e)
	for k, v := range map[string]string{"involvedObject.kind": "Pod", "involvedObject.name": "web", "involvedObject.uid": "u1",
		"involvedObject.namespace": "default", "reason": "Pulled", "source": "kubelet", "type": "Normal"} {
		if f.Get(k) != v {
			t.Errorf("field %s = %q, want %q", k, f.Get(k), v)
		}
	}

	// A new-style event: eventTime and a reporting controller instead of source.
	n := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "n.1", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "node1"},
		Reason:         "Starting", Type: corev1.EventTypeNormal, ReportingController: "kubelet", ReportingInstance: "node1",
		EventTime: metav1.NewMicroTime(time.Now().Add(-2 * time.Hour)),
	}
	checkErrs(t, simulateCreate(t, r, n), "")
	sameCells(t, r, n, "120m", "Normal", "Starting", "node/node1", "", "kubelet, node1", "", "120m", int64(1), "n.1")

	bad := e.DeepCopy()
	bad.InvolvedObject.Namespace = "other"
	checkErrs(t, simulateCreate(t, r, bad), `involvedObject.namespace: Invalid value: "other": does not match event.namespace`)
	bad = n.DeepCopy()
	bad.Type = "Odd"
	checkErrs(t, simulateCreate(t, r, bad), `type: Unsupported value: "Odd"`)
}

func TestEndpoints(t *testing.T) {
	r := mustResource(t, "", "v1", "endpoints")
	if !r.AllowCreateOnUpdate {
		t.Error("endpoints are written with PUT")
	}
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	e := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: hoursAgo(1)},
		Subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 80}}}}}
	checkErrs(t, simulateCreate(t, r, e), "")
	if e.Subsets[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Error("port protocol not defaulted")
	}
	sameCells(t, r, e, "web", "10.0.0.1:80,10.0.0.2:80", "60m")
	e.Subsets[0].Addresses = addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5")
	sameCells(t, r, e, "web", "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...", "60m")
	e.Subsets = nil
	sameCells(t, r, e, "web", "<none>", "60m")

	bad := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{Addresses: addrs("127.0.0.1"), Ports: []corev1.EndpointPort{{Port: 0}}}}}
	errs := simulateCreate(t, r, bad)
	checkErrs(t, errs, `subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range`)
	checkErrs(t, errs, "subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive")
}

func TestServiceAccounts(t *testing.T) {
	r := mustResource(t, "", "v1", "serviceaccounts")
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "default", CreationTimestamp: hoursAgo(5)},
		Secrets: []corev1.ObjectReference{{Name: "robot-token"}}}
	checkErrs(t, simulateCreate(t, r, sa), "")
	sameCells(t, r, sa, "robot", int64(1), "5h")
}

func TestPersistentVolumes(t *testing.T) {
	r := mustResource(t, "", "v1", "persistentvolumes")
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}},
		StorageClassName:       "manual",
		ClaimRef:               &corev1.ObjectReference{Namespace: "default", Name: "c1"},
	}}
	checkErrs(t, simulateCreate(t, r, pv), "")
	if pv.Status.Phase != corev1.VolumePending || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain ||
		*pv.Spec.VolumeMode != corev1.PersistentVolumeFilesystem || *pv.Spec.HostPath.Type != corev1.HostPathUnset {
		t.Errorf("after create: %+v", pv)
	}
	pv.CreationTimestamp = hoursAgo(1)
	sameCells(t, r, pv, "pv1", "5Gi", "RWO,RWX", "Retain", "Pending", "default/c1", "manual", "<unset>", "", "60m", "Filesystem")

	cases := []struct {
		name   string
		mutate func(*corev1.PersistentVolume)
		want   string
	}{
		{"no capacity", func(p *corev1.PersistentVolume) { p.Spec.Capacity = nil }, "spec.capacity: Required value"},
		{"no access modes", func(p *corev1.PersistentVolume) { p.Spec.AccessModes = nil }, "spec.accessModes: Required value"},
		{"no source", func(p *corev1.PersistentVolume) { p.Spec.HostPath = nil }, "spec: Required value: must specify a volume type"},
		{"reclaim policy", func(p *corev1.PersistentVolume) { p.Spec.PersistentVolumeReclaimPolicy = "Keep" }, `spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := pv.DeepCopy()
			tc.mutate(p)
			checkErrs(t, simulateCreate(t, r, p), tc.want)
		})
	}
	next := pv.DeepCopy()
	next.Spec.HostPath.Path = "/other"
	checkErrs(t, simulateUpdate(t, r, next, pv), "spec.persistentvolumesource: Forbidden")
}

func TestPersistentVolumeClaims(t *testing.T) {
	r := mustResource(t, "", "v1", "persistentvolumeclaims")
	c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c1", Namespace: "default"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
	checkErrs(t, simulateCreate(t, r, c), "")
	if c.Status.Phase != corev1.ClaimPending || *c.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("after create: %+v", c)
	}
	c.CreationTimestamp = hoursAgo(1)
	sameCells(t, r, c, "c1", "Pending", "", "", "", "", "<unset>", "60m", "Filesystem")

	missing := c.DeepCopy()
	missing.Spec.Resources.Requests = nil
	checkErrs(t, simulateCreate(t, r, missing), "spec.resources[storage]: Required value")

	// Pending claims may be bound to a volume, but not resized.
	bind := c.DeepCopy()
	bind.Spec.VolumeName = "pv1"
	checkErrs(t, simulateUpdate(t, r, bind, c), "")
	grow := c.DeepCopy()
	grow.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
	checkErrs(t, simulateUpdate(t, r, grow, c), "spec: Forbidden: spec is immutable after creation")

	// Bound claims may grow, not shrink.
	bound := bind.DeepCopy()
	bound.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: bound.Spec.AccessModes,
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}
	grow = bound.DeepCopy()
	grow.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
	checkErrs(t, simulateUpdate(t, r, grow, bound), "")
	shrink := bound.DeepCopy()
	shrink.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("500Mi")
	checkErrs(t, simulateUpdate(t, r, shrink, bound), "spec.resources.requests.storage: Forbidden: field can not be less than previous value")
	modes := bound.DeepCopy()
	modes.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
	checkErrs(t, simulateUpdate(t, r, modes, bound), "spec: Forbidden")
	bound.CreationTimestamp = hoursAgo(1)
	sameCells(t, r, bound, "c1", "Bound", "pv1", "1Gi", "RWO", "", "<unset>", "60m", "Filesystem")
}

func TestResourceQuotas(t *testing.T) {
	r := mustResource(t, "", "v1", "resourcequotas")
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "default"}, Spec: corev1.ResourceQuotaSpec{
		Hard: corev1.ResourceList{"pods": resource.MustParse("10"), "requests.cpu": resource.MustParse("2"), "limits.memory": resource.MustParse("4Gi"),
			"count/deployments.apps": resource.MustParse("5")},
	}}
	checkErrs(t, simulateCreate(t, r, q), "")
	q.CreationTimestamp = hoursAgo(1)
	q.Status.Hard = q.Spec.Hard.DeepCopy()
	q.Status.Used = corev1.ResourceList{"pods": resource.MustParse("3"), "requests.cpu": resource.MustParse("500m")}
	sameCells(t, r, q, "q", "60m", "count/deployments.apps: 0/5, pods: 3/10, requests.cpu: 500m/2", "limits.memory: 0/4Gi")

	bad := q.DeepCopy()
	bad.Spec.Hard = corev1.ResourceList{"bogus": resource.MustParse("1"), "pods": resource.MustParse("-1")}
	errs := simulateCreate(t, r, bad)
	checkErrs(t, errs, `spec.hard[bogus]: Invalid value: "bogus": must be a standard resource for quota`)
	checkErrs(t, errs, `spec.hard[pods]: Invalid value: "-1": must be greater than or equal to 0`)
	bad = q.DeepCopy()
	bad.Spec.Scopes = []corev1.ResourceQuotaScope{"Sometimes"}
	checkErrs(t, simulateCreate(t, r, bad), `spec.scopes[0]: Unsupported value: "Sometimes"`)
}

func TestLimitRanges(t *testing.T) {
	r := mustResource(t, "", "v1", "limitranges")
	q := resource.MustParse
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "l", Namespace: "default"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
		{Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{"cpu": q("2")}, Min: corev1.ResourceList{"memory": q("64Mi")}},
	}}}
	checkErrs(t, simulateCreate(t, r, lr), "")
	it := lr.Spec.Limits[0]
	if it.Default.Cpu().String() != "2" || it.DefaultRequest.Cpu().String() != "2" || it.DefaultRequest.Memory().String() != "64Mi" {
		t.Errorf("defaults %+v", it)
	}
	bad := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "l", Namespace: "default"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
		{Type: corev1.LimitTypePod, Max: corev1.ResourceList{"cpu": q("1")}, Min: corev1.ResourceList{"cpu": q("2")}},
		{Type: "Node"},
	}}}
	errs := simulateCreate(t, r, bad)
	checkErrs(t, errs, `spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1`)
	checkErrs(t, errs, `spec.limits[1].type: Unsupported value: "Node"`)
	if r.Columns != nil {
		t.Error("limit ranges print Name and Created At")
	}
}

func TestReplicationControllers(t *testing.T) {
	r := mustResource(t, "", "v1", "replicationcontrollers")
	tpl := testTemplate("web")
	rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "default"},
		Spec: corev1.ReplicationControllerSpec{Template: &tpl}}
	checkErrs(t, simulateCreate(t, r, rc), "")
	if *rc.Spec.Replicas != 1 || rc.Spec.Selector["app"] != "web" || rc.Labels["app"] != "web" ||
		rc.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || !r.Generation || !r.Status {
		t.Errorf("after create: %+v", rc)
	}
	rc.CreationTimestamp = hoursAgo(1)
	rc.Status.Replicas, rc.Status.ReadyReplicas = 1, 0
	sameCells(t, r, rc, "rc", int64(1), int64(1), int64(0), "60m", "web", "nginx", "app=web")
	spec, status, sel := r.Scale.Get(rc)
	if spec != 1 || status != 1 || sel != "app=web" {
		t.Errorf("scale %d %d %q", spec, status, sel)
	}
	r.Scale.Set(rc, 4)
	if *rc.Spec.Replicas != 4 {
		t.Error("scale set")
	}
	if r.Fields(rc).Get("status.replicas") != "1" {
		t.Error("status.replicas field")
	}

	cases := []struct {
		name   string
		mutate func(*corev1.ReplicationController)
		want   string
	}{
		{"selector mismatch", func(rc *corev1.ReplicationController) { rc.Spec.Selector = map[string]string{"app": "other"} },
			"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"},
		{"no template", func(rc *corev1.ReplicationController) { rc.Spec.Template = nil }, "spec.template: Required value"},
		{"negative replicas", func(rc *corev1.ReplicationController) { n := int32(-1); rc.Spec.Replicas = &n },
			"spec.replicas: Invalid value: -1: must be greater than or equal to 0"},
		{"restart policy", func(rc *corev1.ReplicationController) {
			rc.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		},
			`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`},
		{"bad template", func(rc *corev1.ReplicationController) { rc.Spec.Template.Spec.Containers[0].Image = "" },
			"spec.template.spec.containers[0].image: Required value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl := testTemplate("web")
			rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "default"},
				Spec: corev1.ReplicationControllerSpec{Template: &tpl, Selector: map[string]string{"app": "web"}}}
			tc.mutate(rc)
			checkErrs(t, simulateCreate(t, r, rc), tc.want)
		})
	}
	st := rc.DeepCopy()
	st.Status.Replicas = -1
	checkErrs(t, r.Strategy.ValidateStatusUpdate(context.Background(), st, rc), "status.replicas: Invalid value: -1")
}

func TestPodTemplates(t *testing.T) {
	r := mustResource(t, "", "v1", "podtemplates")
	pt := &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: "pt", Namespace: "default"}, Template: testTemplate("web")}
	checkErrs(t, simulateCreate(t, r, pt), "")
	if pt.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Error("template not defaulted")
	}
	sameCells(t, r, pt, "pt", "web", "nginx", "app=web")
	pt.Template.Spec.Containers = nil
	checkErrs(t, simulateCreate(t, r, pt), "template.spec.containers: Required value")
}
