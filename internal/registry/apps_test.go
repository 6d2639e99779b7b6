package registry

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The columns, short names and categories kubectl users see for the kinds in this
// part of the registry (shared/reference/table-columns-1.32.md).
func TestExtColumnsNamesCategories(t *testing.T) {
	cases := []struct {
		group, version, resource string
		columns                  string
		short                    []string
		all                      bool
	}{
		{"apps", "v1", "deployments", "Name,Ready,Up-to-date,Available,Age,Containers*,Images*,Selector*", []string{"deploy"}, true},
		{"apps", "v1", "replicasets", "Name,Desired,Current,Ready,Age,Containers*,Images*,Selector*", []string{"rs"}, true},
		{"apps", "v1", "statefulsets", "Name,Ready,Age,Containers*,Images*", []string{"sts"}, true},
		{"apps", "v1", "daemonsets", "Name,Desired,Current,Ready,Up-to-date,Available,Node Selector,Age,Containers*,Images*,Selector*", []string{"ds"}, true},
		{"apps", "v1", "controllerrevisions", "Name,Controller,Revision,Age", nil, false},
		{"batch", "v1", "jobs", "Name,Status,Completions,Duration,Age,Containers*,Images*,Selector*", nil, true},
		{"batch", "v1", "cronjobs", "Name,Schedule,Timezone,Suspend,Active,Last Schedule,Age,Containers*,Images*,Selector*", []string{"cj"}, true},
		{"autoscaling", "v2", "horizontalpodautoscalers", "Name,Reference,Targets,MinPods,MaxPods,Replicas,Age", []string{"hpa"}, true},
		{"autoscaling", "v1", "horizontalpodautoscalers", "Name,Reference,Targets,MinPods,MaxPods,Replicas,Age", []string{"hpa"}, true},
		{"networking.k8s.io", "v1", "ingresses", "Name,Class,Hosts,Address,Ports,Age", []string{"ing"}, false},
		{"networking.k8s.io", "v1", "networkpolicies", "Name,Pod-Selector,Age", []string{"netpol"}, false},
		{"networking.k8s.io", "v1", "ingressclasses", "Name,Controller,Parameters,Age", nil, false},
		{"coordination.k8s.io", "v1", "leases", "Name,Holder,Age", nil, false},
		{"discovery.k8s.io", "v1", "endpointslices", "Name,AddressType,Ports,Endpoints,Age", nil, false},
		{"policy", "v1", "poddisruptionbudgets", "Name,Min Available,Max Unavailable,Allowed Disruptions,Age", []string{"pdb"}, false},
		{"scheduling.k8s.io", "v1", "priorityclasses", "Name,Value,Global-Default,Age,PreemptionPolicy*", []string{"pc"}, false},
		{"storage.k8s.io", "v1", "storageclasses", "Name,Provisioner,ReclaimPolicy,VolumeBindingMode,AllowVolumeExpansion,Age", []string{"sc"}, false},
		{"certificates.k8s.io", "v1", "certificatesigningrequests", "Name,Age,SignerName,Requestor,RequestedDuration,Condition", []string{"csr"}, false},
	}
	for _, c := range cases {
		t.Run(c.group+"/"+c.version+"/"+c.resource, func(t *testing.T) {
			r := mustResource(t, c.group, c.version, c.resource)
			if got := columnNames(r); got != c.columns {
				t.Errorf("columns %q, want %q", got, c.columns)
			}
			if r.Columns[0].Format != "name" && r.Resource != "certificatesigningrequests" {
				t.Errorf("first column is not the name column")
			}
			if !slices.Equal(r.ShortNames, c.short) {
				t.Errorf("short names %v, want %v", r.ShortNames, c.short)
			}
			if got := slices.Contains(r.Categories, "all"); got != c.all {
				t.Errorf("category all: %v, want %v", got, c.all)
			}
		})
	}
}

func testDeployment(mut func(d *appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: testTemplate("web"),
		},
	}
	if mut != nil {
		mut(d)
	}
	return d
}

func TestDeploymentDefaults(t *testing.T) {
	r := mustResource(t, "apps", "v1", "deployments")
	d := testDeployment(nil)
	checkErrs(t, simulateCreate(t, r, d), "")
	s := d.Spec
	if *s.Replicas != 1 || *s.RevisionHistoryLimit != 10 || *s.ProgressDeadlineSeconds != 600 {
		t.Errorf("replicas %d, revisionHistoryLimit %d, progressDeadlineSeconds %d", *s.Replicas, *s.RevisionHistoryLimit, *s.ProgressDeadlineSeconds)
	}
	if s.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		s.Strategy.RollingUpdate.MaxSurge.String() != "25%" || s.Strategy.RollingUpdate.MaxUnavailable.String() != "25%" {
		t.Errorf("strategy %+v", s.Strategy)
	}
	if s.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("template not defaulted: restartPolicy %q", s.Template.Spec.RestartPolicy)
	}
	// Defaulting twice changes nothing.
	again := d.DeepCopy()
	r.Strategy.Default(again)
	if !slices.Equal([]int32{*again.Spec.Replicas}, []int32{*d.Spec.Replicas}) || again.Spec.Strategy.RollingUpdate.MaxSurge.String() != "25%" {
		t.Errorf("defaulting is not idempotent")
	}
	// Recreate gets no rolling update parameters.
	rec := testDeployment(func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType })
	checkErrs(t, simulateCreate(t, r, rec), "")
	if rec.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("Recreate got rollingUpdate %+v", rec.Spec.Strategy.RollingUpdate)
	}
}

func TestDeploymentValidation(t *testing.T) {
	r := mustResource(t, "apps", "v1", "deployments")
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }
	cases := []struct {
		name string
		mut  func(d *appsv1.Deployment)
		want string
	}{
		{"valid", nil, ""},
		{"no selector", func(d *appsv1.Deployment) { d.Spec.Selector = nil }, "spec.selector: Required value"},
		{"empty selector", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }, "spec.selector: Invalid value"},
		{"selector does not match", func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} },
			"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"},
		{"restart policy", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			"spec.template.spec.restartPolicy: Unsupported value: \"Never\""},
		{"negative replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = extPtr[int32](-1) }, "spec.replicas: Invalid value: -1: must be greater than or equal to 0"},
		{"both zero", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: num(0), MaxUnavailable: pct("0%")}
		}, "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0"},
		{"bad percent", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: pct("25")}
		}, "spec.strategy.rollingUpdate.maxSurge: Invalid value: \"25\": must be an integer or percentage"},
		{"over 100%", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: pct("120%")}
		}, "must not be greater than 100%"},
		{"recreate with rolling params", func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}}
		}, "spec.strategy.rollingUpdate: Forbidden"},
		{"unknown strategy", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "Blue" }, "spec.strategy.type: Unsupported value: \"Blue\""},
		{"deadline below min ready", func(d *appsv1.Deployment) {
			d.Spec.MinReadySeconds = 700
		}, "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"},
		{"no containers", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers = nil }, "spec.template.spec.containers: Required value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkErrs(t, simulateCreate(t, r, testDeployment(c.mut)), c.want)
		})
	}
}

func TestDeploymentUpdateAndScale(t *testing.T) {
	r := mustResource(t, "apps", "v1", "deployments")
	old := testDeployment(nil)
	checkErrs(t, simulateCreate(t, r, old), "")

	img := old.DeepCopy()
	img.Spec.Template.Spec.Containers[0].Image = "nginx:1.27"
	checkErrs(t, simulateUpdate(t, r, img, old), "")

	sel := old.DeepCopy()
	sel.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "x"}}
	sel.Spec.Template.Labels["tier"] = "x"
	checkErrs(t, simulateUpdate(t, r, sel, old), "spec.selector: Invalid value")
	checkErrs(t, simulateUpdate(t, r, sel, old), "field is immutable")

	old.Status.Replicas = 2
	r.Scale.Set(old, 3)
	spec, status, selector := r.Scale.Get(old)
	if spec != 3 || status != 2 || selector != "app=web" {
		t.Errorf("scale = %d, %d, %q", spec, status, selector)
	}
}

func TestDeploymentRow(t *testing.T) {
	r := mustResource(t, "apps", "v1", "deployments")
	d := testDeployment(func(d *appsv1.Deployment) {
		d.Spec.Replicas = extPtr[int32](3)
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "side", Image: "busybox"})
		d.Status = appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 1}
	})
	cells := cellsOf(t, r, d)
	want := []interface{}{"web", "2/3", int64(3), int64(1), "<unknown>", "web,side", "nginx,busybox", "app=web"}
	if !slices.Equal(cells, want) {
		t.Errorf("row %v, want %v", cells, want)
	}
}

func TestReplicaSet(t *testing.T) {
	r := mustResource(t, "apps", "v1", "replicasets")
	mk := func(mut func(rs *appsv1.ReplicaSet)) *appsv1.ReplicaSet {
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default"},
			Spec: appsv1.ReplicaSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: testTemplate("web"),
			},
		}
		if mut != nil {
			mut(rs)
		}
		return rs
	}
	cases := []struct {
		name string
		mut  func(rs *appsv1.ReplicaSet)
		want string
	}{
		{"valid", nil, ""},
		{"mismatch", func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Labels = nil }, "`selector` does not match template `labels`"},
		{"deadline", func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Spec.ActiveDeadlineSeconds = extPtr[int64](5) }, "spec.template.spec.activeDeadlineSeconds: Forbidden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkErrs(t, simulateCreate(t, r, mk(c.mut)), c.want) })
	}
	rs := mk(func(rs *appsv1.ReplicaSet) { rs.Status = appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1} })
	r.Strategy.Default(rs)
	if *rs.Spec.Replicas != 1 {
		t.Errorf("replicas default %d", *rs.Spec.Replicas)
	}
	want := []interface{}{"web-1", int64(1), int64(1), int64(1), "<unknown>", "web", "nginx", "app=web"}
	if cells := cellsOf(t, r, rs); !slices.Equal(cells, want) {
		t.Errorf("row %v, want %v", cells, want)
	}
	bad := rs.DeepCopy()
	bad.Status.AvailableReplicas = 2
	checkErrs(t, r.Strategy.ValidateStatusUpdate(context.Background(), bad, rs), "status.availableReplicas")
}

func TestDaemonSet(t *testing.T) {
	r := mustResource(t, "apps", "v1", "daemonsets")
	mk := func(mut func(ds *appsv1.DaemonSet)) *appsv1.DaemonSet {
		ds := &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system"},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
				Template: testTemplate("agent"),
			},
		}
		if mut != nil {
			mut(ds)
		}
		return ds
	}
	ds := mk(nil)
	checkErrs(t, simulateCreate(t, r, ds), "")
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru.MaxUnavailable.String() != "1" || ru.MaxSurge.String() != "0" ||
		*ds.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("defaults: %+v %+v", ds.Spec.UpdateStrategy, ru)
	}
	cases := []struct {
		name string
		mut  func(ds *appsv1.DaemonSet)
		want string
	}{
		{"on delete", func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType }, ""},
		{"both zero", func(ds *appsv1.DaemonSet) {
			zero := intstr.FromInt32(0)
			ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &zero}
		}, "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: \"0\": cannot be 0 when maxSurge is 0"},
		{"bad type", func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.Type = "Later" }, "spec.updateStrategy.type: Unsupported value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkErrs(t, simulateCreate(t, r, mk(c.mut)), c.want) })
	}
	withNode := mk(func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
		ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, NumberReady: 1, UpdatedNumberScheduled: 2, NumberAvailable: 1}
	})
	want := []interface{}{"agent", int64(2), int64(2), int64(1), int64(2), int64(1), "kubernetes.io/os=linux", "<unknown>", "web", "nginx", "app=agent"}
	if cells := cellsOf(t, r, withNode); !slices.Equal(cells, want) {
		t.Errorf("row %v, want %v", cells, want)
	}
	if cells := cellsOf(t, r, mk(nil)); cells[6] != "<none>" {
		t.Errorf("node selector cell %v, want <none>", cells[6])
	}
}

func testStatefulSet(mut func(s *appsv1.StatefulSet)) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: testTemplate("db"),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
	if mut != nil {
		mut(s)
	}
	return s
}

func TestStatefulSetDefaults(t *testing.T) {
	r := mustResource(t, "apps", "v1", "statefulsets")
	s := testStatefulSet(nil)
	checkErrs(t, simulateCreate(t, r, s), "")
	sp := s.Spec
	if *sp.Replicas != 1 || sp.PodManagementPolicy != appsv1.OrderedReadyPodManagement || *sp.RevisionHistoryLimit != 10 {
		t.Errorf("defaults %+v", sp)
	}
	if sp.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType || sp.UpdateStrategy.RollingUpdate == nil || *sp.UpdateStrategy.RollingUpdate.Partition != 0 {
		t.Errorf("update strategy %+v", sp.UpdateStrategy)
	}
	if rp := sp.PersistentVolumeClaimRetentionPolicy; rp.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
		rp.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("retention %+v", rp)
	}
	c := sp.VolumeClaimTemplates[0]
	if *c.Spec.VolumeMode != corev1.PersistentVolumeFilesystem || c.Status.Phase != corev1.ClaimPending {
		t.Errorf("claim template %+v", c)
	}
	// Reads show the claim templates' kind, which storage does not keep.
	out, err := r.FromStored(s)
	if err != nil {
		t.Fatal(err)
	}
	if c := out.(*appsv1.StatefulSet).Spec.VolumeClaimTemplates[0]; c.Kind != "PersistentVolumeClaim" || c.APIVersion != "v1" {
		t.Errorf("read claim template %+v", c.TypeMeta)
	}
	if s.Spec.VolumeClaimTemplates[0].Kind != "" {
		t.Errorf("FromStored changed the stored object")
	}
}

func TestStatefulSetValidation(t *testing.T) {
	r := mustResource(t, "apps", "v1", "statefulsets")
	cases := []struct {
		name string
		mut  func(s *appsv1.StatefulSet)
		want string
	}{
		{"valid", nil, ""},
		{"no service name is fine", func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "" }, ""},
		{"policy", func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" }, "spec.podManagementPolicy: Unsupported value"},
		{"on delete with rolling", func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{}}
		}, "spec.updateStrategy.rollingUpdate: Invalid value"},
		{"negative partition", func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: extPtr[int32](-1)}}
		}, "spec.updateStrategy.rollingUpdate.partition"},
		{"retention", func(s *appsv1.StatefulSet) {
			s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: "Keep", WhenScaled: "Delete"}
		}, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value"},
		{"claim without storage", func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].Spec.Resources = corev1.VolumeResourceRequirements{}
		},
			"spec.volumeClaimTemplates[0].spec.resources[storage]: Required value"},
		{"mismatch", func(s *appsv1.StatefulSet) { s.Spec.Selector.MatchLabels["app"] = "x" }, "`selector` does not match template `labels`"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkErrs(t, simulateCreate(t, r, testStatefulSet(c.mut)), c.want) })
	}
}

func TestStatefulSetUpdate(t *testing.T) {
	r := mustResource(t, "apps", "v1", "statefulsets")
	old := testStatefulSet(nil)
	checkErrs(t, simulateCreate(t, r, old), "")
	cases := []struct {
		name string
		mut  func(s *appsv1.StatefulSet)
		want string
	}{
		{"replicas", func(s *appsv1.StatefulSet) { s.Spec.Replicas = extPtr[int32](5) }, ""},
		{"kind sent back", func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}
		}, ""},
		{"image", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "postgres" }, ""},
		{"strategy", func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		}, ""},
		{"min ready", func(s *appsv1.StatefulSet) { s.Spec.MinReadySeconds = 5 }, ""},
		{"service name", func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "db" }, "spec: Forbidden"},
		{"claims", func(s *appsv1.StatefulSet) { s.Spec.VolumeClaimTemplates = nil }, "spec: Forbidden"},
		{"policy", func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }, "spec: Forbidden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := old.DeepCopy()
			c.mut(n)
			checkErrs(t, simulateUpdate(t, r, n, old), c.want)
		})
	}
	n := old.DeepCopy()
	n.Status.ReadyReplicas = 1
	if cells := cellsOf(t, r, n); cells[1] != "1/1" {
		t.Errorf("ready cell %v", cells[1])
	}
}

func TestControllerRevision(t *testing.T) {
	r := mustResource(t, "apps", "v1", "controllerrevisions")
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-5d8f", Namespace: "kube-system", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "u", Controller: extPtr(true),
		}}},
		Revision: 2,
	}
	checkErrs(t, simulateCreate(t, r, cr), "data: Required value")
	cr.Data.Raw = []byte(`{"spec":{}}`)
	checkErrs(t, simulateCreate(t, r, cr), "")
	neg := cr.DeepCopy()
	neg.Revision = -1
	checkErrs(t, simulateCreate(t, r, neg), "revision: Invalid value")
	changed := cr.DeepCopy()
	changed.Data.Raw = []byte(`{"spec":{"x":1}}`)
	checkErrs(t, simulateUpdate(t, r, changed, cr), "data: Invalid value")
	want := []interface{}{"agent-5d8f", "daemonset.apps/agent", int64(2), "<unknown>"}
	if cells := cellsOf(t, r, cr); !slices.Equal(cells, want) {
		t.Errorf("row %v, want %v", cells, want)
	}
}
