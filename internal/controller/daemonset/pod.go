package daemonset

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"tug/internal/controller/history"
	"tug/internal/controller/podutil"
	"tug/internal/scheduler"
)

// templateGenerationAnnotation is the older way of telling template versions apart;
// when a DaemonSet carries it, its pods get the matching label.
const (
	templateGenerationAnnotation = "deprecated.daemonset.template.generation"
	templateGenerationLabel      = "pod-template-generation"
)

// daemonTolerations are added to every daemon pod: a node's daemons keep running
// (and get placed) while the node is unreachable, not ready, short of resources
// or cordoned — they are often what makes the node work again.
var daemonTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

// hostNetworkToleration is added for pods on the host network, which do not need
// the pod network to be up.
var hostNetworkToleration = corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}

// addTolerations adds the daemon tolerations the spec does not already have.
func addTolerations(spec *corev1.PodSpec) {
	want := daemonTolerations
	if spec.HostNetwork {
		want = append(append([]corev1.Toleration(nil), want...), hostNetworkToleration)
	}
	for _, w := range want {
		have := false
		for _, t := range spec.Tolerations {
			if t.Key == w.Key && t.Effect == w.Effect && t.Operator == w.Operator && t.Value == w.Value {
				have = true
				break
			}
		}
		if !have {
			spec.Tolerations = append(spec.Tolerations, w)
		}
	}
}

// podTemplate is the template with the daemon tolerations, as pods get it.
func podTemplate(ds *appsv1.DaemonSet) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: *ds.Spec.Template.ObjectMeta.DeepCopy(), Spec: *ds.Spec.Template.Spec.DeepCopy()}
	pod.Namespace = ds.Namespace
	addTolerations(&pod.Spec)
	return pod
}

// eligibility says whether a daemon pod should be placed on node (shouldRun) and
// whether one already there may stay (shouldContinue): a NoSchedule taint the pod
// does not tolerate keeps new pods off but leaves running ones alone; NoExecute
// evicts them too.
func eligibility(tmpl *corev1.Pod, node *corev1.Node) (shouldRun, shouldContinue bool) {
	if tmpl.Spec.NodeName != "" && tmpl.Spec.NodeName != node.Name {
		return false, false
	}
	if ok, err := scheduler.NodeMatches(tmpl, node); err != nil || !ok {
		return false, false
	}
	noSchedule := false
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		tolerated := false
		for j := range tmpl.Spec.Tolerations {
			if tmpl.Spec.Tolerations[j].ToleratesTaint(t) {
				tolerated = true
				break
			}
		}
		if tolerated {
			continue
		}
		if t.Effect == corev1.TaintEffectNoExecute {
			return false, false
		}
		noSchedule = true
	}
	if noSchedule {
		return false, true
	}
	return true, true
}

// newPod is the daemon pod for node: the template with the daemon tolerations,
// the revision labels, and a required node affinity on the node's name that the
// scheduler honours (other required node terms were already checked here).
func newPod(ds *appsv1.DaemonSet, hash, node string) *corev1.Pod {
	pod := podutil.FromTemplate(&ds.Spec.Template, ds.Namespace, ds.Name, podutil.NewControllerRef(ds, kind))
	addTolerations(&pod.Spec)
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[history.HashLabel] = hash
	if g, ok := ds.Annotations[templateGenerationAnnotation]; ok {
		if _, err := strconv.ParseInt(g, 10, 64); err == nil {
			pod.Labels[templateGenerationLabel] = g
		}
	}
	if pod.Spec.Affinity == nil {
		pod.Spec.Affinity = &corev1.Affinity{}
	}
	if pod.Spec.Affinity.NodeAffinity == nil {
		pod.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
		}},
	}
	return pod
}

// targetNode is the node a daemon pod is on, or is meant for while unscheduled.
func targetNode(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 {
		return ""
	}
	for _, f := range terms[0].MatchFields {
		if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
			return f.Values[0]
		}
	}
	return ""
}
