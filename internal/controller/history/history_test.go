package history

import (
	"context"
	"testing"

	"encoding/json"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/fake"
)

var dsKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
}

func owner(image string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "ds", Namespace: "ns", UID: types.UID("uid-1"), Annotations: map[string]string{"note": "n"}},
		Spec:       appsv1.DaemonSetSpec{Template: template(image)},
	}
}

// The data must work as `kubectl rollout undo` uses it: a strategic merge patch that
// replaces the whole template (a container added later disappears).
func TestTemplatePatchReplacesTemplate(t *testing.T) {
	old := template("a:1")
	data, err := TemplatePatch(&old)
	if err != nil {
		t.Fatal(err)
	}
	cur := owner("b:2")
	cur.Spec.Template.Spec.Containers = append(cur.Spec.Template.Spec.Containers, corev1.Container{Name: "extra", Image: "e"})
	curJSON, _ := json.Marshal(cur)
	out, err := strategicpatch.StrategicMergePatch(curJSON, data, &appsv1.DaemonSet{})
	if err != nil {
		t.Fatal(err)
	}
	var got appsv1.DaemonSet
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if n := len(got.Spec.Template.Spec.Containers); n != 1 || got.Spec.Template.Spec.Containers[0].Image != "a:1" {
		t.Fatalf("patched template: %+v", got.Spec.Template.Spec.Containers)
	}
	if got.Name != "ds" || got.Annotations["note"] != "n" {
		t.Fatalf("patch touched more than the template: %+v", got.ObjectMeta)
	}
}

func TestHash(t *testing.T) {
	one, two := int32(1), int32(2)
	cases := []struct {
		name       string
		a, b       []byte
		ca, cb     *int32
		wantEquals bool
	}{
		{"same data", []byte("x"), []byte("x"), nil, nil, true},
		{"different data", []byte("x"), []byte("y"), nil, nil, false},
		{"collision count moves the hash", []byte("x"), []byte("x"), &one, &two, false},
		{"same count same hash", []byte("x"), []byte("x"), &one, &one, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ha, hb := Hash(c.a, c.ca), Hash(c.b, c.cb)
			if (ha == hb) != c.wantEquals {
				t.Fatalf("Hash equal=%v, want %v (%s, %s)", ha == hb, c.wantEquals, ha, hb)
			}
		})
	}
}

func rev(o *appsv1.DaemonSet, image string, n int64) *appsv1.ControllerRevision {
	tpl := template(image)
	data, _ := TemplatePatch(&tpl)
	var zero int32
	return New(o, dsKind, tpl.Labels, data, n, &zero)
}

func TestSync(t *testing.T) {
	o := owner("c:3")
	cases := []struct {
		name      string
		existing  []*appsv1.ControllerRevision
		image     string
		wantRev   int64
		wantCount int
		action    string // the write expected, "" for none
	}{
		{"first revision", nil, "a:1", 1, 1, "create"},
		{"already newest", []*appsv1.ControllerRevision{rev(o, "a:1", 1), rev(o, "b:2", 2)}, "b:2", 2, 2, ""},
		{"rollback renumbers the old revision", []*appsv1.ControllerRevision{rev(o, "a:1", 1), rev(o, "b:2", 2)}, "a:1", 3, 2, "update"},
		{"new template", []*appsv1.ControllerRevision{rev(o, "a:1", 1)}, "b:2", 2, 2, "create"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var objs []runtime.Object
			for _, r := range c.existing {
				objs = append(objs, r)
			}
			cs := fake.NewSimpleClientset(objs...)
			tpl := template(c.image)
			data, _ := TemplatePatch(&tpl)
			var cc int32
			got, all, err := Client{cs}.Sync(context.Background(), c.existing, o, dsKind, tpl.Labels, data, &cc)
			if err != nil {
				t.Fatal(err)
			}
			if got.Revision != c.wantRev || len(all) != c.wantCount {
				t.Fatalf("revision %d, %d revisions; want %d, %d", got.Revision, len(all), c.wantRev, c.wantCount)
			}
			if all[len(all)-1].Name != got.Name {
				t.Fatalf("update revision %s is not the newest in %v", got.Name, all)
			}
			if got.Labels[HashLabel] == "" || got.Name != Name("ds", got.Labels[HashLabel]) {
				t.Fatalf("name %s, hash label %q", got.Name, got.Labels[HashLabel])
			}
			var writes []string
			for _, a := range cs.Actions() {
				if a.GetVerb() != "get" && a.GetVerb() != "list" {
					writes = append(writes, a.GetVerb())
				}
			}
			want := []string{}
			if c.action != "" {
				want = []string{c.action}
			}
			if len(writes) != len(want) || (len(want) == 1 && writes[0] != want[0]) {
				t.Fatalf("writes %v, want %v", writes, want)
			}
		})
	}
}

// A name taken by a revision with other data raises the collision count.
func TestCreateCollision(t *testing.T) {
	o := owner("a:1")
	tpl := template("a:1")
	data, _ := TemplatePatch(&tpl)
	var zero int32
	squatter := New(o, dsKind, nil, []byte(`{"other":true}`), 1, &zero)
	squatter.Name = New(o, dsKind, nil, data, 1, &zero).Name
	cs := fake.NewSimpleClientset(squatter)
	cc := int32(0)
	got, err := Client{cs}.Create(context.Background(), New(o, dsKind, tpl.Labels, data, 1, &cc), o, dsKind, tpl.Labels, &cc)
	if err != nil {
		t.Fatal(err)
	}
	if cc != 1 || got.Name == squatter.Name {
		t.Fatalf("collision count %d, name %s (squatter %s)", cc, got.Name, squatter.Name)
	}
}

func TestTruncate(t *testing.T) {
	o := owner("x")
	revs := []*appsv1.ControllerRevision{rev(o, "a", 1), rev(o, "b", 2), rev(o, "c", 3), rev(o, "d", 4)}
	cs := fake.NewSimpleClientset(revs[0], revs[1], revs[2], revs[3])
	live := map[string]bool{revs[3].Name: true, revs[0].Name: true}
	if err := (Client{cs}).Truncate(context.Background(), revs, live, 1); err != nil {
		t.Fatal(err)
	}
	left, _ := cs.AppsV1().ControllerRevisions("ns").List(context.Background(), metav1.ListOptions{})
	names := map[string]bool{}
	for _, r := range left.Items {
		names[r.Name] = true
	}
	if len(names) != 3 || !names[revs[0].Name] || !names[revs[2].Name] || !names[revs[3].Name] {
		t.Fatalf("left %v; want live ones and the newest old one", names)
	}
}

func TestTemplateRoundTrip(t *testing.T) {
	tpl := template("a:1")
	tpl.Spec.TerminationGracePeriodSeconds = new(int64)
	*tpl.Spec.TerminationGracePeriodSeconds = 30
	r := rev(owner("x"), "a:1", 1)
	data, _ := TemplatePatch(&tpl)
	r.Data.Raw = data
	got, err := Template(r)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Containers[0].Image != "a:1" || *got.Spec.TerminationGracePeriodSeconds != 30 || got.Labels["app"] != "x" {
		t.Fatalf("template read back: %+v", got)
	}
}
