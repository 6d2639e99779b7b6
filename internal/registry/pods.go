package registry

import (
	"context"
	"reflect"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "pods", Kind: "Pod", Namespaced: true,
		ShortNames: []string{"po"},
		Categories: []string{"all"},
		New:        func() runtime.Object { return &corev1.Pod{} },
		NewList:    func() runtime.Object { return &corev1.PodList{} },
		Status:     true,
		// kubectl debug adds containers to a running pod here.
		Subresources: map[string]*SubresourceRules{"ephemeralcontainers": ephemeralContainersRules},
		Fields: func(obj runtime.Object) fields.Set {
			p := obj.(*corev1.Pod)
			return fields.Set{
				"spec.nodeName":            p.Spec.NodeName,
				"spec.restartPolicy":       string(p.Spec.RestartPolicy),
				"spec.schedulerName":       p.Spec.SchedulerName,
				"spec.serviceAccountName":  p.Spec.ServiceAccountName,
				"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
				"status.phase":             string(p.Status.Phase),
				"status.podIP":             p.Status.PodIP,
				"status.nominatedNodeName": p.Status.NominatedNodeName,
			}
		},
		GracefulDelete: podGracePeriod,
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultPod(obj.(*corev1.Pod)) },
			PrepareForCreate: func(_ context.Context, obj runtime.Object) {
				// priority and preemptionPolicy come from the priority admission.
				p := obj.(*corev1.Pod)
				p.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: PodQOS(&p.Spec)}
				if len(p.Spec.SchedulingGates) > 0 {
					// The scheduler leaves gated pods alone; the condition tells
					// users why the pod waits (STATUS SchedulingGated).
					p.Status.Conditions = []corev1.PodCondition{{
						Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated,
						Message: "Scheduling is blocked due to non-empty scheduling gates", LastTransitionTime: metav1.Now(),
					}}
				}
			},
			PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
				n, o := obj.(*corev1.Pod), old.(*corev1.Pod)
				// Admission filled these in on create; a client that sends
				// the pod back without them changes nothing.
				if n.Spec.Priority == nil {
					n.Spec.Priority = o.Spec.Priority
				}
				if n.Spec.PreemptionPolicy == nil {
					n.Spec.PreemptionPolicy = o.Spec.PreemptionPolicy
				}
			},
			PrepareForStatusUpdate: func(_ context.Context, obj, old runtime.Object) {
				n, o := obj.(*corev1.Pod), old.(*corev1.Pod)
				if n.Status.QOSClass == "" {
					n.Status.QOSClass = o.Status.QOSClass
				}
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				p := obj.(*corev1.Pod)
				sp := field.NewPath("spec")
				return append(validatePodSpec(&p.Spec, &p.ObjectMeta, sp), checkEphemeralTargets(&p.Spec, sp)...)
			},
			ValidateCreate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				// Debug containers join running pods through their subresource.
				if p := obj.(*corev1.Pod); len(p.Spec.EphemeralContainers) > 0 {
					return field.ErrorList{field.Forbidden(field.NewPath("spec", "ephemeralContainers"), "cannot be set on create")}
				}
				return nil
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				return validatePodUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				return validatePodStatus(obj.(*corev1.Pod), old.(*corev1.Pod))
			},
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the pod, unique in its namespace."},
			{Name: "Ready", Type: "string", Description: "Ready containers out of all containers (restartable init containers count)."},
			{Name: "Status", Type: "string", Description: "What the pod is doing: its phase, or the reason a container is waiting or ended."},
			{Name: "Restarts", Type: "string", Description: "Container restarts, and how long ago the last one was."},
			{Name: "Age", Type: "string", Description: "Time since the pod was created."},
			{Name: "IP", Type: "string", Priority: 1, Description: "The pod's IP address."},
			{Name: "Node", Type: "string", Priority: 1, Description: "The node the pod is bound to."},
			{Name: "Nominated Node", Type: "string", Priority: 1, Description: "The node the scheduler made room on by preemption."},
			{Name: "Readiness Gates", Type: "string", Priority: 1, Description: "Readiness gates that are true out of all of them."},
		},
		Row: func(obj runtime.Object) []interface{} { return podRow(obj.(*corev1.Pod)) },
	})
}

// defaultPod applies the pod spec defaults and those only pods (not templates) get.
func defaultPod(p *corev1.Pod) {
	defaultPodSpec(&p.Spec)
	if p.Spec.EnableServiceLinks == nil {
		t := true
		p.Spec.EnableServiceLinks = &t
	}
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range cs {
			c := &cs[i]
			// A limit without a request means the request is the limit.
			for n, q := range c.Resources.Limits {
				if _, ok := c.Resources.Requests[n]; !ok {
					if c.Resources.Requests == nil {
						c.Resources.Requests = corev1.ResourceList{}
					}
					c.Resources.Requests[n] = q.DeepCopy()
				}
			}
			if p.Spec.HostNetwork {
				for j := range c.Ports {
					if c.Ports[j].HostPort == 0 {
						c.Ports[j].HostPort = c.Ports[j].ContainerPort
					}
				}
			}
		}
	}
	// podIP and podIPs (hostIP and hostIPs) say the same thing; fill each from the other.
	st := &p.Status
	if len(st.PodIPs) == 0 && st.PodIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	} else if st.PodIP == "" && len(st.PodIPs) > 0 {
		st.PodIP = st.PodIPs[0].IP
	}
	if len(st.HostIPs) == 0 && st.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	} else if st.HostIP == "" && len(st.HostIPs) > 0 {
		st.HostIP = st.HostIPs[0].IP
	}
}

// podGracePeriod: a pod on no node, or finished, goes at once; otherwise the node
// agent gets the requested time, else the pod's own, to stop the containers.
func podGracePeriod(obj runtime.Object, requested *int64) int64 {
	p := obj.(*corev1.Pod)
	if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return 0
	}
	var g int64 = defaultTerminationGrace
	switch {
	case requested != nil:
		g = *requested
	case p.Spec.TerminationGracePeriodSeconds != nil:
		g = *p.Spec.TerminationGracePeriodSeconds
	}
	if g < 0 {
		g = 1
	}
	return g
}

// PodQOS classifies a pod by its containers' cpu and memory requests and limits.
func PodQOS(spec *corev1.PodSpec) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	add := func(l corev1.ResourceList, n corev1.ResourceName, q resource.Quantity) {
		if cur, ok := l[n]; ok {
			cur.Add(q)
			l[n] = cur
		} else {
			l[n] = q.DeepCopy()
		}
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			bounded := 0
			for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if q, ok := c.Resources.Requests[n]; ok && !q.IsZero() {
					add(requests, n, q)
				}
				if q, ok := c.Resources.Limits[n]; ok && !q.IsZero() {
					add(limits, n, q)
					bounded++
				}
			}
			if bounded < 2 {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for n, r := range requests {
			if l, ok := limits[n]; !ok || l.Cmp(r) != 0 {
				guaranteed = false
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// podUpdateForbidden names what a pod update may change.
const podUpdateForbidden = "pod updates may not change fields other than `spec.containers[*].image`, " +
	"`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), " +
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

// validatePodUpdate enforces that a pod's spec is fixed once created, but for images,
// a shorter deadline, more tolerations and the grace period.
func validatePodUpdate(n, o *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	if len(n.Spec.Containers) != len(o.Spec.Containers) || len(n.Spec.InitContainers) != len(o.Spec.InitContainers) {
		return field.ErrorList{field.Forbidden(sp.Child("containers"), "pod updates may not add or remove containers")}
	}
	if o.Spec.ActiveDeadlineSeconds != nil {
		ap := sp.Child("activeDeadlineSeconds")
		switch {
		case n.Spec.ActiveDeadlineSeconds == nil:
			errs = append(errs, field.Invalid(ap, n.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
		case *n.Spec.ActiveDeadlineSeconds > *o.Spec.ActiveDeadlineSeconds:
			errs = append(errs, field.Invalid(ap, *n.Spec.ActiveDeadlineSeconds, "must be less than or equal to previous value"))
		}
	}
	errs = append(errs, checkTolerationsUpdate(n.Spec.Tolerations, o.Spec.Tolerations, sp.Child("tolerations"))...)

	// Copy what may change from the new spec onto the old one; anything else that
	// differs is forbidden.
	allowed := o.Spec.DeepCopy()
	for i := range allowed.Containers {
		allowed.Containers[i].Image = n.Spec.Containers[i].Image
	}
	for i := range allowed.InitContainers {
		allowed.InitContainers[i].Image = n.Spec.InitContainers[i].Image
	}
	allowed.ActiveDeadlineSeconds = n.Spec.ActiveDeadlineSeconds
	allowed.Tolerations = n.Spec.Tolerations
	allowed.TerminationGracePeriodSeconds = n.Spec.TerminationGracePeriodSeconds
	if len(o.Spec.SchedulingGates) > 0 {
		// While a pod waits at its scheduling gates, gates may be removed and the
		// node constraints narrowed.
		errs = append(errs, checkGatesUpdate(n.Spec.SchedulingGates, o.Spec.SchedulingGates, sp.Child("schedulingGates"))...)
		allowed.SchedulingGates = n.Spec.SchedulingGates
		allowed.NodeSelector = n.Spec.NodeSelector
		allowed.Affinity = n.Spec.Affinity
	}
	if !equality.Semantic.DeepEqual(allowed, &n.Spec) {
		errs = append(errs, field.Forbidden(sp, podUpdateForbidden+"\n"+podSpecDiff(&n.Spec, allowed)))
	}
	return errs
}

// podSpecDiff names the top-level spec fields that differ, to help the user.
func podSpecDiff(n, o *corev1.PodSpec) string {
	var changed []string
	nv, ov := reflect.ValueOf(n).Elem(), reflect.ValueOf(o).Elem()
	for i := 0; i < nv.NumField(); i++ {
		if !equality.Semantic.DeepEqual(nv.Field(i).Interface(), ov.Field(i).Interface()) {
			name, _, _ := strings.Cut(nv.Type().Field(i).Tag.Get("json"), ",")
			changed = append(changed, "spec."+name)
		}
	}
	return "changed: " + strings.Join(changed, ", ")
}

func checkTolerationsUpdate(n, o []corev1.Toleration, p *field.Path) field.ErrorList {
	for _, ot := range o {
		found := false
		for _, nt := range n {
			if sameToleration(nt, ot) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(p, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return nil
}

// sameToleration: equal, or the same NoExecute toleration with a shorter time.
func sameToleration(n, o corev1.Toleration) bool {
	if n.Key != o.Key || n.Value != o.Value || n.Effect != o.Effect || normOp(n.Operator) != normOp(o.Operator) {
		return false
	}
	switch {
	case o.TolerationSeconds == nil:
		return n.TolerationSeconds == nil
	case n.TolerationSeconds == nil:
		return false
	case n.Effect == corev1.TaintEffectNoExecute:
		return *n.TolerationSeconds <= *o.TolerationSeconds
	default:
		return *n.TolerationSeconds == *o.TolerationSeconds
	}
}

func normOp(op corev1.TolerationOperator) corev1.TolerationOperator {
	if op == "" {
		return corev1.TolerationOpEqual
	}
	return op
}

func checkGatesUpdate(n, o []corev1.PodSchedulingGate, p *field.Path) field.ErrorList {
	old := sets.New[string]()
	for _, g := range o {
		old.Insert(g.Name)
	}
	var errs field.ErrorList
	for i, g := range n {
		if !old.Has(g.Name) {
			errs = append(errs, field.Forbidden(p.Index(i), "only deletion is allowed, but found new scheduling gate '"+g.Name+"'"))
		}
	}
	return errs
}

// validatePodStatus checks a status written by a node agent or controller.
func validatePodStatus(n, o *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("status")
	terminal := func(ph corev1.PodPhase) bool { return ph == corev1.PodSucceeded || ph == corev1.PodFailed }
	if terminal(o.Status.Phase) && n.Status.Phase != o.Status.Phase {
		errs = append(errs, field.Forbidden(sp.Child("phase"), "cannot transition from a terminal phase \""+string(o.Status.Phase)+"\" to another phase"))
	}
	errs = append(errs, checkOptionalEnum(sp.Child("phase"), n.Status.Phase,
		corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown)...)
	if n.Status.NominatedNodeName != "" {
		errs = append(errs, checkDNSSubdomain(sp.Child("nominatedNodeName"), n.Status.NominatedNodeName)...)
	}
	seen := sets.New[string]()
	for i, ip := range n.Status.PodIPs {
		ipp := sp.Child("podIPs").Index(i)
		errs = append(errs, checkIP(ipp, ip.IP)...)
		if seen.Has(ip.IP) {
			errs = append(errs, field.Duplicate(ipp, ip.IP))
		}
		seen.Insert(ip.IP)
	}
	if len(n.Status.PodIPs) > 0 && n.Status.PodIP != n.Status.PodIPs[0].IP {
		errs = append(errs, field.Invalid(sp.Child("podIP"), n.Status.PodIP, "must match the first entry of status.podIPs"))
	}
	for i, ip := range n.Status.HostIPs {
		errs = append(errs, checkIP(sp.Child("hostIPs").Index(i), ip.IP)...)
	}
	return errs
}
