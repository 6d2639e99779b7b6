package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Resources is an amount of the resources the scheduler counts. Scalar holds
// extended resources (e.g. example.com/gpu) and is nil when there are none, so
// that the common case allocates nothing.
type Resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	Scalar           map[corev1.ResourceName]int64
}

// Defaults the scoring functions assume for a container that requests nothing, so
// that pods without requests still spread instead of piling onto one node.
const (
	defaultMilliCPU = 100
	defaultMemory   = 200 << 20
)

func (r *Resources) add(o *Resources) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] += v
	}
}

func (r *Resources) sub(o *Resources) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	for k, v := range o.Scalar {
		if r.Scalar != nil {
			r.Scalar[k] -= v
		}
	}
}

// maxOf raises each amount of r to at least the amount in o.
func (r *Resources) maxOf(o *Resources) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] = max(r.Scalar[k], v)
	}
}

func (r Resources) clone() Resources {
	c := r
	if r.Scalar != nil {
		c.Scalar = make(map[corev1.ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			c.Scalar[k] = v
		}
	}
	return c
}

// isScalar reports whether a resource name is counted as an extended resource.
func isScalar(name corev1.ResourceName) bool {
	switch name {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourcePods, corev1.ResourceStorage:
		return false
	}
	// hugepages-*, example.com/foo, attachable-volumes-* and the like.
	return true
}

// resourcesFrom reads a ResourceList. With nonZero, missing cpu and memory count
// as the scoring defaults.
func resourcesFrom(l corev1.ResourceList, nonZero bool) Resources {
	var r Resources
	for name, q := range l {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU = q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory = q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage = q.Value()
		default:
			if isScalar(name) {
				if r.Scalar == nil {
					r.Scalar = map[corev1.ResourceName]int64{}
				}
				r.Scalar[name] = q.Value()
			}
		}
	}
	if nonZero {
		if _, ok := l[corev1.ResourceCPU]; !ok {
			r.MilliCPU = defaultMilliCPU
		}
		if _, ok := l[corev1.ResourceMemory]; !ok {
			r.Memory = defaultMemory
		}
	}
	return r
}

// containerRequests is what a container asks for: its requests, or its limits
// for resources it sets only a limit on.
func containerRequests(c *corev1.Container) corev1.ResourceList {
	if len(c.Resources.Limits) == 0 {
		return c.Resources.Requests
	}
	out := corev1.ResourceList{}
	for k, v := range c.Resources.Limits {
		out[k] = v
	}
	for k, v := range c.Resources.Requests {
		out[k] = v
	}
	return out
}

// podRequests computes what a pod occupies on a node while it exists: the app
// containers together with the sidecars (init containers that keep running),
// or the largest step of initialisation if that is bigger, plus the pod overhead.
func podRequests(pod *corev1.Pod, nonZero bool) Resources {
	var apps Resources
	for i := range pod.Spec.Containers {
		r := resourcesFrom(containerRequests(&pod.Spec.Containers[i]), nonZero)
		apps.add(&r)
	}
	var sidecars, initPeak Resources
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := resourcesFrom(containerRequests(c), nonZero)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.add(&r)
			initPeak.maxOf(&sidecars)
			continue
		}
		step := sidecars.clone()
		step.add(&r)
		initPeak.maxOf(&step)
	}
	apps.add(&sidecars)
	apps.maxOf(&initPeak)
	if pod.Spec.Overhead != nil {
		o := resourcesFrom(pod.Spec.Overhead, false)
		apps.add(&o)
	}
	return apps
}

// HostPort is a port a pod takes on its node's addresses.
type HostPort struct {
	IP       string
	Protocol corev1.Protocol
	Port     int32
}

func (a HostPort) conflicts(b HostPort) bool {
	if a.Port != b.Port || a.Protocol != b.Protocol {
		return false
	}
	return a.IP == b.IP || a.IP == "0.0.0.0" || b.IP == "0.0.0.0"
}

func podHostPorts(pod *corev1.Pod) []HostPort {
	var out []HostPort
	for i := range pod.Spec.Containers {
		for _, p := range pod.Spec.Containers[i].Ports {
			if p.HostPort <= 0 {
				continue
			}
			hp := HostPort{IP: p.HostIP, Protocol: p.Protocol, Port: p.HostPort}
			if hp.IP == "" {
				hp.IP = "0.0.0.0"
			}
			if hp.Protocol == "" {
				hp.Protocol = corev1.ProtocolTCP
			}
			out = append(out, hp)
		}
	}
	return out
}

// affinityTerm is a parsed pod (anti-)affinity term.
type affinityTerm struct {
	namespaces  sets.Set[string]
	nsSelector  labels.Selector // nil: only the listed namespaces
	selector    labels.Selector
	topologyKey string
	weight      int32 // preferred terms only
}

// matchesNamespace reports whether a pod in ns is in the term's scope.
func (t *affinityTerm) matchesNamespace(ns string, nsLabels func(string) labels.Set) bool {
	if t.namespaces.Has(ns) {
		return true
	}
	return t.nsSelector != nil && nsLabels != nil && t.nsSelector.Matches(nsLabels(ns))
}

// matches reports whether pod is selected by the term.
func (t *affinityTerm) matches(pod *corev1.Pod, nsLabels func(string) labels.Set) bool {
	return t.matchesNamespace(pod.Namespace, nsLabels) && t.selector.Matches(labels.Set(pod.Labels))
}

func parseTerm(pod *corev1.Pod, term *corev1.PodAffinityTerm, weight int32) (affinityTerm, error) {
	t := affinityTerm{topologyKey: term.TopologyKey, weight: weight, namespaces: sets.New(term.Namespaces...)}
	if len(term.Namespaces) == 0 && term.NamespaceSelector == nil {
		t.namespaces.Insert(pod.Namespace)
	}
	if term.NamespaceSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(term.NamespaceSelector)
		if err != nil {
			return t, err
		}
		t.nsSelector = s
	}
	sel, err := selectorWithKeys(term.LabelSelector, pod.Labels, term.MatchLabelKeys, term.MismatchLabelKeys)
	if err != nil {
		return t, err
	}
	t.selector = sel
	return t, nil
}

// selectorWithKeys builds a selector and narrows it with the incoming pod's own
// values for matchLabelKeys (equal) and mismatchLabelKeys (different). A nil
// label selector matches nothing.
func selectorWithKeys(ls *metav1.LabelSelector, own map[string]string, match, mismatch []string) (labels.Selector, error) {
	if ls == nil {
		return labels.Nothing(), nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, err
	}
	add := func(keys []string, op selection.Operator) error {
		for _, k := range keys {
			v, ok := own[k]
			if !ok {
				continue
			}
			req, err := labels.NewRequirement(k, op, []string{v})
			if err != nil {
				return err
			}
			sel = sel.Add(*req)
		}
		return nil
	}
	if err := add(match, selection.In); err != nil {
		return nil, err
	}
	if err := add(mismatch, selection.NotIn); err != nil {
		return nil, err
	}
	return sel, nil
}

// PodInfo is a pod with everything the rules need computed once.
type PodInfo struct {
	Pod      *corev1.Pod
	Requests Resources // counted against allocatable
	NonZero  Resources // used for scoring
	Ports    []HostPort
	Priority int32
	// Owner is the UID of the controller that owns the pod, if any.
	Owner types.UID

	RequiredAffinity     []affinityTerm
	RequiredAntiAffinity []affinityTerm
	PreferredAffinity    []affinityTerm
	PreferredAnti        []affinityTerm
	// ParseErr is set when a selector in the pod cannot be parsed; such a pod fits
	// nowhere.
	ParseErr error
}

// NewPodInfo computes a PodInfo.
func NewPodInfo(pod *corev1.Pod) *PodInfo {
	pi := &PodInfo{
		Pod:      pod,
		Requests: podRequests(pod, false),
		NonZero:  podRequests(pod, true),
		Ports:    podHostPorts(pod),
	}
	if pod.Spec.Priority != nil {
		pi.Priority = *pod.Spec.Priority
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		pi.Owner = ref.UID
	}
	if a := pod.Spec.Affinity; a != nil {
		parse := func(terms []corev1.PodAffinityTerm) []affinityTerm {
			var out []affinityTerm
			for i := range terms {
				t, err := parseTerm(pod, &terms[i], 0)
				if err != nil {
					pi.ParseErr = err
					continue
				}
				out = append(out, t)
			}
			return out
		}
		parseW := func(terms []corev1.WeightedPodAffinityTerm) []affinityTerm {
			var out []affinityTerm
			for i := range terms {
				t, err := parseTerm(pod, &terms[i].PodAffinityTerm, terms[i].Weight)
				if err != nil {
					pi.ParseErr = err
					continue
				}
				out = append(out, t)
			}
			return out
		}
		if pa := a.PodAffinity; pa != nil {
			pi.RequiredAffinity = parse(pa.RequiredDuringSchedulingIgnoredDuringExecution)
			pi.PreferredAffinity = parseW(pa.PreferredDuringSchedulingIgnoredDuringExecution)
		}
		if pa := a.PodAntiAffinity; pa != nil {
			pi.RequiredAntiAffinity = parse(pa.RequiredDuringSchedulingIgnoredDuringExecution)
			pi.PreferredAnti = parseW(pa.PreferredDuringSchedulingIgnoredDuringExecution)
		}
	}
	return pi
}

func (p *PodInfo) hasAffinity() bool {
	return len(p.RequiredAffinity)+len(p.RequiredAntiAffinity)+len(p.PreferredAffinity)+len(p.PreferredAnti) > 0
}

// Key is namespace/name.
func (p *PodInfo) Key() string { return p.Pod.Namespace + "/" + p.Pod.Name }
