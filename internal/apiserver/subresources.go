package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"tug/internal/registry"
	"tug/internal/storage"
)

func (s *Server) serveSubresource(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	if info.Name == "" || !hasSubresource(res, info.Subresource) {
		writeError(w, r, notFoundPath())
		return
	}
	sub := info.Subresource
	if res.Subresources[sub] != nil {
		sub = "status" // served like status, with the subresource's own rules
	}
	switch sub {
	case "status":
		switch info.Verb {
		case "get":
			s.serveGet(w, r, info, res)
		case "update":
			s.serveUpdate(w, r, info, res, info.Subresource)
		case "patch":
			s.servePatch(w, r, info, res, info.Subresource)
		default:
			writeError(w, r, methodNotAllowed())
		}
	case "scale":
		s.serveScale(w, r, info, res)
	case "binding":
		s.serveBinding(w, r, info, res)
	case "eviction":
		s.serveEviction(w, r, info, res)
	case "finalize":
		s.serveFinalize(w, r, info, res)
	case "log", "exec", "attach", "portforward", "proxy":
		s.serveConnect(w, r, info, res)
	default:
		writeError(w, r, notFoundPath())
	}
}

// scaleOf builds the Scale view of an object.
func scaleOf(res *registry.Resource, obj runtime.Object) (*autoscalingv1.Scale, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	spec, status, sel := res.Scale.Get(obj)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp()},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: sel},
	}, nil
}

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

func (s *Server) serveScale(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	writeScale := func(code int, obj runtime.Object) {
		sc, err := scaleOf(res, obj)
		if err != nil {
			writeError(w, r, err)
			return
		}
		out, _ := negotiate(r)
		b, err := encode(out.media, sc)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeRaw(w, code, out.contentType(), b)
	}
	switch info.Verb {
	case "get":
		o, err := s.stores[res].Get(r.Context(), info.Namespace, info.Name, r.URL.Query().Get("resourceVersion"))
		if err != nil {
			writeError(w, r, s.named(res, err, info.Name))
			return
		}
		sv, err := toServed(res, o.Obj)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeScale(http.StatusOK, sv)
	case "update", "patch":
		op, err := s.op(r, info, res, "")
		if err != nil {
			writeError(w, r, err)
			return
		}
		var change func(cur runtime.Object) (*autoscalingv1.Scale, error)
		if info.Verb == "update" {
			obj, err := s.decodeBody(w, r, scaleGVK, &autoscalingv1.Scale{})
			if err != nil {
				writeError(w, r, err)
				return
			}
			want := obj.(*autoscalingv1.Scale)
			change = func(cur runtime.Object) (*autoscalingv1.Scale, error) { return want.DeepCopy(), nil }
		} else {
			body, err := readBody(r, s.cfg.MaxBodyBytes)
			if err != nil {
				writeError(w, r, err)
				return
			}
			pt := types.PatchType(bodyMedia(r))
			if pt != types.JSONPatchType && pt != types.MergePatchType && pt != types.StrategicMergePatchType {
				writeError(w, r, unsupportedMedia(string(pt)))
				return
			}
			change = func(cur runtime.Object) (*autoscalingv1.Scale, error) {
				sc, err := scaleOf(res, cur)
				if err != nil {
					return nil, err
				}
				orig, err := encode(mediaJSON, sc)
				if err != nil {
					return nil, err
				}
				patched, err := applyPatch(pt, orig, body, &autoscalingv1.Scale{})
				if err != nil {
					return nil, err
				}
				obj, err := decodeAs(w, mediaJSON, patched, scaleGVK, &autoscalingv1.Scale{}, validationIgnore)
				if err != nil {
					return nil, err
				}
				return obj.(*autoscalingv1.Scale), nil
			}
		}
		out, _, err := s.update(r.Context(), op, false, func(cur runtime.Object) (runtime.Object, error) {
			if cur == nil {
				return nil, apierrors.NewNotFound(res.GroupResource(), info.Name)
			}
			sc, err := change(cur)
			if err != nil {
				return nil, err
			}
			m, _ := meta.Accessor(cur)
			if sc.ResourceVersion != "" && sc.ResourceVersion != m.GetResourceVersion() {
				return nil, apierrors.NewConflict(res.GroupResource(), info.Name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
			}
			if sc.Name != "" && sc.Name != info.Name {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", sc.Name, info.Name))
			}
			if sc.Spec.Replicas < 0 {
				return nil, apierrors.NewInvalid(schema.GroupKind{Group: "autoscaling", Kind: "Scale"}, info.Name, fieldErrs("spec.replicas", sc.Spec.Replicas, "must be greater than or equal to 0"))
			}
			res.Scale.Set(cur, sc.Spec.Replicas)
			m.SetResourceVersion("")
			return cur, nil
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		sv, err := toServed(res, out)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeScale(http.StatusOK, sv)
	default:
		writeError(w, r, methodNotAllowed())
	}
}

func (s *Server) serveBinding(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	if info.Verb != "create" {
		writeError(w, r, methodNotAllowed())
		return
	}
	obj, err := s.decodeBody(w, r, corev1.SchemeGroupVersion.WithKind("Binding"), &corev1.Binding{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	b := obj.(*corev1.Binding)
	if b.Name != "" && b.Name != info.Name {
		writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the name of the binding (%s) does not match the pod (%s)", b.Name, info.Name)))
		return
	}
	if b.Target.Name == "" {
		writeError(w, r, apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, info.Name, fieldErrs("target.name", "", "a node name is required")))
		return
	}
	op, err := s.op(r, info, res, "binding")
	if err != nil {
		writeError(w, r, err)
		return
	}
	_, err = s.bindPod(r.Context(), op, b)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeStatus(w, r, http.StatusCreated, &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

// bindPod assigns a pending pod to a node.
func (s *Server) bindPod(ctx context.Context, op *writeOp, b *corev1.Binding) (*storage.Object, error) {
	store := s.stores[op.served]
	if op.dryRun {
		return nil, nil
	}
	o, _, err := store.Update(ctx, op.namespace, op.name, false, func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		if b.UID != "" && b.UID != pod.UID {
			return nil, apierrors.NewConflict(op.served.GroupResource(), op.name, fmt.Errorf("the pod's UID does not match the binding's"))
		}
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(op.served.GroupResource(), op.name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", op.name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(op.served.GroupResource(), op.name, fmt.Errorf("pod %s is already assigned to node %q", op.name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = b.Target.Name
		for k, v := range b.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setPodCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now()})
		pod.ResourceVersion = ""
		return pod, nil
	})
	if err != nil {
		return nil, s.named(op.served, err, op.name)
	}
	return o, nil
}

func setPodCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			if pod.Status.Conditions[i].Status == c.Status {
				c.LastTransitionTime = pod.Status.Conditions[i].LastTransitionTime
			}
			pod.Status.Conditions[i] = c
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}

func (s *Server) serveEviction(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	if info.Verb != "create" {
		writeError(w, r, methodNotAllowed())
		return
	}
	obj, err := s.decodeBody(w, r, policyv1.SchemeGroupVersion.WithKind("Eviction"), &policyv1.Eviction{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	ev := obj.(*policyv1.Eviction)
	if ev.Name != "" && ev.Name != info.Name {
		writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("name in URL does not match name in Eviction object")))
		return
	}
	op, err := s.op(r, info, res, "eviction")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.evict(r.Context(), op, ev); err != nil {
		writeError(w, r, err)
		return
	}
	writeStatus(w, r, http.StatusCreated, &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

// evict deletes a pod if no PodDisruptionBudget forbids it, spending one allowed
// disruption of the budget that covers it.
func (s *Server) evict(ctx context.Context, op *writeOp, ev *policyv1.Eviction) error {
	podStore := s.stores[op.served]
	o, err := podStore.Get(ctx, op.namespace, op.name, "")
	if err != nil {
		return s.named(op.served, err, op.name)
	}
	pod := o.Obj.(*corev1.Pod)
	opts := ev.DeleteOptions
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	if opts.Preconditions == nil {
		opts.Preconditions = &metav1.Preconditions{UID: &pod.UID}
	}
	if len(opts.DryRun) > 0 {
		op.dryRun = true
	}
	del := func() error {
		_, err := s.deleteObject(ctx, op, podStore, opts)
		return s.named(op.served, err, op.name)
	}
	// Pods that are not running cannot be disrupted further.
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodPending {
		return del()
	}
	pdbRes := s.cfg.Registry.Lookup(policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets"))
	if pdbRes == nil {
		return del()
	}
	pdbStore := s.stores[pdbRes]
	lr, err := pdbStore.List(ctx, storage.ListOptions{Namespace: op.namespace})
	if err != nil {
		return err
	}
	var match []*policyv1.PodDisruptionBudget
	for _, it := range lr.Items {
		pdb := it.Obj.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		match = append(match, pdb)
	}
	if len(match) > 1 {
		return apierrors.NewInternalError(fmt.Errorf("this pod has more than one PodDisruptionBudget, which the eviction subresource does not support"))
	}
	if len(match) == 1 {
		pdb := match[0]
		tooMany := func(msg string) error {
			e := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
			e.ErrStatus.Details.Causes = append(e.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause, Message: msg})
			return e
		}
		if op.dryRun {
			if pdb.Status.DisruptionsAllowed <= 0 {
				return tooMany(fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy))
			}
			return del()
		}
		_, _, err := pdbStore.Update(ctx, op.namespace, pdb.Name, false, func(cur runtime.Object) (runtime.Object, error) {
			p := cur.(*policyv1.PodDisruptionBudget)
			if p.Status.ObservedGeneration < p.Generation {
				return nil, tooMany(fmt.Sprintf("The disruption budget %s is still being processed by the server.", p.Name))
			}
			if p.Status.DisruptionsAllowed <= 0 {
				return nil, tooMany(fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", p.Name, p.Status.DesiredHealthy, p.Status.CurrentHealthy))
			}
			p.Status.DisruptionsAllowed--
			if p.Status.DisruptedPods == nil {
				p.Status.DisruptedPods = map[string]metav1.Time{}
			}
			p.Status.DisruptedPods[pod.Name] = metav1.NewTime(time.Now())
			p.ResourceVersion = ""
			return p, nil
		})
		if err != nil {
			return err
		}
	}
	return del()
}

// serveFinalize sets a namespace's spec.finalizers (the namespace controller empties
// it once the namespace's content is gone).
func (s *Server) serveFinalize(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	if info.Verb != "update" {
		writeError(w, r, methodNotAllowed())
		return
	}
	obj, err := s.decodeBody(w, r, res.GVK(), newOf(res))
	if err != nil {
		writeError(w, r, err)
		return
	}
	want := obj.(*corev1.Namespace)
	op, err := s.op(r, info, res, "")
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Written straight to the store: an ordinary update keeps spec.finalizers as
	// they were (PrepareForUpdate), which is the point of this subresource.
	store := s.stores[res]
	o, _, err := store.Update(r.Context(), "", info.Name, false, func(cur runtime.Object) (runtime.Object, error) {
		ns := cur.DeepCopyObject().(*corev1.Namespace)
		if want.ResourceVersion != "" && want.ResourceVersion != ns.ResourceVersion {
			return nil, apierrors.NewConflict(res.GroupResource(), info.Name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
		}
		ns.Spec.Finalizers = want.Spec.Finalizers
		ns.ResourceVersion = ""
		return ns, nil
	})
	if err != nil {
		writeError(w, r, s.named(res, err, info.Name))
		return
	}
	s.finishIfDone(r.Context(), op, store, o)
	s.writeObject(w, r, http.StatusOK, res, o.Obj)
}

// serveConnect hands logs, exec, attach, port-forward and proxy to the node agent.
func (s *Server) serveConnect(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	name := info.Name
	if info.Subresource == "proxy" {
		name = proxiedName(name)
	}
	o, err := s.stores[res].Get(r.Context(), info.Namespace, name, "")
	if err != nil {
		writeError(w, r, s.named(res, err, name))
		return
	}
	if pod, ok := o.Obj.(*corev1.Pod); ok && pod.Spec.NodeName == "" {
		writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name)))
		return
	}
	if s.cfg.Connector == nil {
		writeError(w, r, apierrors.NewServiceUnavailable("no node agent is connected to serve this request"))
		return
	}
	s.cfg.Connector.Connect(w, r, ConnectTarget{Resource: info.Resource, Subresource: info.Subresource, Namespace: info.Namespace, Name: info.Name, Object: o.Obj})
}

// proxiedName is the object a proxy request names as [scheme:]name[:port].
func proxiedName(n string) string {
	if _, name, _, ok := utilnet.SplitSchemeNamePort(n); ok {
		return name
	}
	return n
}

func fieldErrs(path string, value interface{}, msg string) field.ErrorList {
	return field.ErrorList{field.Invalid(field.NewPath(path), value, msg)}
}
