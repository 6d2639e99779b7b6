package garbagecollector

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"tug/internal/controller"
)

func init() {
	controller.Register("garbagecollector", func(c *controller.Context) (controller.Runner, error) {
		return New(c.Client.Discovery(), c.Metadata, c.Clock, c.Options.Workers*4), nil
	})
}

// ignored resources are never collected: events have no owners and are many.
var ignored = sets.New(
	schema.GroupResource{Group: "", Resource: "events"},
	schema.GroupResource{Group: "events.k8s.io", Resource: "events"},
)

// rediscoverEvery is how often discovery is read again for new resources.
const rediscoverEvery = 30 * time.Second

// GC is the garbage collector: monitors feed the graph, workers act on it.
type GC struct {
	*Collector
	disco   discovery.DiscoveryInterface
	workers int
	events  workqueue.TypedInterface[*event]

	mu       sync.Mutex
	monitors map[schema.GroupVersionResource]*monitor
}

type monitor struct {
	informer cache.SharedIndexInformer
	stop     chan struct{}
}

// New builds the garbage collector.
func New(disco discovery.DiscoveryInterface, md metadata.Interface, clk clock.WithTicker, workers int) *GC {
	if workers < 1 {
		workers = 1
	}
	return &GC{
		Collector: newCollector(md, newMapper(), clk),
		disco:     disco,
		workers:   workers,
		events:    workqueue.NewTyped[*event](),
		monitors:  map[schema.GroupVersionResource]*monitor{},
	}
}

// Run implements controller.Runner.
func (gc *GC) Run(ctx context.Context) {
	defer gc.deleteQ.ShutDown()
	defer gc.orphanQ.ShutDown()
	defer gc.events.ShutDown()
	defer gc.stopMonitors()
	go gc.buildGraph()
	// Wait for a first complete picture before acting on it.
	for ctx.Err() == nil {
		if err := gc.syncMonitors(); err != nil {
			slog.Warn("garbage collector: discovery failed, retrying", "err", err)
		} else if gc.waitSynced(ctx, time.Minute) {
			// And until the graph holds what the watches listed, so that an
			// orphaning owner sees all its dependents.
			for gc.events.Len() > 0 && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
			}
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
	slog.Info("garbage collector started", "resources", len(gc.monitors), "objects", gc.graph.len())
	var wg sync.WaitGroup
	for i := 0; i < gc.workers; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); gc.work(ctx, gc.deleteQ, gc.processDelete) }()
		go func() { defer wg.Done(); gc.work(ctx, gc.orphanQ, gc.processOrphan) }()
	}
	t := time.NewTicker(rediscoverEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			gc.deleteQ.ShutDown()
			gc.orphanQ.ShutDown()
			wg.Wait()
			return
		case <-t.C:
			if err := gc.syncMonitors(); err != nil {
				slog.Debug("garbage collector: discovery failed", "err", err)
			}
		}
	}
}

func (gc *GC) work(ctx context.Context, q workqueue.TypedRateLimitingInterface[*node], f func(context.Context, *node) error) {
	for {
		n, quit := q.Get()
		if quit {
			return
		}
		err := f(ctx, n)
		if err != nil {
			slog.Debug("garbage collector: will retry", "object", n.ref.String(), "err", err)
			q.AddRateLimited(n)
		} else {
			q.Forget(n)
		}
		q.Done(n)
	}
}

// buildGraph applies watch events to the graph, one at a time, in order.
func (gc *GC) buildGraph() {
	for {
		ev, quit := gc.events.Get()
		if quit {
			return
		}
		gc.graph.process(ev)
		gc.events.Done(ev)
	}
}

// deletable lists the resources to watch: those that can be listed, watched and
// deleted, in their preferred version.
func (gc *GC) deletable() ([]resourceInfo, []*metav1.APIResourceList, error) {
	_, all, err := gc.disco.ServerGroupsAndResources()
	if err != nil && len(all) == 0 {
		return nil, nil, err
	}
	groups, gerr := gc.disco.ServerGroups()
	if gerr != nil {
		return nil, nil, gerr
	}
	preferred := map[string]string{}
	for _, g := range groups.Groups {
		preferred[g.Name] = g.PreferredVersion.Version
	}
	var out []resourceInfo
	for _, l := range all {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil || (preferred[gv.Group] != "" && preferred[gv.Group] != gv.Version) {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || ignored.Has(schema.GroupResource{Group: gv.Group, Resource: r.Name}) {
				continue
			}
			verbs := sets.New(r.Verbs...)
			if !verbs.HasAll("list", "watch", "delete") {
				continue
			}
			out = append(out, resourceInfo{gvr: gv.WithResource(r.Name), kind: r.Kind, namespaced: r.Namespaced})
		}
	}
	return out, all, nil
}

// syncMonitors starts a metadata watch for every deletable resource and stops the
// watches of resources that are gone.
func (gc *GC) syncMonitors() error {
	infos, all, err := gc.deletable()
	if err != nil {
		return err
	}
	gc.mapper.set(all)
	gc.mu.Lock()
	defer gc.mu.Unlock()
	want := map[schema.GroupVersionResource]bool{}
	for _, ri := range infos {
		want[ri.gvr] = true
		if _, ok := gc.monitors[ri.gvr]; ok {
			continue
		}
		gc.monitors[ri.gvr] = gc.startMonitor(ri)
	}
	for gvr, m := range gc.monitors {
		if !want[gvr] {
			close(m.stop)
			delete(gc.monitors, gvr)
		}
	}
	return nil
}

func (gc *GC) startMonitor(ri resourceInfo) *monitor {
	inf := metadatainformer.NewFilteredMetadataInformer(gc.md, ri.gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
	// Only identity, owners, finalizers and deletion matter here.
	_ = inf.SetTransform(func(obj interface{}) (interface{}, error) {
		if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
			m.ManagedFields = nil
			m.Annotations = nil
			m.Labels = nil
		}
		return obj, nil
	})
	apiVersion := ri.gvr.GroupVersion().String()
	toEvent := func(typ eventType, obj interface{}) *event {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		m, ok := obj.(*metav1.PartialObjectMetadata)
		if !ok {
			return nil
		}
		return &event{
			typ:        typ,
			ref:        objRef{APIVersion: apiVersion, Kind: ri.kind, Namespace: m.Namespace, Name: m.Name, UID: m.UID},
			owners:     m.OwnerReferences,
			finalizers: m.Finalizers,
			deleting:   m.DeletionTimestamp != nil,
		}
	}
	push := func(ev *event) {
		if ev != nil {
			gc.events.Add(ev)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { push(toEvent(addEvent, obj)) },
		UpdateFunc: func(_, obj interface{}) { push(toEvent(updateEvent, obj)) },
		DeleteFunc: func(obj interface{}) { push(toEvent(deleteEvent, obj)) },
	})
	m := &monitor{informer: inf, stop: make(chan struct{})}
	go inf.Run(m.stop)
	return m
}

// waitSynced waits until every monitor has listed, or the timeout.
func (gc *GC) waitSynced(ctx context.Context, timeout time.Duration) bool {
	gc.mu.Lock()
	var synced []cache.InformerSynced
	for _, m := range gc.monitors {
		synced = append(synced, m.informer.HasSynced)
	}
	gc.mu.Unlock()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return cache.WaitForCacheSync(tctx.Done(), synced...)
}

func (gc *GC) stopMonitors() {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	for gvr, m := range gc.monitors {
		close(m.stop)
		delete(gc.monitors, gvr)
	}
}
