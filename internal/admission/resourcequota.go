package admission

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"tug/internal/quota"
)

var quotasGVR = corev1.SchemeGroupVersion.WithResource("resourcequotas")

// DefaultQuotaHold is the longest a charge admitted but not yet seen in the store
// keeps counting when its request does not end (see Quota).
const DefaultQuotaHold = 30 * time.Second

// Quota refuses creates (and updates that grow an object's charge) that would take a ResourceQuota of the namespace over its
// hard limits, and pods that leave open a compute resource a quota limits.
//
// Usage is counted from what the store holds now (a consistent list, not the
// quota's status, which the controller fills in later). Creates in one namespace
// are admitted one at a time under a per-namespace lock, and each admitted object
// is remembered, with its charge, while its request is still running: the request
// context ends only after the object was stored (or the create failed), so a list
// made after that shows whether it exists. Until then the charge counts unless the
// store already shows the object (or another object holding its name, which makes
// its create fail). Concurrent creates therefore see each other's charges and
// cannot all slip under a limit, and a failed create frees its charge as soon as
// its request ends. A request whose context never ends (an in-process write)
// keeps its charge at most Hold. Objects no quota covers never take the lock or
// list the store.
type Quota struct {
	Objects ObjectLister
	Hold    time.Duration
	Now     func() time.Time

	mu sync.Mutex
	ns map[string]*nsCharges
}

type nsCharges struct {
	mu      sync.Mutex
	pending map[types.UID]*charge
}

type charge struct {
	gr    schema.GroupResource
	name  string
	obj   runtime.Object
	done  <-chan struct{} // the request's context; nil if it never ends
	until time.Time
}

// resolved reports whether the charge's request has ended (or its hold is over).
func (ch *charge) resolved(now time.Time) bool {
	if now.After(ch.until) {
		return true
	}
	select {
	case <-ch.done:
		return true
	default:
		return false
	}
}

// NewQuota returns the quota plugin over objects.
func NewQuota(objects ObjectLister) *Quota {
	return &Quota{Objects: objects, Hold: DefaultQuotaHold, Now: time.Now, ns: map[string]*nsCharges{}}
}

func (q *Quota) charges(ns string) *nsCharges {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := q.ns[ns]
	if c == nil {
		c = &nsCharges{pending: map[types.UID]*charge{}}
		q.ns[ns] = c
	}
	return c
}

// Admit implements Plugin.
func (q *Quota) Admit(ctx context.Context, r *Request) error {
	if (r.Operation != Create && r.Operation != Update) || r.Subresource != "" || r.Resource == nil || r.Namespace == "" || r.Object == nil {
		return nil
	}
	gr := r.Resource.GroupResource()
	update := r.Operation == Update
	if update && r.OldObject == nil {
		return nil
	}
	objs, err := q.Objects.ListObjects(ctx, quotasGVR, r.Namespace, false)
	if err != nil || len(objs) == 0 {
		return err
	}
	var quotas []*corev1.ResourceQuota
	for _, o := range objs {
		rq, ok := o.(*corev1.ResourceQuota)
		if ok && quota.Supported(rq) && quota.Concerns(rq.Spec.Hard, gr) && quota.Covers(rq, gr, r.Object) {
			quotas = append(quotas, rq)
		}
	}
	if len(quotas) == 0 {
		return nil
	}
	sort.Slice(quotas, func(i, j int) bool { return quotas[i].Name < quotas[j].Name })
	if pod, ok := r.Object.(*corev1.Pod); ok && !update {
		for _, rq := range quotas {
			if missing := quota.MissingCompute(rq.Spec.Hard, &pod.Spec); len(missing) > 0 {
				return apierrors.NewForbidden(gr, r.Name, fmt.Errorf("failed quota: %s: must specify %s", rq.Name, strings.Join(missing, "; ")))
			}
		}
	}
	requested := quota.Usage(gr, r.Object)
	if update {
		// An update is charged what it adds (a bigger claim, a service that
		// becomes a NodePort); one that adds nothing is not looked at.
		requested = quota.Increase(quota.Usage(gr, r.OldObject), requested)
		if len(requested) == 0 {
			return nil
		}
	}
	m, err := meta.Accessor(r.Object)
	if err != nil {
		return nil
	}
	uid := m.GetUID()

	c := q.charges(r.Namespace)
	c.mu.Lock()
	defer c.mu.Unlock()
	// Charges whose request ended before the list below are in it, or never will be.
	now := q.Now()
	for id, ch := range c.pending {
		if ch.resolved(now) {
			delete(c.pending, id)
		}
	}
	current, err := q.Objects.ListObjects(ctx, schema.GroupVersionResource{Group: r.Resource.Group, Version: r.Resource.Version, Resource: r.Resource.Resource}, r.Namespace, true)
	if err != nil {
		return err
	}
	counted := make([]runtime.Object, 0, len(current)+len(c.pending))
	byName := make(map[string]types.UID, len(current))
	for _, o := range current {
		om, err := meta.Accessor(o)
		if err != nil {
			continue
		}
		byName[om.GetName()] = om.GetUID()
		if update && om.GetUID() == uid {
			// Counted at its old usage already; the check adds the increase.
			counted = append(counted, r.OldObject)
			continue
		}
		counted = append(counted, o)
	}
	for id, ch := range c.pending {
		if ch.gr != gr {
			continue
		}
		if _, exists := byName[ch.name]; exists {
			// Stored now (and counted above), or another object holds the
			// name so that this create fails (or failed).
			delete(c.pending, id)
			continue
		}
		counted = append(counted, ch.obj)
	}
	for _, rq := range quotas {
		used := corev1.ResourceList{}
		for _, o := range counted {
			if quota.Covers(rq, gr, o) {
				quota.Add(used, quota.Filter(rq, quota.Usage(gr, o)))
			}
		}
		want := quota.Filter(rq, requested)
		if names := quota.Exceeded(rq.Spec.Hard, used, want); len(names) > 0 {
			return apierrors.NewForbidden(gr, r.Name, fmt.Errorf("%s", quota.ExceededMessage(rq.Name, rq.Spec.Hard, used, want, names)))
		}
	}
	if r.DryRun || uid == "" || update {
		// Updates are checked under the lock but charge nothing ahead of the
		// store: two updates racing to grow the same namespace may both pass.
		return nil
	}
	if _, taken := byName[m.GetName()]; taken {
		return nil // the create fails as AlreadyExists
	}
	if v := r.Resource.Strategy.Validate; v != nil && len(v(ctx, r.Object)) > 0 {
		return nil // the create fails validation
	}
	c.pending[uid] = &charge{gr: gr, name: m.GetName(), obj: r.Object.DeepCopyObject(), done: ctx.Done(), until: now.Add(q.Hold)}
	return nil
}
