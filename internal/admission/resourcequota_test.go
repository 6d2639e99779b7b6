package admission

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"tug/internal/registry"
)

func resourceQuota(name string, hard corev1.ResourceList, scopes ...corev1.ResourceQuotaScope) *corev1.ResourceQuota {
	q := &corev1.ResourceQuota{}
	q.Name, q.Namespace = name, "ns1"
	q.Spec.Hard, q.Spec.Scopes = hard, scopes
	return q
}

func cpuPod(name, cpu string) *corev1.Pod {
	return podWith(func(p *corev1.Pod) {
		p.Name, p.UID = name, types.UID("uid-"+name)
		if cpu != "" {
			p.Spec.Containers[0].Resources.Requests = rl("cpu", cpu)
		}
	})
}

func TestQuotaAdmission(t *testing.T) {
	finished := cpuPod("done", "1")
	finished.Status.Phase = corev1.PodSucceeded
	deleting := cpuPod("going", "1")
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	deadline := int64(60)
	tests := []struct {
		name     string
		quotas   []*corev1.ResourceQuota
		existing []*corev1.Pod
		pod      *corev1.Pod
		want     string
	}{
		{"room left", []*corev1.ResourceQuota{resourceQuota("q1", rl("pods", "2"))},
			[]*corev1.Pod{cpuPod("a", "")}, cpuPod("b", ""), ""},
		{"pods full", []*corev1.ResourceQuota{resourceQuota("q1", rl("pods", "2"))},
			[]*corev1.Pod{cpuPod("a", ""), cpuPod("b", "")}, cpuPod("c", ""),
			`pods "c" is forbidden: exceeded quota: q1, requested: pods=1, used: pods=2, limited: pods=2`},
		{"finished and deleting pods do not count", []*corev1.ResourceQuota{resourceQuota("q1", rl("pods", "1"))},
			[]*corev1.Pod{finished, deleting}, cpuPod("c", ""), ""},
		{"cpu over, pods fine: only cpu named", []*corev1.ResourceQuota{resourceQuota("q1", rl("pods", "5", "requests.cpu", "1"))},
			[]*corev1.Pod{cpuPod("a", "600m")}, cpuPod("b", "500m"),
			`pods "b" is forbidden: exceeded quota: q1, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1`},
		{"count name", []*corev1.ResourceQuota{resourceQuota("q1", rl("count/pods", "1"))},
			[]*corev1.Pod{cpuPod("a", "")}, cpuPod("b", ""),
			`pods "b" is forbidden: exceeded quota: q1, requested: count/pods=1, used: count/pods=1, limited: count/pods=1`},
		{"must specify", []*corev1.ResourceQuota{resourceQuota("q1", rl("limits.cpu", "2", "requests.memory", "1Gi"))},
			nil, cpuPod("b", "100m"),
			`pods "b" is forbidden: failed quota: q1: must specify limits.cpu for: c; requests.memory for: c`},
		{"second quota refuses", []*corev1.ResourceQuota{resourceQuota("a-roomy", rl("pods", "10")), resourceQuota("b-tight", rl("pods", "1"))},
			[]*corev1.Pod{cpuPod("a", "")}, cpuPod("b", ""),
			`pods "b" is forbidden: exceeded quota: b-tight, requested: pods=1, used: pods=1, limited: pods=1`},
		{"scope not matching is ignored", []*corev1.ResourceQuota{resourceQuota("q1", rl("pods", "1"), corev1.ResourceQuotaScopeTerminating)},
			[]*corev1.Pod{cpuPod("a", "")}, cpuPod("b", ""), ""},
		{"scope counts only matching pods", []*corev1.ResourceQuota{resourceQuota("q1", rl("pods", "1"), corev1.ResourceQuotaScopeBestEffort)},
			[]*corev1.Pod{cpuPod("a", "1")}, cpuPod("b", ""), ""},
		{"terminating scope", []*corev1.ResourceQuota{resourceQuota("q1", rl("pods", "1"), corev1.ResourceQuotaScopeTerminating)},
			[]*corev1.Pod{podWith(func(p *corev1.Pod) { p.Name, p.UID = "a", "uid-a"; p.Spec.ActiveDeadlineSeconds = &deadline })},
			podWith(func(p *corev1.Pod) { p.Name, p.UID = "b", "uid-b"; p.Spec.ActiveDeadlineSeconds = &deadline }),
			`pods "b" is forbidden: exceeded quota: q1, requested: pods=1, used: pods=1, limited: pods=1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := &fakeObjects{}
			for _, q := range tc.quotas {
				objs.add("resourcequotas", q)
			}
			for _, p := range tc.existing {
				objs.add("pods", p)
			}
			err := NewQuota(objs).Admit(context.Background(), &Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: tc.pod.Name, Object: tc.pod})
			checkRefusal(t, err, tc.want)
		})
	}
}

func TestQuotaOtherKinds(t *testing.T) {
	svc := func(name string, typ corev1.ServiceType, ports int) *corev1.Service {
		s := &corev1.Service{}
		s.Name, s.Namespace, s.UID = name, "ns1", types.UID("uid-"+name)
		s.Spec.Type = typ
		for i := 0; i < ports; i++ {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: int32(80 + i)})
		}
		return s
	}
	servicesRes := registryResource{"services", "Service"}
	tests := []struct {
		name     string
		hard     corev1.ResourceList
		existing []*corev1.Service
		svc      *corev1.Service
		want     string
	}{
		{"services", rl("services", "1"), []*corev1.Service{svc("a", corev1.ServiceTypeClusterIP, 1)}, svc("b", corev1.ServiceTypeClusterIP, 1),
			`services "b" is forbidden: exceeded quota: q1, requested: services=1, used: services=1, limited: services=1`},
		{"node ports", rl("services.nodeports", "2"), []*corev1.Service{svc("a", corev1.ServiceTypeNodePort, 1)}, svc("b", corev1.ServiceTypeNodePort, 2),
			`services "b" is forbidden: exceeded quota: q1, requested: services.nodeports=2, used: services.nodeports=1, limited: services.nodeports=2`},
		{"cluster IPs take no node ports", rl("services.nodeports", "0"), nil, svc("b", corev1.ServiceTypeClusterIP, 2), ""},
		{"load balancers", rl("services.loadbalancers", "0"), nil, svc("b", corev1.ServiceTypeLoadBalancer, 1),
			`services "b" is forbidden: exceeded quota: q1, requested: services.loadbalancers=1, used: services.loadbalancers=0, limited: services.loadbalancers=0`},
		{"a pod quota says nothing about services", rl("pods", "0"), nil, svc("b", corev1.ServiceTypeClusterIP, 1), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := &fakeObjects{}
			objs.add("resourcequotas", resourceQuota("q1", tc.hard))
			for _, s := range tc.existing {
				objs.add("services", s)
			}
			err := NewQuota(objs).Admit(context.Background(), &Request{Operation: Create, Resource: servicesRes.res(), Namespace: "ns1", Name: tc.svc.Name, Object: tc.svc})
			checkRefusal(t, err, tc.want)
		})
	}
}

type registryResource struct{ resource, kind string }

func (r registryResource) res() *registry.Resource {
	return &registry.Resource{Resource: r.resource, Kind: r.kind, Version: "v1", Namespaced: true}
}

// Creates admitted but not yet stored still count: of many concurrent creates
// against pods=3, exactly three pass; once stored they are counted from the
// store; a charge whose object never arrives ends with the hold.
func TestQuotaConcurrentCreates(t *testing.T) {
	objs := &fakeObjects{}
	objs.add("resourcequotas", resourceQuota("q1", rl("pods", "3")))
	now := time.Now()
	q := NewQuota(objs)
	q.Now = func() time.Time { return now }
	var wg sync.WaitGroup
	var mu sync.Mutex
	var admitted []*corev1.Pod
	refused := 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := cpuPod(fmt.Sprintf("p%d", i), "")
			err := q.Admit(context.Background(), &Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: p.Name, Object: p})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				admitted = append(admitted, p)
			} else if apierrors.IsForbidden(err) {
				refused++
			} else {
				t.Errorf("unexpected error %v", err)
			}
		}(i)
	}
	wg.Wait()
	if len(admitted) != 3 || refused != 7 {
		t.Fatalf("admitted %d, refused %d; want 3 and 7", len(admitted), refused)
	}
	// Two reach the store; the third create failed after admission.
	objs.add("pods", admitted[0])
	objs.add("pods", admitted[1])
	try := func(name string) error {
		p := cpuPod(name, "")
		return q.Admit(context.Background(), &Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: name, Object: p})
	}
	if err := try("late"); !apierrors.IsForbidden(err) {
		t.Fatalf("during the hold: err = %v, want Forbidden", err)
	}
	now = now.Add(DefaultQuotaHold + time.Second)
	if err := try("late"); err != nil {
		t.Fatalf("after the hold: %v", err)
	}
	// A dry run is checked but charges nothing.
	p := cpuPod("dry", "")
	if err := q.Admit(context.Background(), &Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: "dry", Object: p, DryRun: true}); !apierrors.IsForbidden(err) {
		t.Fatalf("dry run over the limit: err = %v, want Forbidden", err)
	}
}

// A charge ends with its request: once the create's request is over, the store
// alone says whether the object counts (here it was created and deleted again).
func TestQuotaChargeEndsWithRequest(t *testing.T) {
	objs := &fakeObjects{}
	objs.add("resourcequotas", resourceQuota("q1", rl("pods", "1")))
	q := NewQuota(objs)
	ctx, cancel := context.WithCancel(context.Background())
	first := cpuPod("first", "")
	if err := q.Admit(ctx, &Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: "first", Object: first}); err != nil {
		t.Fatal(err)
	}
	second := func() error {
		p := cpuPod("second", "")
		return q.Admit(context.Background(), &Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: "second", Object: p, DryRun: true})
	}
	if err := second(); !apierrors.IsForbidden(err) {
		t.Fatalf("while the first create runs: err = %v, want Forbidden", err)
	}
	cancel()
	if err := second(); err != nil {
		t.Fatalf("after the first request ended: %v", err)
	}
}

func TestQuotaUpdates(t *testing.T) {
	claim := func(size string) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{}
		c.Name, c.Namespace, c.UID = "data", "ns1", "uid-data"
		c.Spec.Resources.Requests = rl("storage", size)
		return c
	}
	tests := []struct {
		name     string
		old, new *corev1.PersistentVolumeClaim
		want     string
	}{
		{"growing within the quota", claim("4Gi"), claim("8Gi"), ""},
		{"growing past the quota", claim("4Gi"), claim("12Gi"),
			`persistentvolumeclaims "data" is forbidden: exceeded quota: q1, requested: requests.storage=8Gi, used: requests.storage=4Gi, limited: requests.storage=10Gi`},
		{"unchanged size is not checked", claim("12Gi"), claim("12Gi"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := &fakeObjects{}
			objs.add("resourcequotas", resourceQuota("q1", rl("requests.storage", "10Gi", "persistentvolumeclaims", "1")))
			objs.add("persistentvolumeclaims", tc.old)
			err := NewQuota(objs).Admit(context.Background(), &Request{Operation: Update, Resource: pvcsRes, Namespace: "ns1", Name: "data", Object: tc.new, OldObject: tc.old})
			checkRefusal(t, err, tc.want)
		})
	}
}
