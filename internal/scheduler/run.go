package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"tug/internal/controller/leader"
)

// Config configures the scheduler of `tug server`.
type Config struct {
	// RestConfig reaches the API server as system:kube-scheduler.
	RestConfig *rest.Config
	// Client, when set, is used instead of a clientset made from RestConfig.
	Client kubernetes.Interface
	// Workers is the number of concurrent API calls (bindings); default 32.
	Workers int
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// LeaseDuration defaults to the leader package's default.
	LeaseDuration time.Duration
}

// Run schedules pods while this process holds the kube-system/kube-scheduler
// Lease, until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Workers == 0 {
		cfg.Workers = 32
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	client := cfg.Client
	if client == nil {
		var err error
		if client, err = kubernetes.NewForConfig(cfg.RestConfig); err != nil {
			return err
		}
	}
	return leader.Run(ctx, leader.Config{Client: client, Namespace: "kube-system", Name: "kube-scheduler", LeaseDuration: cfg.LeaseDuration},
		func(ctx context.Context) {
			if err := runLeading(ctx, cfg, client); err != nil {
				slog.Error("scheduler stopped", "err", err)
			}
		})
}

func runLeading(ctx context.Context, cfg Config, client kubernetes.Interface) error {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer b.Shutdown()
	rec := b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Name})
	s := New(Options{
		Planner: &APIPlanner{Client: client, Recorder: rec, Clock: cfg.Clock},
		Clock:   cfg.Clock,
		Workers: cfg.Workers,
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	if err := s.Watch(factory); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for t, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache of %v did not sync", t)
		}
	}
	n, p := s.Cache.Counts()
	slog.Info("scheduler started", "nodes", n, "pods", p)
	s.Run(ctx)
	return nil
}

// stripManagedFields keeps the informer's copies small.
func stripManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.ObjectMetaAccessor); ok {
		m.GetObjectMeta().SetManagedFields(nil)
	}
	return obj, nil
}

// Watch feeds the cache and queue from informers of the factory (pods, nodes,
// namespaces, services and disruption budgets).
func (s *Scheduler) Watch(f informers.SharedInformerFactory) error {
	pods := f.Core().V1().Pods().Informer()
	nodes := f.Core().V1().Nodes().Informer()
	for _, inf := range []cache.SharedIndexInformer{pods, nodes} {
		if err := inf.SetTransform(stripManagedFields); err != nil {
			return err
		}
	}
	nsLister := f.Core().V1().Namespaces().Lister()
	svcLister := f.Core().V1().Services().Lister()
	pdbLister := f.Policy().V1().PodDisruptionBudgets().Lister()
	s.Cache.Configure(
		func(ns string) labels.Set {
			n, err := nsLister.Get(ns)
			if err != nil {
				return nil
			}
			return n.Labels
		},
		func(pod *corev1.Pod) []labels.Selector {
			if len(pod.Labels) == 0 {
				return nil
			}
			svcs, err := svcLister.Services(pod.Namespace).List(labels.Everything())
			if err != nil {
				return nil
			}
			var out []labels.Selector
			for _, svc := range svcs {
				if len(svc.Spec.Selector) == 0 {
					continue
				}
				sel := labels.SelectorFromSet(svc.Spec.Selector)
				if sel.Matches(labels.Set(pod.Labels)) {
					out = append(out, sel)
				}
			}
			return out
		},
		func() []*Budget {
			pdbs, err := pdbLister.List(labels.Everything())
			if err != nil {
				return nil
			}
			var out []*Budget
			for _, p := range pdbs {
				sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
				if err != nil {
					continue
				}
				out = append(out, &Budget{Namespace: p.Namespace, Selector: sel, Allowed: p.Status.DisruptionsAllowed})
			}
			return out
		},
	)
	// Listers need their informers registered before the factory starts.
	f.Core().V1().Namespaces().Informer()
	f.Core().V1().Services().Informer()
	f.Policy().V1().PodDisruptionBudgets().Informer()

	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.podAdded(obj.(*corev1.Pod)) },
		UpdateFunc: func(old, obj any) { s.podUpdated(old.(*corev1.Pod), obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				s.podDeleted(pod)
			}
		},
	}); err != nil {
		return err
	}
	_, err := nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			s.Cache.AddNode(obj.(*corev1.Node))
			s.Queue.MoveAll()
		},
		UpdateFunc: func(old, obj any) {
			o, n := old.(*corev1.Node), obj.(*corev1.Node)
			s.Cache.AddNode(n)
			if nodeChangeMatters(o, n) {
				s.Queue.MoveAll()
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				s.Cache.RemoveNode(n.Name)
			}
		},
	})
	return err
}

// podMayNowFit selects queued pods that other pods' arrival can help: those with
// pod affinity or spread constraints.
func podMayNowFit(p *PodInfo) bool {
	return len(p.RequiredAffinity) > 0 || len(p.Pod.Spec.TopologySpreadConstraints) > 0
}

func (s *Scheduler) podAdded(pod *corev1.Pod) {
	switch {
	case pod.Spec.NodeName != "":
		s.Cache.AddPod(pod)
		s.Queue.Move(podMayNowFit)
	case responsible(pod):
		s.Queue.Add(pod)
	}
}

func (s *Scheduler) podUpdated(old, pod *corev1.Pod) {
	if pod.Spec.NodeName != "" {
		if old.Spec.NodeName == "" {
			s.Queue.Delete(pod.UID)
			s.Cache.Unnominate(pod.UID)
		}
		s.Cache.UpdatePod(pod)
		if terminal(pod) && !terminal(old) {
			s.Queue.MoveAll()
		} else if !labels.Equals(old.Labels, pod.Labels) {
			s.Queue.MoveAll()
		}
		return
	}
	if !responsible(pod) {
		s.Queue.Delete(pod.UID)
		return
	}
	if s.Cache.IsAssigned(pod.UID) {
		// Our binding is on its way; this is an older state of the pod.
		return
	}
	s.Queue.Update(pod)
}

func (s *Scheduler) podDeleted(pod *corev1.Pod) {
	s.Cache.Unnominate(pod.UID)
	if s.Cache.IsAssigned(pod.UID) {
		s.Cache.RemovePod(pod.UID)
		s.Queue.MoveAll()
	}
	s.Queue.Delete(pod.UID)
}

// nodeChangeMatters reports whether a node update can let a waiting pod fit
// (heartbeats and image lists do not).
func nodeChangeMatters(o, n *corev1.Node) bool {
	return o.Spec.Unschedulable != n.Spec.Unschedulable ||
		!equality.Semantic.DeepEqual(o.Spec.Taints, n.Spec.Taints) ||
		!labels.Equals(o.Labels, n.Labels) ||
		!equality.Semantic.DeepEqual(o.Status.Allocatable, n.Status.Allocatable) ||
		readyStatus(o) != readyStatus(n)
}
