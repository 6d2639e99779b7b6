package registry

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DefaultPodSpec applies the defaults Kubernetes gives a pod spec (used by pods and
// by every pod template: deployments, jobs, ...).
func DefaultPodSpec(spec *corev1.PodSpec) {
	defaultPodSpec(spec)
}

// DefaultPodTemplate defaults a pod template.
func DefaultPodTemplate(t *corev1.PodTemplateSpec) {
	if t == nil {
		return
	}
	DefaultPodSpec(&t.Spec)
}

// ValidatePodSpec validates a pod spec; meta is the pod's (or template's) metadata.
func ValidatePodSpec(spec *corev1.PodSpec, meta *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	return validatePodSpec(spec, meta, fldPath)
}

// ValidatePodTemplate validates a pod template: its labels and annotations, and its spec.
func ValidatePodTemplate(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	return validatePodTemplate(t, fldPath)
}

// Defaults every pod spec gets, whether it belongs to a pod or to a template.
const (
	defaultTerminationGrace   int64 = 30
	defaultSchedulerName            = corev1.DefaultSchedulerName
	defaultTerminationMsgPath       = corev1.TerminationMessagePathDefault
	defaultFileMode           int32 = 0o644
	defaultTokenExpiration    int64 = 3600
	probeDefaultTimeout       int32 = 1
	probeDefaultPeriod        int32 = 10
	probeDefaultSuccess       int32 = 1
	probeDefaultFailure       int32 = 3
)

func defaultPodSpec(spec *corev1.PodSpec) {
	if spec == nil {
		return
	}
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.TerminationGracePeriodSeconds == nil {
		g := defaultTerminationGrace
		spec.TerminationGracePeriodSeconds = &g
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = defaultSchedulerName
	}
	// serviceAccount is the old spelling of serviceAccountName; both read the same.
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	spec.DeprecatedServiceAccount = spec.ServiceAccountName
	for i := range spec.Volumes {
		defaultVolumeSource(&spec.Volumes[i].VolumeSource)
	}
	for i := range spec.InitContainers {
		defaultContainer(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		defaultContainer(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		c := corev1.Container(spec.EphemeralContainers[i].EphemeralContainerCommon)
		defaultContainer(&c)
		spec.EphemeralContainers[i].EphemeralContainerCommon = corev1.EphemeralContainerCommon(c)
	}
}

// imagePullPolicyFor is Always for an image without a tag or tagged latest (it may
// move), IfNotPresent otherwise (a digest or a fixed tag).
func imagePullPolicyFor(image string) corev1.PullPolicy {
	ref := image
	if i := strings.Index(ref, "@"); i >= 0 {
		// A digest pins the image, whatever the tag says.
		return corev1.PullIfNotPresent
	}
	name := ref
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		name = ref[i+1:]
	}
	tag := ""
	if i := strings.LastIndex(name, ":"); i >= 0 {
		tag = name[i+1:]
	}
	if tag == "" || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

func defaultContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = imagePullPolicyFor(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = defaultTerminationMsgPath
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil {
			defaultFieldRef(vf.FieldRef)
		}
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		defaultProbe(p)
	}
	if c.Lifecycle != nil {
		for _, h := range []*corev1.LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
			if h != nil && h.HTTPGet != nil {
				defaultHTTPGet(h.HTTPGet)
			}
		}
	}
}

func defaultFieldRef(f *corev1.ObjectFieldSelector) {
	if f.APIVersion == "" {
		f.APIVersion = "v1"
	}
}

func defaultHTTPGet(h *corev1.HTTPGetAction) {
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

func defaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = probeDefaultTimeout
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = probeDefaultPeriod
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = probeDefaultSuccess
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = probeDefaultFailure
	}
	if p.HTTPGet != nil {
		defaultHTTPGet(p.HTTPGet)
	}
	if p.GRPC != nil && p.GRPC.Service == nil {
		empty := ""
		p.GRPC.Service = &empty
	}
}

func defaultMode(m **int32) {
	if *m == nil {
		v := defaultFileMode
		*m = &v
	}
}

func defaultVolumeSource(v *corev1.VolumeSource) {
	if countSet(v) == 0 {
		v.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	switch {
	case v.Secret != nil:
		defaultMode(&v.Secret.DefaultMode)
	case v.ConfigMap != nil:
		defaultMode(&v.ConfigMap.DefaultMode)
	case v.DownwardAPI != nil:
		defaultMode(&v.DownwardAPI.DefaultMode)
		for i := range v.DownwardAPI.Items {
			if f := v.DownwardAPI.Items[i].FieldRef; f != nil {
				defaultFieldRef(f)
			}
		}
	case v.Projected != nil:
		defaultMode(&v.Projected.DefaultMode)
		for i := range v.Projected.Sources {
			s := &v.Projected.Sources[i]
			if s.DownwardAPI != nil {
				for j := range s.DownwardAPI.Items {
					if f := s.DownwardAPI.Items[j].FieldRef; f != nil {
						defaultFieldRef(f)
					}
				}
			}
			if s.ServiceAccountToken != nil && s.ServiceAccountToken.ExpirationSeconds == nil {
				e := defaultTokenExpiration
				s.ServiceAccountToken.ExpirationSeconds = &e
			}
		}
	case v.HostPath != nil:
		if v.HostPath.Type == nil {
			t := corev1.HostPathUnset
			v.HostPath.Type = &t
		}
	case v.ISCSI != nil:
		if v.ISCSI.ISCSIInterface == "" {
			v.ISCSI.ISCSIInterface = "default"
		}
	case v.RBD != nil:
		if v.RBD.RBDPool == "" {
			v.RBD.RBDPool = "rbd"
		}
		if v.RBD.RadosUser == "" {
			v.RBD.RadosUser = "admin"
		}
		if v.RBD.Keyring == "" {
			v.RBD.Keyring = "/etc/ceph/keyring"
		}
	}
}

func validatePodTemplate(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	mp := fldPath.Child("metadata")
	errs := metav1validation.ValidateLabels(t.Labels, mp.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, mp.Child("annotations"))...)
	return append(errs, validatePodSpec(&t.Spec, &t.ObjectMeta, fldPath.Child("spec"))...)
}
