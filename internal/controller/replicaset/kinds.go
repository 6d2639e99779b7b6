package replicaset

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// kind is what differs between ReplicaSets and ReplicationControllers. Objects are
// handed to the reconcile as ReplicaSets that must not be modified.
type kind interface {
	gvk() schema.GroupVersionKind
	component() string
	informer() cache.SharedIndexInformer
	get(namespace, name string) (*appsv1.ReplicaSet, error)
	list(namespace string) ([]*appsv1.ReplicaSet, error)
	// fresh reads the object from the API server.
	fresh(ctx context.Context, namespace, name string) (metav1.Object, error)
	// writeStatus stores status for the object (read from the cache first, and from
	// the API server again when fresh is true).
	writeStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus, fresh bool) error
}

var (
	rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
	rcKind = corev1.SchemeGroupVersion.WithKind("ReplicationController")
)

type replicaSets struct {
	client kubernetes.Interface
	inf    cache.SharedIndexInformer
	lister appslisters.ReplicaSetLister
}

func newReplicaSets(client kubernetes.Interface, f informers.SharedInformerFactory) *replicaSets {
	i := f.Apps().V1().ReplicaSets()
	return &replicaSets{client: client, inf: i.Informer(), lister: i.Lister()}
}

func (k *replicaSets) gvk() schema.GroupVersionKind        { return rsKind }
func (k *replicaSets) component() string                   { return "replicaset-controller" }
func (k *replicaSets) informer() cache.SharedIndexInformer { return k.inf }
func (k *replicaSets) get(ns, name string) (*appsv1.ReplicaSet, error) {
	return k.lister.ReplicaSets(ns).Get(name)
}
func (k *replicaSets) list(ns string) ([]*appsv1.ReplicaSet, error) {
	return k.lister.ReplicaSets(ns).List(labels.Everything())
}
func (k *replicaSets) fresh(ctx context.Context, ns, name string) (metav1.Object, error) {
	return k.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
}
func (k *replicaSets) writeStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus, fresh bool) error {
	cur := rs.DeepCopy()
	if fresh {
		got, err := k.client.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur = got
	}
	cur.Status = st
	_, err := k.client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}

type replicationControllers struct {
	client kubernetes.Interface
	inf    cache.SharedIndexInformer
	lister corelisters.ReplicationControllerLister
}

func newReplicationControllers(client kubernetes.Interface, f informers.SharedInformerFactory) *replicationControllers {
	i := f.Core().V1().ReplicationControllers()
	return &replicationControllers{client: client, inf: i.Informer(), lister: i.Lister()}
}

func (k *replicationControllers) gvk() schema.GroupVersionKind        { return rcKind }
func (k *replicationControllers) component() string                   { return "replication-controller" }
func (k *replicationControllers) informer() cache.SharedIndexInformer { return k.inf }
func (k *replicationControllers) get(ns, name string) (*appsv1.ReplicaSet, error) {
	rc, err := k.lister.ReplicationControllers(ns).Get(name)
	if err != nil {
		return nil, err
	}
	return rcAsReplicaSet(rc), nil
}
func (k *replicationControllers) list(ns string) ([]*appsv1.ReplicaSet, error) {
	rcs, err := k.lister.ReplicationControllers(ns).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := make([]*appsv1.ReplicaSet, 0, len(rcs))
	for _, rc := range rcs {
		out = append(out, rcAsReplicaSet(rc))
	}
	return out, nil
}
func (k *replicationControllers) fresh(ctx context.Context, ns, name string) (metav1.Object, error) {
	return k.client.CoreV1().ReplicationControllers(ns).Get(ctx, name, metav1.GetOptions{})
}
func (k *replicationControllers) writeStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus, fresh bool) error {
	var cur *corev1.ReplicationController
	var err error
	if fresh {
		cur, err = k.client.CoreV1().ReplicationControllers(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
	} else {
		cur, err = k.lister.ReplicationControllers(rs.Namespace).Get(rs.Name)
		if err == nil {
			cur = cur.DeepCopy()
		}
	}
	if err != nil {
		return err
	}
	cur.Status = rcStatus(st)
	_, err = k.client.CoreV1().ReplicationControllers(rs.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}

// rcAsReplicaSet reads a ReplicationController as a ReplicaSet. Maps and the
// template are shared with the cached object: the result must not be modified.
func rcAsReplicaSet(rc *corev1.ReplicationController) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		TypeMeta:   metav1.TypeMeta{Kind: "ReplicationController", APIVersion: "v1"},
		ObjectMeta: rc.ObjectMeta,
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        rc.Spec.Replicas,
			MinReadySeconds: rc.Spec.MinReadySeconds,
			Selector:        &metav1.LabelSelector{MatchLabels: rc.Spec.Selector},
		},
		Status: appsv1.ReplicaSetStatus{
			Replicas:             rc.Status.Replicas,
			FullyLabeledReplicas: rc.Status.FullyLabeledReplicas,
			ReadyReplicas:        rc.Status.ReadyReplicas,
			AvailableReplicas:    rc.Status.AvailableReplicas,
			ObservedGeneration:   rc.Status.ObservedGeneration,
		},
	}
	if rc.Spec.Template != nil {
		rs.Spec.Template = *rc.Spec.Template
	}
	for _, c := range rc.Status.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	return rs
}

func rcStatus(st appsv1.ReplicaSetStatus) corev1.ReplicationControllerStatus {
	out := corev1.ReplicationControllerStatus{
		Replicas:             st.Replicas,
		FullyLabeledReplicas: st.FullyLabeledReplicas,
		ReadyReplicas:        st.ReadyReplicas,
		AvailableReplicas:    st.AvailableReplicas,
		ObservedGeneration:   st.ObservedGeneration,
	}
	for _, c := range st.Conditions {
		out.Conditions = append(out.Conditions, corev1.ReplicationControllerCondition{
			Type: corev1.ReplicationControllerConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	return out
}
