package auth

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"tug/internal/storage"
)

// testPod is a pod in namespace a; fill its spec with the mutators.
func testPod(name, node string, muts ...func(*corev1.PodSpec)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: name},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	for _, m := range muts {
		m(&p.Spec)
	}
	return p
}

func secretVolume(name string) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		s.Volumes = append(s.Volumes, corev1.Volume{Name: "v-" + name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}})
	}
}

// everyReference uses one object of each kind, in each way a pod can.
func everyReference(s *corev1.PodSpec) {
	s.ServiceAccountName = "sa-1"
	s.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "s-pull"}}
	s.Containers[0].Env = []corev1.EnvVar{
		{Name: "A", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s-env"}, Key: "k"}}},
		{Name: "B", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-env"}, Key: "k"}}},
		{Name: "C", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	}
	s.Containers[0].EnvFrom = []corev1.EnvFromSource{
		{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s-envfrom"}}},
		{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-envfrom"}}},
	}
	s.InitContainers = []corev1.Container{{Name: "init", Env: []corev1.EnvVar{
		{Name: "D", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s-init"}, Key: "k"}}}}}}
	s.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug",
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-eph"}}}}}}}
	s.Volumes = append(s.Volumes,
		corev1.Volume{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s-vol"}}},
		corev1.Volume{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-vol"}}}},
		corev1.Volume{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s-proj"}}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-proj"}}},
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
		}}}},
		corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "claim-1"}}},
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
		corev1.Volume{Name: "csi", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d", NodePublishSecretRef: &corev1.LocalObjectReference{Name: "s-csi"}}}},
	)
}

// nextAuthorizer stands for RBAC: it allows everything and says so.
type nextAuthorizer struct{}

func (nextAuthorizer) Authorize(context.Context, Attributes) (Decision, error) {
	return Decision{Allowed: true, Reason: "next"}, nil
}

// testGraph is a graph with no store behind it: p1 uses everything on n1, p2 a
// few objects on n2, p3 is not bound and the mirror pod is n1's own.
func testGraph() *NodeGraph {
	g := newNodeGraph()
	volumes := map[string]string{"a/claim-1": "pv-1", "a/claim-2": "pv-2", "a/p1-scratch": "pv-scratch"}
	g.claimVolume = func(_ context.Context, ns, name string) string { return volumes[ns+"/"+name] }
	mirror := testPod("static-n1", "n1", secretVolume("s-mirror"))
	mirror.Annotations = map[string]string{mirrorAnnotation: "x"}
	for i, p := range []*corev1.Pod{
		testPod("p1", "n1", everyReference),
		testPod("p2", "n2", secretVolume("s-other"), func(s *corev1.PodSpec) {
			s.ServiceAccountName = "sa-2"
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "d", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "claim-2"}}})
		}),
		testPod("p3", "", secretVolume("s-unbound")),
		mirror,
	} {
		g.setPod(p.Namespace+"/"+p.Name, useOf(p), int64(i+1))
	}
	return g
}

func TestNodeAuthorizer(t *testing.T) {
	n1, n2 := user("system:node:n1", GroupNodes), user("system:node:n2", GroupNodes)
	a := &NodeAuthorizer{Next: NewRBACAuthorizer(testPolicy()), Graph: testGraph()}
	const noRelation = `no relationship found between node "n1" and this object`
	tests := []struct {
		name   string
		user   *User
		attrs  Attributes
		allow  bool
		reason string // substring of the reason
	}{
		{"secret in a volume", n1, res("get", "", "secrets", "", "a", "s-vol"), true, `pod bound to node "n1"`},
		{"secret in a projected volume", n1, res("get", "", "secrets", "", "a", "s-proj"), true, ""},
		{"secret in env", n1, res("get", "", "secrets", "", "a", "s-env"), true, ""},
		{"secret in envFrom", n1, res("get", "", "secrets", "", "a", "s-envfrom"), true, ""},
		{"secret in an init container", n1, res("get", "", "secrets", "", "a", "s-init"), true, ""},
		{"image pull secret", n1, res("get", "", "secrets", "", "a", "s-pull"), true, ""},
		{"csi volume secret", n1, res("get", "", "secrets", "", "a", "s-csi"), true, ""},
		{"config map in a volume", n1, res("get", "", "configmaps", "", "a", "cm-vol"), true, ""},
		{"config map in a projected volume", n1, res("get", "", "configmaps", "", "a", "cm-proj"), true, ""},
		{"config map in env", n1, res("get", "", "configmaps", "", "a", "cm-env"), true, ""},
		{"config map in envFrom", n1, res("get", "", "configmaps", "", "a", "cm-envfrom"), true, ""},
		{"config map of an ephemeral container", n1, res("get", "", "configmaps", "", "a", "cm-eph"), true, ""},
		{"claim", n1, res("get", "", "persistentvolumeclaims", "", "a", "claim-1"), true, ""},
		{"claim of an ephemeral volume", n1, res("get", "", "persistentvolumeclaims", "", "a", "p1-scratch"), true, ""},
		{"claim status", n1, res("patch", "", "persistentvolumeclaims", "status", "a", "claim-1"), true, ""},
		{"volume of its claim", n1, res("get", "", "persistentvolumes", "", "", "pv-1"), true, ""},
		{"volume of its ephemeral claim", n1, res("get", "", "persistentvolumes", "", "", "pv-scratch"), true, ""},
		{"service account", n1, res("get", "", "serviceaccounts", "", "a", "sa-1"), true, ""},
		{"service account token", n1, res("create", "", "serviceaccounts", "token", "a", "sa-1"), true, ""},

		{"another node's secret", n1, res("get", "", "secrets", "", "a", "s-other"), false, noRelation},
		{"the other node's own secret", n2, res("get", "", "secrets", "", "a", "s-other"), true, ""},
		{"secret of n1 for n2", n2, res("get", "", "secrets", "", "a", "s-vol"), false, `no relationship found between node "n2"`},
		{"config map of n1 for n2", n2, res("get", "", "configmaps", "", "a", "cm-env"), false, "no relationship"},
		{"claim of n1 for n2", n2, res("get", "", "persistentvolumeclaims", "", "a", "claim-1"), false, "no relationship"},
		{"volume of n1 for n2", n2, res("get", "", "persistentvolumes", "", "", "pv-1"), false, "no relationship"},
		{"another node's volume", n1, res("get", "", "persistentvolumes", "", "", "pv-2"), false, noRelation},
		{"service account of n1 for n2", n2, res("get", "", "serviceaccounts", "", "a", "sa-1"), false, "no relationship"},
		{"token of another node's account", n1, res("create", "", "serviceaccounts", "token", "a", "sa-2"), false, noRelation},
		{"same name in another namespace", n1, res("get", "", "secrets", "", "b", "s-vol"), false, noRelation},
		{"a secret named like a config map", n1, res("get", "", "secrets", "", "a", "cm-vol"), false, noRelation},
		{"secret of an unbound pod", n1, res("get", "", "secrets", "", "a", "s-unbound"), false, noRelation},
		{"secret of its own mirror pod", n1, res("get", "", "secrets", "", "a", "s-mirror"), false, noRelation},
		{"unknown secret", n1, res("get", "", "secrets", "", "a", "nope"), false, noRelation},

		{"list secrets", n1, res("list", "", "secrets", "", "a", ""), false, "may not list secrets"},
		{"list secrets everywhere", n1, res("list", "", "secrets", "", "", ""), false, "may not list secrets"},
		{"watch config maps", n1, res("watch", "", "configmaps", "", "", ""), false, "may not watch configmaps"},
		{"list volumes", n1, res("list", "", "persistentvolumes", "", "", ""), false, "may not list"},
		{"get with no name", n1, res("get", "", "secrets", "", "a", ""), false, "only secrets it names"},
		{"update its secret", n1, res("update", "", "secrets", "", "a", "s-vol"), false, "may not update secrets"},
		{"delete its claim", n1, res("delete", "", "persistentvolumeclaims", "", "a", "claim-1"), false, "may not delete"},
		{"create a secret", n1, res("create", "", "secrets", "", "a", ""), false, "may not create secrets"},
		{"get a token", n1, res("get", "", "serviceaccounts", "token", "a", "sa-1"), false, "may not get serviceaccounts/token"},
		{"node group, not a node name", user("intruder", GroupNodes), res("get", "", "secrets", "", "a", "s-vol"), false, "not named system:node:"},

		{"other resources go to RBAC", n1, res("watch", "", "pods", "", "", ""), true, "system:node"},
		{"RBAC still refuses what it refuses", n1, res("delete", "", "nodes", "", "", "n1"), false, ""},
		{"same name in another group goes to RBAC", n1, res("get", "example.com", "secrets", "", "a", "x"), false, ""},
		{"a node name outside the node group", user("system:node:n1"), res("get", "", "secrets", "", "a", "s-vol"), false, ""},
		{"non-node user allowed by RBAC", user("jane"), res("get", "", "secrets", "", "ns1", "token"), true, "one-secret"},
		{"non-node user refused by RBAC", user("jane"), res("get", "", "secrets", "", "ns1", "other"), false, ""},
		{"masters are not nodes", user("root", GroupMasters), res("list", "", "secrets", "", "", ""), true, "cluster-admin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.attrs.User = tc.user
			d, err := a.Authorize(context.Background(), tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tc.allow || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("got allowed=%v reason %q, want allowed=%v reason containing %q", d.Allowed, d.Reason, tc.allow, tc.reason)
			}
		})
	}
}

// TestNodeGraphChanges follows pods through their life: not bound yet, bound,
// changed, moved, shared with another pod, deleted.
func TestNodeGraphChanges(t *testing.T) {
	g := newNodeGraph()
	a := &NodeAuthorizer{Next: nextAuthorizer{}, Graph: g}
	rv := int64(0)
	set := func(p *corev1.Pod) { rv++; g.setPod(p.Namespace+"/"+p.Name, useOf(p), rv) }
	del := func(name string) { rv++; g.setPod("a/"+name, podUse{}, rv) }
	steps := []struct {
		name   string
		change func()
		want   map[string]bool // "node/secret" → allowed
	}{
		{"created, not bound", func() { set(testPod("p", "", secretVolume("s1"))) },
			map[string]bool{"n1/s1": false, "n2/s1": false}},
		{"bound to n1", func() { set(testPod("p", "n1", secretVolume("s1"))) },
			map[string]bool{"n1/s1": true, "n2/s1": false}},
		{"spec now names s2", func() { set(testPod("p", "n1", secretVolume("s2"))) },
			map[string]bool{"n1/s1": false, "n1/s2": true}},
		{"bound again to n2", func() { set(testPod("p", "n2", secretVolume("s2"))) },
			map[string]bool{"n1/s2": false, "n2/s2": true}},
		{"a second pod on n2 uses s2", func() { set(testPod("q", "n2", secretVolume("s2"), secretVolume("s3"))) },
			map[string]bool{"n2/s2": true, "n2/s3": true}},
		{"the first is deleted", func() { del("p") },
			map[string]bool{"n2/s2": true, "n2/s3": true}},
		{"the second is deleted", func() { del("q") },
			map[string]bool{"n2/s2": false, "n2/s3": false}},
		{"deleting again changes nothing", func() { del("q") },
			map[string]bool{"n2/s2": false}},
	}
	for _, st := range steps {
		st.change()
		for key, want := range st.want {
			node, secret, _ := strings.Cut(key, "/")
			d, err := a.Authorize(context.Background(), Attributes{User: user("system:node:"+node, GroupNodes),
				Verb: "get", IsResource: true, Resource: "secrets", Namespace: "a", Name: secret})
			if err != nil || d.Allowed != want {
				t.Errorf("%s: %s may get secret %s: %v (%q, %v), want %v", st.name, node, secret, d.Allowed, d.Reason, err, want)
			}
		}
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if len(g.pods) != 0 || len(g.nodes) != 0 {
		t.Fatalf("after every pod is gone the graph still holds pods %v, nodes %v", g.pods, g.nodes)
	}
}

// fakeLister lists fixed rules.
type fakeLister struct {
	nextAuthorizer
	rules []rbacv1.PolicyRule
}

func (f fakeLister) RulesFor(context.Context, *User, string) ([]rbacv1.PolicyRule, error) {
	return f.rules, nil
}

func TestNodeRulesFor(t *testing.T) {
	var nodeRole []rbacv1.PolicyRule
	for _, r := range BootstrapClusterRoles() {
		if r.Name == "system:node" {
			nodeRole = r.Rules
		}
	}
	a := &NodeAuthorizer{Next: fakeLister{rules: nodeRole}, Graph: testGraph()}
	allows := func(rules []rbacv1.PolicyRule, attrs Attributes) bool {
		for i := range rules {
			if ruleAllows(&rules[i], attrs) {
				return true
			}
		}
		return false
	}
	n1 := user("system:node:n1", GroupNodes)
	rules, err := a.RulesFor(context.Background(), n1, "a")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		attrs Attributes
		want  bool
	}{
		{res("get", "", "secrets", "", "a", "s-vol"), true},
		{res("get", "", "secrets", "", "a", "s-other"), false},
		{res("list", "", "secrets", "", "a", ""), false},
		{res("get", "", "configmaps", "", "a", "cm-env"), true},
		{res("get", "", "persistentvolumeclaims", "", "a", "claim-1"), true},
		{res("update", "", "persistentvolumeclaims", "status", "a", "claim-1"), true},
		{res("update", "", "persistentvolumeclaims", "status", "a", "claim-2"), false},
		{res("get", "", "persistentvolumes", "", "", "pv-1"), true},
		{res("get", "", "persistentvolumes", "", "", "pv-2"), false},
		{res("create", "", "serviceaccounts", "token", "a", "sa-1"), true},
		{res("create", "", "serviceaccounts", "token", "a", "sa-2"), false},
		{res("watch", "", "pods", "", "a", ""), true},
		{res("create", "events.k8s.io", "events", "", "a", ""), true},
	}
	for _, c := range checks {
		c.attrs.User = n1
		d, _ := a.Authorize(context.Background(), c.attrs)
		if got := allows(rules, c.attrs); got != c.want || d.Allowed != c.want {
			t.Errorf("%s %s/%s %q: rules say %v, the authorizer %v, want %v", c.attrs.Verb, c.attrs.Resource, c.attrs.Subresource, c.attrs.Name, got, d.Allowed, c.want)
		}
	}
	// A non-node user gets RBAC's rules unchanged; a wildcard that covers the
	// node-scoped resources makes the answer incomplete for a node.
	if got, _ := a.RulesFor(context.Background(), user("jane"), "a"); len(got) != len(nodeRole) {
		t.Errorf("rules of a non-node user changed: %d rules, want %d", len(got), len(nodeRole))
	}
	wild := &NodeAuthorizer{Next: fakeLister{rules: []rbacv1.PolicyRule{rule("get", "*", "*")}}, Graph: testGraph()}
	if _, err := wild.RulesFor(context.Background(), n1, "a"); err == nil {
		t.Error("a wildcard rule for a node: want an error marking the rules incomplete")
	}
}

// TestNodeGraphFollowsStore drives the graph from a real store: a pod written a
// moment ago counts as soon as the store serves it, and deleting it ends access.
func TestNodeGraphFollowsStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := storage.StartEmbedded(ctx, storage.EmbeddedConfig{DataDir: t.TempDir(), ProgressNotifyInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := storage.New(e.Client, scheme.Scheme, storage.Options{})
	register := func(resource, kind string, newObj func() runtime.Object) *storage.Resource {
		return s.Register(storage.ResourceConfig{GroupResource: schema.GroupResource{Resource: resource},
			Kind: corev1.SchemeGroupVersion.WithKind(kind), Namespaced: true, New: newObj})
	}
	pods := register("pods", "Pod", func() runtime.Object { return &corev1.Pod{} })
	claims := register("persistentvolumeclaims", "PersistentVolumeClaim", func() runtime.Object { return &corev1.PersistentVolumeClaim{} })
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// A pod that exists before the graph starts comes from the first list.
	if _, err := pods.Create(ctx, testPod("early", "n1", secretVolume("s-early"))); err != nil {
		t.Fatal(err)
	}
	if _, err := claims.Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "c1"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-1"}}); err != nil {
		t.Fatal(err)
	}
	g := NewNodeGraph(func(gvr schema.GroupVersionResource) *storage.Resource {
		switch gvr.Resource {
		case "pods":
			return pods
		case "persistentvolumeclaims":
			return claims
		}
		return nil
	})
	g.Start(ctx)
	a := &NodeAuthorizer{Next: nextAuthorizer{}, Graph: g}
	may := func(resource, ns, name string) bool {
		t.Helper()
		d, err := a.Authorize(ctx, Attributes{User: user("system:node:n1", GroupNodes), Verb: "get", IsResource: true, Resource: resource, Namespace: ns, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	// served waits until the store serves what was written (as a node's watch
	// would see it), so that the graph is the only thing that could lag.
	served := func() {
		t.Helper()
		if _, err := pods.Get(ctx, "a", "early", ""); err != nil {
			t.Fatal(err)
		}
	}
	served()
	if !may("secrets", "a", "s-early") {
		t.Fatal("a pod listed at start does not count")
	}
	pod := testPod("p", "", secretVolume("s1"), func(s *corev1.PodSpec) {
		s.Volumes = append(s.Volumes, corev1.Volume{Name: "d", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c1"}}})
	})
	if _, err := pods.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	served()
	// A grant is withdrawn once the graph has seen the change (a moment later);
	// settle waits for that before the checks that expect a refusal.
	g.settle(ctx)
	if may("secrets", "a", "s1") {
		t.Fatal("the secret of an unbound pod is readable")
	}
	for i := 0; i < 3; i++ {
		// Bind, check at once, unbind: every step is seen without waiting.
		if _, _, err := pods.Update(ctx, "a", "p", false, func(cur runtime.Object) (runtime.Object, error) {
			p := cur.(*corev1.Pod)
			p.Spec.NodeName = "n1"
			return p, nil
		}); err != nil {
			t.Fatal(err)
		}
		served()
		if !may("secrets", "a", "s1") || !may("persistentvolumeclaims", "a", "c1") || !may("persistentvolumes", "", "pv-1") {
			t.Fatalf("round %d: the objects of a pod just bound to n1 are not readable", i)
		}
		if _, _, err := pods.Update(ctx, "a", "p", false, func(cur runtime.Object) (runtime.Object, error) {
			p := cur.(*corev1.Pod)
			p.Spec.NodeName = fmt.Sprintf("elsewhere-%d", i)
			return p, nil
		}); err != nil {
			t.Fatal(err)
		}
		served()
		g.settle(ctx)
		if may("secrets", "a", "s1") {
			t.Fatalf("round %d: the secret of a pod moved away from n1 is still readable", i)
		}
	}
	if _, err := pods.Delete(ctx, "a", "early", nil); err != nil {
		t.Fatal(err)
	}
	// The latest change is not to a pod: the graph catches up through a bookmark,
	// and a denial does not wait long for it.
	if _, err := claims.Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "c2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := claims.Get(ctx, "a", "c2", ""); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if may("secrets", "a", "never-used") {
		t.Fatal("a secret no pod uses is readable")
	}
	if d := time.Since(start); d > settleWait/2 {
		t.Fatalf("a denial waited %s for the graph", d)
	}
	if g.revision() < pods.CachedRevision() {
		t.Fatalf("after a denial the graph is at revision %d, the store at %d", g.revision(), pods.CachedRevision())
	}
	if may("secrets", "a", "s-early") {
		t.Fatal("the secret of a deleted pod is still readable")
	}
}

// benchPods are 10,000 pods spread over 1,000 nodes and 50 namespaces, each with
// a secret of its own, a shared secret, a config map, a claim and an account.
func benchPods() []*storage.Object {
	const pods, nodes = 10000, 1000
	out := make([]*storage.Object, 0, pods)
	for i := 0; i < pods; i++ {
		p := testPod(fmt.Sprintf("p%d", i), fmt.Sprintf("n%d", i%nodes), secretVolume(fmt.Sprintf("s%d", i)), secretVolume("shared"),
			func(s *corev1.PodSpec) {
				s.ServiceAccountName = "default"
				s.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: fmt.Sprintf("cm%d", i%100)}}}}
				s.Volumes = append(s.Volumes, corev1.Volume{Name: "d", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: fmt.Sprintf("c%d", i)}}})
			})
		p.Namespace = fmt.Sprintf("ns%d", i%50)
		out = append(out, &storage.Object{Namespace: p.Namespace, Name: p.Name, Obj: p})
	}
	return out
}

// BenchmarkNodeAuthorizer measures a node's request at 10,000 pods on 1,000 nodes,
// and the cost of keeping the graph up to date.
func BenchmarkNodeAuthorizer(b *testing.B) {
	items := benchPods()
	g := newNodeGraph()
	g.claimVolume = func(_ context.Context, ns, name string) string { return "pv-" + name }
	g.replace(items, 1)
	a := &NodeAuthorizer{Next: nextAuthorizer{}, Graph: g}
	ctx := context.Background()
	node := user("system:node:n7", GroupNodes)
	run := func(name string, attrs Attributes, want bool) {
		attrs.User = node
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if d, _ := a.Authorize(ctx, attrs); d.Allowed != want {
					b.Fatalf("%+v: allowed=%v (%s)", attrs, d.Allowed, d.Reason)
				}
			}
		})
	}
	// Pod 1007 is on n7, in namespace ns7.
	run("get-secret-allowed", res("get", "", "secrets", "", "ns7", "s1007"), true)
	run("get-secret-denied", res("get", "", "secrets", "", "ns7", "s1008"), false)
	run("get-volume-allowed", res("get", "", "persistentvolumes", "", "", "pv-c1007"), true)
	run("list-secrets-denied", res("list", "", "secrets", "", "ns7", ""), false)
	run("other-resource-deferred", res("get", "", "pods", "", "ns7", "p1007"), true)

	pod := items[1007].Obj.(*corev1.Pod)
	b.Run("pod-update-unchanged", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			g.setPod("ns7/p1007", useOf(pod), int64(i+2))
		}
	})
	b.Run("rebuild-10000-pods", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			g.replace(items, 1)
		}
	})
}
