package registry

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Ephemeral containers (kubectl debug) are added to a running pod through the
// pods/ephemeralcontainers subresource. A write there starts from the stored pod
// and takes only spec.ephemeralContainers from the request (a patch is applied
// to the whole pod first), so metadata, the rest of the spec and the status
// cannot change this way. Containers may only be appended: once a pod has an
// ephemeral container, its definition is fixed for the pod's life.

// ephemeralContainersRules are the write rules of pods/ephemeralcontainers.
var ephemeralContainersRules = &SubresourceRules{
	Take: func(obj, req runtime.Object) {
		obj.(*corev1.Pod).Spec.EphemeralContainers = req.(*corev1.Pod).Spec.EphemeralContainers
	},
	Prepare: func(_ context.Context, obj, _ runtime.Object) {
		defaultPodSpec(&obj.(*corev1.Pod).Spec)
	},
	Validate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
		return validateEphemeralContainersUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
	},
}

// validateEphemeralContainersUpdate checks a pod whose ephemeral containers were
// written: the whole spec must still be valid, and the ephemeral containers the
// pod had must all still be there, unchanged.
func validateEphemeralContainersUpdate(n, o *corev1.Pod) field.ErrorList {
	sp := field.NewPath("spec")
	errs := validatePodSpec(&n.Spec, &n.ObjectMeta, sp)
	errs = append(errs, checkEphemeralTargets(&n.Spec, sp)...)
	ep := sp.Child("ephemeralContainers")
	byName := map[string]int{}
	for i, ec := range n.Spec.EphemeralContainers {
		byName[ec.Name] = i
	}
	for _, oc := range o.Spec.EphemeralContainers {
		i, ok := byName[oc.Name]
		if !ok {
			errs = append(errs, field.Forbidden(ep, fmt.Sprintf("existing ephemeral containers %q may not be removed", oc.Name)))
			continue
		}
		if !equality.Semantic.DeepEqual(oc, n.Spec.EphemeralContainers[i]) {
			errs = append(errs, field.Forbidden(ep.Index(i), fmt.Sprintf("existing ephemeral containers %q may not be changed", oc.Name)))
		}
	}
	return errs
}

// checkEphemeralTargets checks that each ephemeral container's
// targetContainerName, if set, names one of the pod's containers or init
// containers (whose process namespace it joins).
func checkEphemeralTargets(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	if len(spec.EphemeralContainers) == 0 {
		return nil
	}
	names := sets.New[string]()
	for _, c := range spec.InitContainers {
		names.Insert(c.Name)
	}
	for _, c := range spec.Containers {
		names.Insert(c.Name)
	}
	var errs field.ErrorList
	for i, ec := range spec.EphemeralContainers {
		if t := ec.TargetContainerName; t != "" && !names.Has(t) {
			errs = append(errs, field.NotFound(p.Child("ephemeralContainers").Index(i).Child("targetContainerName"), t))
		}
	}
	return errs
}

// ephemeralOnly is the message for a field an ephemeral container may not set:
// it gets no ports, probes, hooks or resources of its own and is never restarted.
const ephemeralOnly = "cannot be set for an Ephemeral Container"

// checkEphemeralContainer validates one ephemeral container (as a Container):
// the fields it may not set, then everything else as for any container.
func checkEphemeralContainer(c *corev1.Container, spec *corev1.PodSpec, vols map[string]*corev1.Volume, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	forbid := func(name string, set bool) {
		if set {
			errs = append(errs, field.Forbidden(p.Child(name), ephemeralOnly))
		}
	}
	r := c.Resources
	forbid("ports", len(c.Ports) > 0)
	forbid("livenessProbe", c.LivenessProbe != nil)
	forbid("readinessProbe", c.ReadinessProbe != nil)
	forbid("startupProbe", c.StartupProbe != nil)
	forbid("lifecycle", c.Lifecycle != nil)
	forbid("resources", len(r.Limits) > 0 || len(r.Requests) > 0 || len(r.Claims) > 0)
	forbid("resizePolicy", len(c.ResizePolicy) > 0)
	forbid("restartPolicy", c.RestartPolicy != nil)
	for i, m := range c.VolumeMounts {
		mp := p.Child("volumeMounts").Index(i)
		if m.SubPath != "" {
			errs = append(errs, field.Forbidden(mp.Child("subPath"), ephemeralOnly))
		}
		if m.SubPathExpr != "" {
			errs = append(errs, field.Forbidden(mp.Child("subPathExpr"), ephemeralOnly))
		}
	}
	rest := c.DeepCopy()
	rest.Ports, rest.LivenessProbe, rest.ReadinessProbe, rest.StartupProbe, rest.Lifecycle = nil, nil, nil, nil, nil
	rest.Resources, rest.ResizePolicy, rest.RestartPolicy = corev1.ResourceRequirements{}, nil, nil
	return append(errs, checkContainer(rest, regularContainer, spec, vols, p)...)
}
