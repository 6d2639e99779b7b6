package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/metadata"
	fakemeta "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	testclock "k8s.io/utils/clock/testing"
)

var resources = []*metav1.APIResourceList{
	{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: []string{"list", "watch", "delete", "get"}},
		{Name: "pods/status", Kind: "Pod", Namespaced: true, Verbs: []string{"get"}},
		{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: []string{"list", "watch", "delete"}},
		{Name: "nodes", Kind: "Node", Verbs: []string{"list", "watch", "delete"}},
		{Name: "events", Kind: "Event", Namespaced: true, Verbs: []string{"list", "watch", "delete"}},
		{Name: "bindings", Kind: "Binding", Namespaced: true, Verbs: []string{"create"}},
	}},
	{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
		{Name: "replicasets", Kind: "ReplicaSet", Namespaced: true, Verbs: []string{"list", "watch", "delete"}},
		{Name: "deployments", Kind: "Deployment", Namespaced: true, Verbs: []string{"list", "watch", "delete"}},
	}},
}

type obj struct {
	apiVersion, kind, ns, name, uid string
	owners                          []metav1.OwnerReference
	finalizers                      []string
	deleting                        bool
}

func (o obj) meta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: o.apiVersion, Kind: o.kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: o.ns, Name: o.name, UID: types.UID(o.uid), OwnerReferences: o.owners, Finalizers: o.finalizers, ResourceVersion: "7"},
	}
	if o.deleting {
		ts := metav1.NewTime(time.Unix(100, 0))
		m.DeletionTimestamp = &ts
	}
	return m
}

func (o obj) event(t eventType) *event {
	return &event{typ: t, ref: objRef{APIVersion: o.apiVersion, Kind: o.kind, Namespace: o.ns, Name: o.name, UID: types.UID(o.uid)}, owners: o.owners, finalizers: o.finalizers, deleting: o.deleting}
}

func ownerRef(apiVersion, kind, name, uid string, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid), BlockOwnerDeletion: &block}
}

func rs(name, uid string, owners ...metav1.OwnerReference) obj {
	return obj{apiVersion: "apps/v1", kind: "ReplicaSet", ns: "ns", name: name, uid: uid, owners: owners}
}
func pod(ns, name, uid string, owners ...metav1.OwnerReference) obj {
	return obj{apiVersion: "v1", kind: "Pod", ns: ns, name: name, uid: uid, owners: owners}
}

type harness struct {
	t       *testing.T
	c       *Collector
	md      *fakemeta.FakeMetadataClient
	deletes *[]string
}

// recordingMD records the options of deletes, which the fake client drops.
type recordingMD struct {
	metadata.Interface
	deletes *[]string
}

type recordingGetter struct {
	metadata.Getter
	gvr     schema.GroupVersionResource
	deletes *[]string
}

type recordingResource struct {
	metadata.ResourceInterface
	gvr     schema.GroupVersionResource
	ns      string
	deletes *[]string
}

func (r recordingMD) Resource(gvr schema.GroupVersionResource) metadata.Getter {
	return recordingGetter{Getter: r.Interface.Resource(gvr), gvr: gvr, deletes: r.deletes}
}
func (g recordingGetter) Namespace(ns string) metadata.ResourceInterface {
	return recordingResource{ResourceInterface: g.Getter.Namespace(ns), gvr: g.gvr, ns: ns, deletes: g.deletes}
}
func (g recordingGetter) Delete(ctx context.Context, name string, opts metav1.DeleteOptions, sub ...string) error {
	return g.Namespace("").Delete(ctx, name, opts, sub...)
}
func (r recordingResource) Delete(ctx context.Context, name string, opts metav1.DeleteOptions, sub ...string) error {
	*r.deletes = append(*r.deletes, fmt.Sprintf("delete %s %s/%s %s uid=%s", r.gvr.Resource, r.ns, name, *opts.PropagationPolicy, *opts.Preconditions.UID))
	return r.ResourceInterface.Delete(ctx, name, opts, sub...)
}

// newHarness stores objs in the fake API server and, for those in watched, feeds
// them to the graph as if the watches had listed them.
func newHarness(t *testing.T, stored []obj, watched []obj) *harness {
	t.Helper()
	scheme := fakemeta.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for _, o := range stored {
		objs = append(objs, o.meta())
	}
	md := fakemeta.NewSimpleMetadataClient(scheme, objs...)
	// Patches are only recorded; the tests look at what was sent.
	md.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, &metav1.PartialObjectMetadata{}, nil
	})
	m := newMapper()
	m.set(resources)
	deletes := &[]string{}
	c := newCollector(recordingMD{Interface: md, deletes: deletes}, m, testclock.NewFakeClock(time.Unix(1000, 0)))
	for _, o := range watched {
		c.graph.process(o.event(addEvent))
	}
	return &harness{t: t, c: c, md: md, deletes: deletes}
}

// drain runs the workers until both queues are empty and returns the API calls
// made (other than reads) as "verb resource ns/name detail".
func (h *harness) drain() []string {
	h.t.Helper()
	ctx := context.Background()
	for i := 0; i < 100 && (h.c.deleteQ.Len() > 0 || h.c.orphanQ.Len() > 0); i++ {
		for h.c.deleteQ.Len() > 0 {
			n, _ := h.c.deleteQ.Get()
			if err := h.c.processDelete(ctx, n); err != nil {
				h.t.Fatalf("processDelete %s: %v", n.ref, err)
			}
			h.c.deleteQ.Done(n)
		}
		for h.c.orphanQ.Len() > 0 {
			n, _ := h.c.orphanQ.Get()
			if err := h.c.processOrphan(ctx, n); err != nil {
				h.t.Fatalf("processOrphan %s: %v", n.ref, err)
			}
			h.c.orphanQ.Done(n)
		}
	}
	out := append([]string(nil), *h.deletes...)
	for _, a := range h.md.Actions() {
		switch x := a.(type) {
		case k8stesting.PatchAction:
			var body struct {
				Metadata map[string]json.RawMessage `json:"metadata"`
			}
			_ = json.Unmarshal(x.GetPatch(), &body)
			var keys []string
			for k, v := range body.Metadata {
				if k == "ownerReferences" || k == "finalizers" {
					keys = append(keys, k+"="+compactRefs(v))
				}
			}
			sort.Strings(keys)
			out = append(out, fmt.Sprintf("patch %s %s/%s %s", a.GetResource().Resource, a.GetNamespace(), x.GetName(), strings.Join(keys, " ")))
		}
	}
	sort.Strings(out)
	return out
}

// compactRefs prints owner references as their UIDs, finalizers as they are.
func compactRefs(raw json.RawMessage) string {
	var refs []metav1.OwnerReference
	if json.Unmarshal(raw, &refs) == nil && len(refs) > 0 && refs[0].UID != "" {
		var uids []string
		for _, r := range refs {
			uids = append(uids, string(r.UID))
		}
		return "[" + strings.Join(uids, ",") + "]"
	}
	return string(raw)
}

func TestCollect(t *testing.T) {
	deploy := obj{apiVersion: "apps/v1", kind: "Deployment", ns: "ns", name: "web", uid: "d1"}
	cases := []struct {
		name    string
		stored  []obj // in the API server
		watched []obj // seen by the watches
		then    []*event
		want    []string
	}{
		{
			name:    "owner never existed: the dependent is deleted in the background",
			stored:  []obj{rs("web-1", "r1", ownerRef("apps/v1", "Deployment", "web", "d1", true))},
			watched: []obj{rs("web-1", "r1", ownerRef("apps/v1", "Deployment", "web", "d1", true))},
			want:    []string{"delete replicasets ns/web-1 Background uid=r1"},
		},
		{
			name:    "owner exists: nothing happens",
			stored:  []obj{deploy, rs("web-1", "r1", ownerRef("apps/v1", "Deployment", "web", "d1", true))},
			watched: []obj{deploy, rs("web-1", "r1", ownerRef("apps/v1", "Deployment", "web", "d1", true))},
			want:    nil,
		},
		{
			name:    "owner exists but not yet watched: checked live, kept",
			stored:  []obj{deploy, rs("web-1", "r1", ownerRef("apps/v1", "Deployment", "web", "d1", true))},
			watched: []obj{rs("web-1", "r1", ownerRef("apps/v1", "Deployment", "web", "d1", true))},
			want:    nil,
		},
		{
			name:    "owner name exists with another UID: the dependent is deleted",
			stored:  []obj{deploy, rs("web-1", "r1", ownerRef("apps/v1", "Deployment", "web", "old-uid", true))},
			watched: []obj{deploy, rs("web-1", "r1", ownerRef("apps/v1", "Deployment", "web", "old-uid", true))},
			want:    []string{"delete replicasets ns/web-1 Background uid=r1"},
		},
		{
			name:    "owner deleted: dependents of the deleted owner go",
			stored:  []obj{rs("web-1", "r1", ownerRef("apps/v1", "Deployment", "web", "d1", true)), pod("ns", "p", "p1", ownerRef("apps/v1", "ReplicaSet", "web-1", "r1", true))},
			watched: []obj{deploy, rs("web-1", "r1", ownerRef("apps/v1", "Deployment", "web", "d1", true)), pod("ns", "p", "p1", ownerRef("apps/v1", "ReplicaSet", "web-1", "r1", true))},
			then:    []*event{deploy.event(deleteEvent)},
			want:    []string{"delete replicasets ns/web-1 Background uid=r1"},
		},
		{
			name: "one owner left of two: only the dangling reference is removed",
			stored: []obj{deploy, pod("ns", "p", "p1",
				ownerRef("apps/v1", "Deployment", "web", "d1", false), ownerRef("apps/v1", "ReplicaSet", "gone", "r9", false))},
			watched: []obj{deploy, pod("ns", "p", "p1",
				ownerRef("apps/v1", "Deployment", "web", "d1", false), ownerRef("apps/v1", "ReplicaSet", "gone", "r9", false))},
			want: []string{"patch pods ns/p ownerReferences=[d1]"},
		},
		{
			name:    "an owner in another namespace does not own",
			stored:  []obj{rs("web-1", "r1"), pod("other", "p", "p1", ownerRef("apps/v1", "ReplicaSet", "web-1", "r1", false))},
			watched: []obj{rs("web-1", "r1"), pod("other", "p", "p1", ownerRef("apps/v1", "ReplicaSet", "web-1", "r1", false))},
			want:    []string{"delete pods other/p Background uid=p1"},
		},
		{
			name: "a cluster-scoped object cannot have a namespaced owner",
			stored: []obj{rs("web-1", "r1"),
				{apiVersion: "v1", kind: "Node", name: "n", uid: "n1", owners: []metav1.OwnerReference{ownerRef("apps/v1", "ReplicaSet", "web-1", "r1", false)}}},
			watched: []obj{rs("web-1", "r1"),
				{apiVersion: "v1", kind: "Node", name: "n", uid: "n1", owners: []metav1.OwnerReference{ownerRef("apps/v1", "ReplicaSet", "web-1", "r1", false)}}},
			want: []string{"delete nodes /n Background uid=n1"},
		},
		{
			name:    "an owner of an unknown kind keeps its dependents",
			stored:  []obj{pod("ns", "p", "p1", ownerRef("example.com/v1", "Widget", "w", "w1", false))},
			watched: []obj{pod("ns", "p", "p1", ownerRef("example.com/v1", "Widget", "w", "w1", false))},
			want:    nil,
		},
		{
			name: "a dependent that has its own orphan finalizer is deleted with that policy",
			stored: []obj{{apiVersion: "apps/v1", kind: "ReplicaSet", ns: "ns", name: "web-1", uid: "r1", finalizers: []string{metav1.FinalizerOrphanDependents},
				owners: []metav1.OwnerReference{ownerRef("apps/v1", "Deployment", "web", "d1", true)}}},
			watched: []obj{{apiVersion: "apps/v1", kind: "ReplicaSet", ns: "ns", name: "web-1", uid: "r1", finalizers: []string{metav1.FinalizerOrphanDependents},
				owners: []metav1.OwnerReference{ownerRef("apps/v1", "Deployment", "web", "d1", true)}}},
			want: []string{"delete replicasets ns/web-1 Orphan uid=r1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.stored, tc.watched)
			for _, ev := range tc.then {
				h.c.graph.process(ev)
			}
			// Every node is checked once, as after a restart.
			for _, n := range h.c.graph.nodes {
				h.c.deleteQ.Add(n)
			}
			if got := h.drain(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("actions\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestForegroundDeletion(t *testing.T) {
	d := obj{apiVersion: "apps/v1", kind: "Deployment", ns: "ns", name: "web", uid: "d1"}
	r := rs("web-1", "r1", ownerRef("apps/v1", "Deployment", "web", "d1", true))
	p := pod("ns", "web-1-a", "p1", ownerRef("apps/v1", "ReplicaSet", "web-1", "r1", true))
	loose := pod("ns", "loose", "p2", ownerRef("apps/v1", "Deployment", "web", "d1", false))
	h := newHarness(t, []obj{r, p, loose}, []obj{d, r, p, loose})
	if got := h.drain(); got != nil {
		t.Fatalf("nothing to do before the delete: %v", got)
	}
	// kubectl delete --cascade=foreground: the server marks the Deployment.
	dDel := d
	dDel.deleting, dDel.finalizers = true, []string{metav1.FinalizerDeleteDependents}
	h.md.Tracker().Add(dDel.meta())
	h.c.graph.process(dDel.event(updateEvent))
	got := h.drain()
	// The ReplicaSet has dependents of its own: it goes in the foreground too; the
	// pod that does not block is deleted normally.
	want := []string{"delete pods ns/loose Background uid=p2", "delete replicasets ns/web-1 Foreground uid=r1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after marking\n got %v\nwant %v", got, want)
	}
	h.clear()
	// The server marks the ReplicaSet; its pod is deleted.
	rDel := r
	rDel.deleting, rDel.finalizers = true, []string{metav1.FinalizerDeleteDependents}
	if err := h.md.Tracker().Add(rDel.meta()); err != nil {
		t.Fatal(err)
	}
	h.c.graph.process(rDel.event(updateEvent))
	h.c.graph.process(loose.event(deleteEvent))
	if got := h.drain(); fmt.Sprint(got) != fmt.Sprint([]string{"delete pods ns/web-1-a Background uid=p1"}) {
		t.Fatalf("after the replica set is marked: %v", got)
	}
	h.clear()
	// The pod is gone: the ReplicaSet loses its finalizer; the Deployment still
	// waits for the ReplicaSet.
	h.c.graph.process(p.event(deleteEvent))
	if got := h.drain(); fmt.Sprint(got) != fmt.Sprint([]string{"patch replicasets ns/web-1 finalizers=null"}) {
		t.Fatalf("after the pod is gone: %v", got)
	}
	h.clear()
	h.c.graph.process(rDel.event(deleteEvent))
	if got := h.drain(); fmt.Sprint(got) != fmt.Sprint([]string{"patch deployments ns/web finalizers=null"}) {
		t.Fatalf("after the replica set is gone: %v", got)
	}
}

func TestOrphanDeletion(t *testing.T) {
	r := obj{apiVersion: "apps/v1", kind: "ReplicaSet", ns: "ns", name: "web-1", uid: "r1", deleting: true, finalizers: []string{"example.com/keep", metav1.FinalizerOrphanDependents}}
	p1 := pod("ns", "a", "p1", ownerRef("apps/v1", "ReplicaSet", "web-1", "r1", true))
	p2 := pod("ns", "b", "p2", ownerRef("apps/v1", "ReplicaSet", "web-1", "r1", true), ownerRef("v1", "ConfigMap", "cm", "c1", false))
	h := newHarness(t, []obj{r, p1, p2}, []obj{p1, p2, r})
	got := h.drain()
	want := []string{
		"patch pods ns/a ownerReferences=null",
		"patch pods ns/b ownerReferences=[c1]",
		`patch replicasets ns/web-1 finalizers=["example.com/keep"]`,
	}
	// p2 also names a ConfigMap that does not exist, which is dropped separately
	// (the fake server does not apply patches, so that patch shows up too).
	for _, w := range want {
		found := false
		for _, a := range got {
			found = found || a == w
		}
		if !found {
			t.Errorf("missing %q in %v", w, got)
		}
	}
	for _, a := range got {
		if strings.Contains(a, "delete pods ns/a") {
			t.Errorf("an orphaned pod was deleted: %v", got)
		}
	}
}

func TestGraphVirtualOwner(t *testing.T) {
	p := pod("ns", "p", "p1", ownerRef("apps/v1", "ReplicaSet", "web-1", "r1", true))
	h := newHarness(t, []obj{p}, nil)
	h.c.graph.process(p.event(addEvent))
	owner := h.c.graph.get("r1")
	if owner == nil || !owner.virtual || owner.ref.Namespace != "ns" || len(owner.dependents) != 1 {
		t.Fatalf("virtual owner %+v", owner)
	}
	// The owner is confirmed missing: it leaves the graph, its dependent is deleted.
	got := h.drain()
	if h.c.graph.get("r1") != nil {
		t.Error("absent virtual owner still in the graph")
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{"delete pods ns/p Background uid=p1"}) {
		t.Errorf("got %v", got)
	}
	// A virtual owner that is then observed becomes real.
	h2 := newHarness(t, nil, nil)
	h2.c.graph.process(p.event(addEvent))
	h2.c.graph.process(rs("web-1", "r1").event(addEvent))
	if o := h2.c.graph.get("r1"); o == nil || o.virtual {
		t.Errorf("observed owner %+v", o)
	}
	// Dropping the reference unlinks the dependent.
	p.owners = nil
	h2.c.graph.process(p.event(updateEvent))
	if o := h2.c.graph.get("r1"); len(o.dependents) != 0 {
		t.Errorf("dependents %v", o.dependents)
	}
}

func TestDeletableResources(t *testing.T) {
	disco := &fakediscovery.FakeDiscovery{Fake: &k8stesting.Fake{}}
	disco.Resources = resources
	gc := New(disco, nil, testclock.NewFakeClock(time.Unix(0, 0)), 1)
	infos, _, err := gc.deletable()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ri := range infos {
		names = append(names, ri.gvr.String())
	}
	sort.Strings(names)
	want := []string{"/v1, Resource=configmaps", "/v1, Resource=nodes", "/v1, Resource=pods", "apps/v1, Resource=deployments", "apps/v1, Resource=replicasets"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("got %v\nwant %v", names, want)
	}
}

func (h *harness) clear() {
	h.md.ClearActions()
	*h.deletes = nil
}
