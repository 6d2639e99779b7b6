package registry

import (
	"fmt"
	"math"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The validation of a pod spec, shared by pods and by every pod template.

// containerKind says which list a container comes from; the rules differ a little.
type containerKind int

const (
	regularContainer containerKind = iota
	initContainer
	ephemeralContainer
)

func validatePodSpec(spec *corev1.PodSpec, meta *metav1.ObjectMeta, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	vols, verrs := checkVolumes(spec.Volumes, p.Child("volumes"))
	errs = append(errs, verrs...)

	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	names := sets.New[string]()
	errs = append(errs, checkContainers(spec.InitContainers, initContainer, spec, vols, names, p.Child("initContainers"))...)
	errs = append(errs, checkContainers(spec.Containers, regularContainer, spec, vols, names, p.Child("containers"))...)
	ephemeral := make([]corev1.Container, len(spec.EphemeralContainers))
	for i, ec := range spec.EphemeralContainers {
		ephemeral[i] = corev1.Container(ec.EphemeralContainerCommon)
	}
	errs = append(errs, checkContainers(ephemeral, ephemeralContainer, spec, vols, names, p.Child("ephemeralContainers"))...)
	errs = append(errs, checkHostPorts(spec, p)...)

	errs = append(errs, checkEnum(p.Child("restartPolicy"), spec.RestartPolicy,
		corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)...)
	errs = append(errs, checkDNS(spec, p)...)
	errs = append(errs, metav1validation.ValidateLabels(spec.NodeSelector, p.Child("nodeSelector"))...)
	if spec.ServiceAccountName != "" {
		errs = append(errs, checkDNSSubdomain(p.Child("serviceAccountName"), spec.ServiceAccountName)...)
	}
	if spec.NodeName != "" {
		errs = append(errs, checkDNSSubdomain(p.Child("nodeName"), spec.NodeName)...)
	}
	if spec.ActiveDeadlineSeconds != nil {
		if v := *spec.ActiveDeadlineSeconds; v < 1 || v > math.MaxInt32 {
			errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), v, validation.InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	if g := spec.TerminationGracePeriodSeconds; g != nil {
		errs = append(errs, checkNonNegative(p.Child("terminationGracePeriodSeconds"), *g)...)
	}
	if spec.Hostname != "" {
		errs = append(errs, checkDNSLabel(p.Child("hostname"), spec.Hostname)...)
	}
	if spec.Subdomain != "" {
		errs = append(errs, checkDNSLabel(p.Child("subdomain"), spec.Subdomain)...)
	}
	if spec.PriorityClassName != "" {
		errs = append(errs, checkDNSSubdomain(p.Child("priorityClassName"), spec.PriorityClassName)...)
	}
	errs = append(errs, checkPodSecurityContext(spec, p.Child("securityContext"))...)
	errs = append(errs, checkTolerations(spec.Tolerations, p.Child("tolerations"))...)
	errs = append(errs, checkAffinity(spec.Affinity, p.Child("affinity"))...)
	errs = append(errs, checkSpreadConstraints(spec.TopologySpreadConstraints, p.Child("topologySpreadConstraints"))...)
	for i, g := range spec.ReadinessGates {
		errs = append(errs, checkQualifiedName(p.Child("readinessGates").Index(i).Child("conditionType"), string(g.ConditionType))...)
	}
	for i, h := range spec.HostAliases {
		hp := p.Child("hostAliases").Index(i)
		errs = append(errs, checkIP(hp.Child("ip"), h.IP)...)
		for j, n := range h.Hostnames {
			errs = append(errs, checkDNSSubdomain(hp.Child("hostnames").Index(j), n)...)
		}
	}
	if spec.OS != nil {
		errs = append(errs, checkEnum(p.Child("os", "name"), spec.OS.Name, corev1.Linux, corev1.Windows)...)
	}
	gates := sets.New[string]()
	for i, g := range spec.SchedulingGates {
		gp := p.Child("schedulingGates").Index(i).Child("name")
		errs = append(errs, checkQualifiedName(gp, g.Name)...)
		if gates.Has(g.Name) {
			errs = append(errs, field.Duplicate(gp, g.Name))
		}
		gates.Insert(g.Name)
	}
	if spec.ShareProcessNamespace != nil && *spec.ShareProcessNamespace && spec.HostPID {
		errs = append(errs, field.Invalid(p.Child("shareProcessNamespace"), true, "ShareProcessNamespace and HostPID cannot both be enabled"))
	}
	return errs
}

// Volumes.

func checkVolumes(vols []corev1.Volume, p *field.Path) (map[string]*corev1.Volume, field.ErrorList) {
	var errs field.ErrorList
	byName := map[string]*corev1.Volume{}
	for i := range vols {
		v := &vols[i]
		vp := p.Index(i)
		nerrs := checkDNSLabel(vp.Child("name"), v.Name)
		errs = append(errs, nerrs...)
		if _, dup := byName[v.Name]; dup && v.Name != "" {
			errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
		} else if len(nerrs) == 0 {
			byName[v.Name] = v
		}
		errs = append(errs, checkVolumeSource(&v.VolumeSource, vp)...)
	}
	return byName, errs
}

func checkVolumeSource(v *corev1.VolumeSource, p *field.Path) field.ErrorList {
	switch n := countSet(v); {
	case n == 0:
		return field.ErrorList{field.Required(p, "must specify a volume type")}
	case n > 1:
		return field.ErrorList{field.Forbidden(p, "may not specify more than 1 volume type")}
	}
	var errs field.ErrorList
	switch {
	case v.HostPath != nil:
		hp := p.Child("hostPath")
		if v.HostPath.Path == "" {
			errs = append(errs, field.Required(hp.Child("path"), ""))
		} else if strings.Contains("/"+v.HostPath.Path+"/", "/../") {
			errs = append(errs, field.Invalid(hp.Child("path"), v.HostPath.Path, "must not contain '..'"))
		}
		if t := v.HostPath.Type; t != nil && *t != corev1.HostPathUnset {
			errs = append(errs, checkEnum(hp.Child("type"), *t, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory,
				corev1.HostPathFileOrCreate, corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev)...)
		}
	case v.EmptyDir != nil:
		ep := p.Child("emptyDir")
		m := v.EmptyDir.Medium
		if m != corev1.StorageMediumDefault && m != corev1.StorageMediumMemory && m != corev1.StorageMediumHugePages && !strings.HasPrefix(string(m), string(corev1.StorageMediumHugePagesPrefix)) {
			errs = append(errs, field.NotSupported(ep.Child("medium"), m, []string{"", "Memory", "HugePages"}))
		}
		if v.EmptyDir.SizeLimit != nil {
			errs = append(errs, checkQuantityNonNegative(ep.Child("sizeLimit"), *v.EmptyDir.SizeLimit)...)
		}
	case v.ConfigMap != nil:
		cp := p.Child("configMap")
		if v.ConfigMap.Name == "" {
			errs = append(errs, field.Required(cp.Child("name"), ""))
		}
		errs = append(errs, checkFileMode(cp.Child("defaultMode"), v.ConfigMap.DefaultMode)...)
		errs = append(errs, checkKeyToPaths(v.ConfigMap.Items, cp.Child("items"))...)
	case v.Secret != nil:
		sp := p.Child("secret")
		if v.Secret.SecretName == "" {
			errs = append(errs, field.Required(sp.Child("secretName"), ""))
		}
		errs = append(errs, checkFileMode(sp.Child("defaultMode"), v.Secret.DefaultMode)...)
		errs = append(errs, checkKeyToPaths(v.Secret.Items, sp.Child("items"))...)
	case v.PersistentVolumeClaim != nil:
		if v.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, field.Required(p.Child("persistentVolumeClaim", "claimName"), ""))
		}
	case v.DownwardAPI != nil:
		dp := p.Child("downwardAPI")
		errs = append(errs, checkFileMode(dp.Child("defaultMode"), v.DownwardAPI.DefaultMode)...)
		errs = append(errs, checkDownwardAPIFiles(v.DownwardAPI.Items, dp.Child("items"))...)
	case v.Projected != nil:
		errs = append(errs, checkProjected(v.Projected, p.Child("projected"))...)
	case v.NFS != nil:
		np := p.Child("nfs")
		if v.NFS.Server == "" {
			errs = append(errs, field.Required(np.Child("server"), ""))
		}
		if v.NFS.Path == "" {
			errs = append(errs, field.Required(np.Child("path"), ""))
		} else if !strings.HasPrefix(v.NFS.Path, "/") {
			errs = append(errs, field.Invalid(np.Child("path"), v.NFS.Path, "must be an absolute path"))
		}
	case v.CSI != nil:
		if v.CSI.Driver == "" {
			errs = append(errs, field.Required(p.Child("csi", "driver"), ""))
		}
	case v.Ephemeral != nil:
		if v.Ephemeral.VolumeClaimTemplate == nil {
			errs = append(errs, field.Required(p.Child("ephemeral", "volumeClaimTemplate"), ""))
		}
	case v.Image != nil:
		if v.Image.Reference == "" {
			errs = append(errs, field.Required(p.Child("image", "reference"), ""))
		}
	}
	return errs
}

func checkKeyToPaths(items []corev1.KeyToPath, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		ip := p.Index(i)
		if it.Key == "" {
			errs = append(errs, field.Required(ip.Child("key"), ""))
		}
		errs = append(errs, checkItemPath(ip.Child("path"), it.Path)...)
		errs = append(errs, checkFileMode(ip.Child("mode"), it.Mode)...)
	}
	return errs
}

func checkItemPath(p *field.Path, v string) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	errs := checkRelativePath(p, v)
	if strings.HasPrefix(v, "..") && len(errs) == 0 {
		errs = append(errs, field.Invalid(p, v, "must not start with '..'"))
	}
	return errs
}

var volumeFieldPaths = []string{"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"}
var envFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
var resourceFieldNames = []string{"limits.cpu", "limits.ephemeral-storage", "limits.memory",
	"requests.cpu", "requests.ephemeral-storage", "requests.memory"}

// checkFieldRef checks a downward API field reference against the supported paths
// (labels and annotations may be subscripted: metadata.labels['app']).
func checkFieldRef(f *corev1.ObjectFieldSelector, supported []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if f.APIVersion == "" {
		errs = append(errs, field.Required(p.Child("apiVersion"), ""))
	} else if f.APIVersion != "v1" {
		errs = append(errs, field.NotSupported(p.Child("apiVersion"), f.APIVersion, []string{"v1"}))
	}
	fp := p.Child("fieldPath")
	if f.FieldPath == "" {
		return append(errs, field.Required(fp, ""))
	}
	for _, s := range supported {
		if f.FieldPath == s {
			return errs
		}
	}
	for _, prefix := range []string{"metadata.labels[", "metadata.annotations["} {
		if strings.HasPrefix(f.FieldPath, prefix) && strings.HasSuffix(f.FieldPath, "]") {
			key := strings.Trim(f.FieldPath[len(prefix):len(f.FieldPath)-1], `'"`)
			if prefix == "metadata.labels[" {
				return append(errs, checkQualifiedName(fp, key)...)
			}
			if key == "" {
				return append(errs, field.Invalid(fp, f.FieldPath, "must have a key"))
			}
			return errs
		}
	}
	return append(errs, field.NotSupported(fp, f.FieldPath, supported))
}

func checkResourceFieldRef(r *corev1.ResourceFieldSelector, p *field.Path, needContainer bool) field.ErrorList {
	var errs field.ErrorList
	if needContainer && r.ContainerName == "" {
		errs = append(errs, field.Required(p.Child("containerName"), ""))
	}
	rp := p.Child("resource")
	if r.Resource == "" {
		return append(errs, field.Required(rp, ""))
	}
	for _, s := range resourceFieldNames {
		if r.Resource == s {
			return errs
		}
	}
	if strings.HasPrefix(r.Resource, "limits.hugepages-") || strings.HasPrefix(r.Resource, "requests.hugepages-") {
		return errs
	}
	return append(errs, field.NotSupported(rp, r.Resource, resourceFieldNames))
}

func checkDownwardAPIFiles(items []corev1.DownwardAPIVolumeFile, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		ip := p.Index(i)
		errs = append(errs, checkItemPath(ip.Child("path"), it.Path)...)
		errs = append(errs, checkFileMode(ip.Child("mode"), it.Mode)...)
		switch {
		case it.FieldRef != nil && it.ResourceFieldRef != nil:
			errs = append(errs, field.Invalid(ip, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		case it.FieldRef != nil:
			errs = append(errs, checkFieldRef(it.FieldRef, volumeFieldPaths, ip.Child("fieldRef"))...)
		case it.ResourceFieldRef != nil:
			errs = append(errs, checkResourceFieldRef(it.ResourceFieldRef, ip.Child("resourceFieldRef"), true)...)
		default:
			errs = append(errs, field.Required(ip, "one of fieldRef and resourceFieldRef is required"))
		}
	}
	return errs
}

func checkProjected(v *corev1.ProjectedVolumeSource, p *field.Path) field.ErrorList {
	errs := checkFileMode(p.Child("defaultMode"), v.DefaultMode)
	paths := sets.New[string]()
	addPath := func(pp *field.Path, path string) {
		if paths.Has(path) {
			errs = append(errs, field.Invalid(pp, path, "conflicting duplicate paths"))
		}
		paths.Insert(path)
	}
	for i := range v.Sources {
		s := &v.Sources[i]
		sp := p.Child("sources").Index(i)
		switch n := countSet(s); {
		case n == 0:
			errs = append(errs, field.Required(sp, "must specify exactly 1 projected volume type"))
			continue
		case n > 1:
			errs = append(errs, field.Forbidden(sp, "may not specify more than 1 projected volume type"))
			continue
		}
		switch {
		case s.Secret != nil:
			if s.Secret.Name == "" {
				errs = append(errs, field.Required(sp.Child("secret", "name"), ""))
			}
			errs = append(errs, checkKeyToPaths(s.Secret.Items, sp.Child("secret", "items"))...)
			for j, it := range s.Secret.Items {
				addPath(sp.Child("secret", "items").Index(j).Child("path"), it.Path)
			}
		case s.ConfigMap != nil:
			if s.ConfigMap.Name == "" {
				errs = append(errs, field.Required(sp.Child("configMap", "name"), ""))
			}
			errs = append(errs, checkKeyToPaths(s.ConfigMap.Items, sp.Child("configMap", "items"))...)
			for j, it := range s.ConfigMap.Items {
				addPath(sp.Child("configMap", "items").Index(j).Child("path"), it.Path)
			}
		case s.DownwardAPI != nil:
			errs = append(errs, checkDownwardAPIFiles(s.DownwardAPI.Items, sp.Child("downwardAPI", "items"))...)
			for j, it := range s.DownwardAPI.Items {
				addPath(sp.Child("downwardAPI", "items").Index(j).Child("path"), it.Path)
			}
		case s.ServiceAccountToken != nil:
			tp := sp.Child("serviceAccountToken")
			if e := s.ServiceAccountToken.ExpirationSeconds; e != nil {
				if *e < 600 {
					errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *e, "may not specify a duration less than 10 minutes"))
				} else if *e > math.MaxUint32 {
					errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *e, "may not specify a duration larger than 2^32 seconds"))
				}
			}
			errs = append(errs, checkItemPath(tp.Child("path"), s.ServiceAccountToken.Path)...)
			addPath(tp.Child("path"), s.ServiceAccountToken.Path)
		case s.ClusterTrustBundle != nil:
			errs = append(errs, checkItemPath(sp.Child("clusterTrustBundle", "path"), s.ClusterTrustBundle.Path)...)
			addPath(sp.Child("clusterTrustBundle", "path"), s.ClusterTrustBundle.Path)
		}
	}
	return errs
}

// Containers.

func checkContainers(cs []corev1.Container, kind containerKind, spec *corev1.PodSpec, vols map[string]*corev1.Volume, names sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range cs {
		c := &cs[i]
		cp := p.Index(i)
		errs = append(errs, checkDNSLabel(cp.Child("name"), c.Name)...)
		if c.Name != "" {
			if names.Has(c.Name) {
				errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
			}
			names.Insert(c.Name)
		}
		errs = append(errs, checkContainer(c, kind, spec, vols, cp)...)
	}
	return errs
}

func checkContainer(c *corev1.Container, kind containerKind, spec *corev1.PodSpec, vols map[string]*corev1.Volume, p *field.Path) field.ErrorList {
	if kind == ephemeralContainer {
		return checkEphemeralContainer(c, spec, vols, p)
	}
	var errs field.ErrorList
	if c.Image == "" {
		errs = append(errs, field.Required(p.Child("image"), ""))
	} else if strings.TrimSpace(c.Image) != c.Image {
		errs = append(errs, field.Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	errs = append(errs, checkEnum(p.Child("imagePullPolicy"), c.ImagePullPolicy, corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever)...)
	errs = append(errs, checkEnum(p.Child("terminationMessagePolicy"), c.TerminationMessagePolicy,
		corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError)...)
	errs = append(errs, checkContainerPorts(c.Ports, spec.HostNetwork, p.Child("ports"))...)
	errs = append(errs, checkEnv(c.Env, p.Child("env"))...)
	errs = append(errs, checkEnvFrom(c.EnvFrom, p.Child("envFrom"))...)
	errs = append(errs, checkVolumeMounts(c, vols, p)...)
	errs = append(errs, checkResourceRequirements(&c.Resources, p.Child("resources"))...)
	errs = append(errs, checkContainerSecurityContext(c.SecurityContext, p.Child("securityContext"))...)

	sidecar := kind == initContainer && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
	if c.RestartPolicy != nil {
		rp := p.Child("restartPolicy")
		if kind == initContainer {
			errs = append(errs, checkEnum(rp, *c.RestartPolicy, corev1.ContainerRestartPolicyAlways)...)
		} else {
			errs = append(errs, field.Forbidden(rp, "may not be set for non-init containers"))
		}
	}
	probes := []struct {
		name  string
		probe *corev1.Probe
		once  bool // liveness and startup probes must succeed once
	}{{"livenessProbe", c.LivenessProbe, true}, {"readinessProbe", c.ReadinessProbe, false}, {"startupProbe", c.StartupProbe, true}}
	for _, pr := range probes {
		if pr.probe == nil {
			continue
		}
		pp := p.Child(pr.name)
		if (kind == initContainer && !sidecar) || kind == ephemeralContainer {
			errs = append(errs, field.Forbidden(pp, "may not be set for init containers without restartPolicy=Always"))
			continue
		}
		errs = append(errs, checkProbe(pr.probe, pp, pr.once)...)
	}
	if c.Lifecycle != nil {
		lp := p.Child("lifecycle")
		if (kind == initContainer && !sidecar) || kind == ephemeralContainer {
			errs = append(errs, field.Forbidden(lp, "may not be set for init containers without restartPolicy=Always"))
		} else {
			if c.Lifecycle.PostStart != nil {
				errs = append(errs, checkLifecycleHandler(c.Lifecycle.PostStart, lp.Child("postStart"))...)
			}
			if c.Lifecycle.PreStop != nil {
				errs = append(errs, checkLifecycleHandler(c.Lifecycle.PreStop, lp.Child("preStop"))...)
			}
		}
	}
	for i, rp := range c.ResizePolicy {
		ip := p.Child("resizePolicy").Index(i)
		errs = append(errs, checkEnum(ip.Child("resourceName"), rp.ResourceName, corev1.ResourceCPU, corev1.ResourceMemory)...)
		errs = append(errs, checkEnum(ip.Child("restartPolicy"), rp.RestartPolicy, corev1.NotRequired, corev1.RestartContainer)...)
	}
	return errs
}

func checkContainerPorts(ports []corev1.ContainerPort, hostNetwork bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		pp := p.Index(i)
		if port.Name != "" {
			errs = append(errs, invalidEach(pp.Child("name"), port.Name, validation.IsValidPortName(port.Name))...)
			if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(pp.Child("containerPort"), ""))
		} else {
			errs = append(errs, checkPortNumber(pp.Child("containerPort"), port.ContainerPort)...)
		}
		if port.HostPort != 0 {
			errs = append(errs, checkPortNumber(pp.Child("hostPort"), port.HostPort)...)
			if hostNetwork && port.HostPort != port.ContainerPort {
				errs = append(errs, field.Invalid(pp.Child("hostPort"), port.HostPort, "must match `containerPort` when `hostNetwork` is true"))
			}
		}
		if port.HostIP != "" {
			errs = append(errs, checkIP(pp.Child("hostIP"), port.HostIP)...)
		}
		errs = append(errs, checkEnum(pp.Child("protocol"), port.Protocol, protocols...)...)
	}
	return errs
}

// checkHostPorts refuses two containers of a pod asking for the same host port.
func checkHostPorts(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	check := func(cs []corev1.Container, cp *field.Path) {
		for i := range cs {
			for j, port := range cs[i].Ports {
				if port.HostPort == 0 {
					continue
				}
				key := fmt.Sprintf("%s/%s/%d", port.HostIP, port.Protocol, port.HostPort)
				if seen.Has(key) {
					errs = append(errs, field.Duplicate(cp.Index(i).Child("ports").Index(j).Child("hostPort"), fmt.Sprintf("%d/%s", port.HostPort, port.Protocol)))
				}
				seen.Insert(key)
			}
		}
	}
	check(spec.InitContainers, p.Child("initContainers"))
	check(spec.Containers, p.Child("containers"))
	return errs
}

func checkEnvName(p *field.Path, name string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return invalidEach(p, name, validation.IsRelaxedEnvVarName(name))
}

func checkEnv(env []corev1.EnvVar, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range env {
		ep := p.Index(i)
		errs = append(errs, checkEnvName(ep.Child("name"), e.Name)...)
		if e.ValueFrom == nil {
			continue
		}
		vp := ep.Child("valueFrom")
		if e.Value != "" {
			errs = append(errs, field.Invalid(vp, "", "may not be specified when `value` is not empty"))
		}
		vf := e.ValueFrom
		switch countSet(vf) {
		case 0:
			errs = append(errs, field.Invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
			continue
		case 1:
		default:
			errs = append(errs, field.Invalid(vp, "", "may not have more than one field specified at a time"))
			continue
		}
		switch {
		case vf.FieldRef != nil:
			errs = append(errs, checkFieldRef(vf.FieldRef, envFieldPaths, vp.Child("fieldRef"))...)
		case vf.ResourceFieldRef != nil:
			errs = append(errs, checkResourceFieldRef(vf.ResourceFieldRef, vp.Child("resourceFieldRef"), false)...)
		case vf.ConfigMapKeyRef != nil:
			errs = append(errs, checkKeyRef(vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key, vp.Child("configMapKeyRef"))...)
		case vf.SecretKeyRef != nil:
			errs = append(errs, checkKeyRef(vf.SecretKeyRef.Name, vf.SecretKeyRef.Key, vp.Child("secretKeyRef"))...)
		}
	}
	return errs
}

func checkKeyRef(name, key string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		errs = append(errs, checkDNSSubdomain(p.Child("name"), name)...)
	}
	if key == "" {
		errs = append(errs, field.Required(p.Child("key"), ""))
	} else {
		errs = append(errs, invalidEach(p.Child("key"), key, validation.IsConfigMapKey(key))...)
	}
	return errs
}

func checkEnvFrom(from []corev1.EnvFromSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range from {
		fp := p.Index(i)
		if f.Prefix != "" {
			errs = append(errs, invalidEach(fp.Child("prefix"), f.Prefix, validation.IsRelaxedEnvVarName(f.Prefix))...)
		}
		switch {
		case f.ConfigMapRef != nil && f.SecretRef != nil:
			errs = append(errs, field.Invalid(fp, "", "may not have more than one field specified at a time"))
		case f.ConfigMapRef != nil:
			errs = append(errs, checkDNSSubdomain(fp.Child("configMapRef", "name"), f.ConfigMapRef.Name)...)
		case f.SecretRef != nil:
			errs = append(errs, checkDNSSubdomain(fp.Child("secretRef", "name"), f.SecretRef.Name)...)
		default:
			errs = append(errs, field.Invalid(fp, "", "must specify one of: `configMapRef` or `secretRef`"))
		}
	}
	return errs
}

func checkVolumeMounts(c *corev1.Container, vols map[string]*corev1.Volume, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := sets.New[string]()
	for i, m := range c.VolumeMounts {
		mp := p.Child("volumeMounts").Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(mp.Child("name"), ""))
		} else if _, ok := vols[m.Name]; !ok {
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(mp.Child("mountPath"), ""))
		} else {
			if paths.Has(m.MountPath) {
				errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be unique"))
			}
			paths.Insert(m.MountPath)
		}
		if m.SubPath != "" {
			errs = append(errs, checkRelativePath(mp.Child("subPath"), m.SubPath)...)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				errs = append(errs, field.Invalid(mp.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			errs = append(errs, checkRelativePath(mp.Child("subPathExpr"), m.SubPathExpr)...)
		}
		if m.MountPropagation != nil {
			errs = append(errs, checkEnum(mp.Child("mountPropagation"), *m.MountPropagation,
				corev1.MountPropagationNone, corev1.MountPropagationHostToContainer, corev1.MountPropagationBidirectional)...)
		}
		if m.RecursiveReadOnly != nil {
			rp := mp.Child("recursiveReadOnly")
			errs = append(errs, checkEnum(rp, *m.RecursiveReadOnly, corev1.RecursiveReadOnlyDisabled, corev1.RecursiveReadOnlyIfPossible, corev1.RecursiveReadOnlyEnabled)...)
			if *m.RecursiveReadOnly != corev1.RecursiveReadOnlyDisabled && !m.ReadOnly {
				errs = append(errs, field.Forbidden(rp, "may only be specified when readOnly is true"))
			}
		}
	}
	for i, d := range c.VolumeDevices {
		dp := p.Child("volumeDevices").Index(i)
		if d.Name == "" {
			errs = append(errs, field.Required(dp.Child("name"), ""))
		} else if v, ok := vols[d.Name]; !ok {
			errs = append(errs, field.NotFound(dp.Child("name"), d.Name))
		} else if v.PersistentVolumeClaim == nil && v.Ephemeral == nil {
			errs = append(errs, field.Invalid(dp.Child("name"), d.Name, "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode"))
		}
		if d.DevicePath == "" {
			errs = append(errs, field.Required(dp.Child("devicePath"), ""))
		} else if paths.Has(d.DevicePath) {
			errs = append(errs, field.Invalid(dp.Child("devicePath"), d.DevicePath, "must not be already mounted by a volumeMount"))
		}
	}
	return errs
}

// Probes and lifecycle handlers.

func checkProbe(pr *corev1.Probe, p *field.Path, mustSucceedOnce bool) field.ErrorList {
	errs := checkHandler(&pr.ProbeHandler, nil, p)
	errs = append(errs, checkNonNegative(p.Child("initialDelaySeconds"), int64(pr.InitialDelaySeconds))...)
	errs = append(errs, checkNonNegative(p.Child("timeoutSeconds"), int64(pr.TimeoutSeconds))...)
	errs = append(errs, checkNonNegative(p.Child("periodSeconds"), int64(pr.PeriodSeconds))...)
	errs = append(errs, checkNonNegative(p.Child("successThreshold"), int64(pr.SuccessThreshold))...)
	errs = append(errs, checkNonNegative(p.Child("failureThreshold"), int64(pr.FailureThreshold))...)
	if mustSucceedOnce && pr.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("successThreshold"), pr.SuccessThreshold, "must be 1"))
	}
	if g := pr.TerminationGracePeriodSeconds; g != nil {
		if !mustSucceedOnce {
			errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *g, "must not be set for readinessProbes"))
		} else if *g <= 0 {
			errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *g, "must be greater than 0"))
		}
	}
	return errs
}

func checkLifecycleHandler(h *corev1.LifecycleHandler, p *field.Path) field.ErrorList {
	ph := corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}
	return checkHandler(&ph, h.Sleep, p)
}

// checkHandler wants exactly one way to probe (or to run a hook).
func checkHandler(h *corev1.ProbeHandler, sleep *corev1.SleepAction, p *field.Path) field.ErrorList {
	n := countSet(h)
	if sleep != nil {
		n++
	}
	switch {
	case n == 0:
		return field.ErrorList{field.Required(p, "must specify a handler type")}
	case n > 1:
		return field.ErrorList{field.Forbidden(p, "may not specify more than 1 handler type")}
	}
	var errs field.ErrorList
	switch {
	case h.Exec != nil:
		if len(h.Exec.Command) == 0 {
			errs = append(errs, field.Required(p.Child("exec", "command"), ""))
		}
	case h.HTTPGet != nil:
		hp := p.Child("httpGet")
		errs = append(errs, checkPortRef(hp.Child("port"), h.HTTPGet.Port)...)
		errs = append(errs, checkEnum(hp.Child("scheme"), h.HTTPGet.Scheme, corev1.URISchemeHTTP, corev1.URISchemeHTTPS)...)
		for i, hd := range h.HTTPGet.HTTPHeaders {
			errs = append(errs, invalidEach(hp.Child("httpHeaders").Index(i).Child("name"), hd.Name, validation.IsHTTPHeaderName(hd.Name))...)
		}
	case h.TCPSocket != nil:
		errs = append(errs, checkPortRef(p.Child("tcpSocket", "port"), h.TCPSocket.Port)...)
	case h.GRPC != nil:
		errs = append(errs, checkPortNumber(p.Child("grpc", "port"), h.GRPC.Port)...)
	case sleep != nil:
		if sleep.Seconds <= 0 {
			errs = append(errs, field.Invalid(p.Child("sleep", "seconds"), sleep.Seconds, "must be greater than 0"))
		}
	}
	return errs
}

// Security contexts.

func checkPodSecurityContext(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	sc := spec.SecurityContext
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	if sc.RunAsUser != nil {
		errs = append(errs, invalidEach(p.Child("runAsUser"), *sc.RunAsUser, validation.IsValidUserID(*sc.RunAsUser))...)
	}
	if sc.RunAsGroup != nil {
		errs = append(errs, invalidEach(p.Child("runAsGroup"), *sc.RunAsGroup, validation.IsValidGroupID(*sc.RunAsGroup))...)
	}
	if sc.FSGroup != nil {
		errs = append(errs, invalidEach(p.Child("fsGroup"), *sc.FSGroup, validation.IsValidGroupID(*sc.FSGroup))...)
	}
	for i, g := range sc.SupplementalGroups {
		errs = append(errs, invalidEach(p.Child("supplementalGroups").Index(i), g, validation.IsValidGroupID(g))...)
	}
	if sc.FSGroupChangePolicy != nil {
		errs = append(errs, checkEnum(p.Child("fsGroupChangePolicy"), *sc.FSGroupChangePolicy, corev1.FSGroupChangeOnRootMismatch, corev1.FSGroupChangeAlways)...)
	}
	if sc.SupplementalGroupsPolicy != nil {
		errs = append(errs, checkEnum(p.Child("supplementalGroupsPolicy"), *sc.SupplementalGroupsPolicy, corev1.SupplementalGroupsPolicyMerge, corev1.SupplementalGroupsPolicyStrict)...)
	}
	names := sets.New[string]()
	for i, s := range sc.Sysctls {
		sp := p.Child("sysctls").Index(i)
		switch {
		case s.Name == "":
			errs = append(errs, field.Required(sp.Child("name"), ""))
		case len(s.Name) > 253 || !sysctlName.MatchString(s.Name):
			errs = append(errs, field.Invalid(sp.Child("name"), s.Name, "must have at most 253 characters and match regex "+sysctlName.String()))
		case names.Has(s.Name):
			errs = append(errs, field.Duplicate(sp.Child("name"), s.Name))
		}
		names.Insert(s.Name)
	}
	errs = append(errs, checkSeccomp(sc.SeccompProfile, p.Child("seccompProfile"))...)
	errs = append(errs, checkAppArmor(sc.AppArmorProfile, p.Child("appArmorProfile"))...)
	return errs
}

func checkContainerSecurityContext(sc *corev1.SecurityContext, p *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	if sc.RunAsUser != nil {
		errs = append(errs, invalidEach(p.Child("runAsUser"), *sc.RunAsUser, validation.IsValidUserID(*sc.RunAsUser))...)
	}
	if sc.RunAsGroup != nil {
		errs = append(errs, invalidEach(p.Child("runAsGroup"), *sc.RunAsGroup, validation.IsValidGroupID(*sc.RunAsGroup))...)
	}
	if sc.ProcMount != nil {
		errs = append(errs, checkEnum(p.Child("procMount"), *sc.ProcMount, corev1.DefaultProcMount, corev1.UnmaskedProcMount)...)
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, field.Invalid(p, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Add {
				if c == "SYS_ADMIN" || c == "CAP_SYS_ADMIN" {
					errs = append(errs, field.Invalid(p, sc, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
				}
			}
		}
	}
	errs = append(errs, checkSeccomp(sc.SeccompProfile, p.Child("seccompProfile"))...)
	errs = append(errs, checkAppArmor(sc.AppArmorProfile, p.Child("appArmorProfile"))...)
	return errs
}

func checkSeccomp(s *corev1.SeccompProfile, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	errs := checkEnum(p.Child("type"), s.Type, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined, corev1.SeccompProfileTypeLocalhost)
	lp := p.Child("localhostProfile")
	if s.Type == corev1.SeccompProfileTypeLocalhost {
		if s.LocalhostProfile == nil || *s.LocalhostProfile == "" {
			errs = append(errs, field.Required(lp, "must be set when seccomp type is Localhost"))
		}
	} else if s.LocalhostProfile != nil {
		errs = append(errs, field.Invalid(lp, *s.LocalhostProfile, "can only be set when seccomp type is Localhost"))
	}
	return errs
}

func checkAppArmor(a *corev1.AppArmorProfile, p *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	errs := checkEnum(p.Child("type"), a.Type, corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined, corev1.AppArmorProfileTypeLocalhost)
	lp := p.Child("localhostProfile")
	if a.Type == corev1.AppArmorProfileTypeLocalhost {
		if a.LocalhostProfile == nil || strings.TrimSpace(*a.LocalhostProfile) == "" {
			errs = append(errs, field.Required(lp, "must be set when AppArmor type is Localhost"))
		}
	} else if a.LocalhostProfile != nil {
		errs = append(errs, field.Invalid(lp, *a.LocalhostProfile, "can only be set when AppArmor type is Localhost"))
	}
	return errs
}

// DNS.

func checkDNS(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	errs := checkEnum(p.Child("dnsPolicy"), spec.DNSPolicy,
		corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone)
	cp := p.Child("dnsConfig")
	cfg := spec.DNSConfig
	if spec.DNSPolicy == corev1.DNSNone {
		if cfg == nil {
			return append(errs, field.Required(cp, "must provide `dnsConfig` when `dnsPolicy` is None"))
		}
		if len(cfg.Nameservers) == 0 {
			errs = append(errs, field.Required(cp.Child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None"))
		}
	}
	if cfg == nil {
		return errs
	}
	if len(cfg.Nameservers) > 3 {
		errs = append(errs, field.Invalid(cp.Child("nameservers"), cfg.Nameservers, "must not have more than 3 nameservers"))
	}
	for i, ns := range cfg.Nameservers {
		errs = append(errs, checkIP(cp.Child("nameservers").Index(i), ns)...)
	}
	if len(cfg.Searches) > 32 {
		errs = append(errs, field.Invalid(cp.Child("searches"), cfg.Searches, "must not have more than 32 search paths"))
	}
	for i, s := range cfg.Searches {
		if s == "." {
			continue
		}
		errs = append(errs, invalidEach(cp.Child("searches").Index(i), s, validation.IsDNS1123Subdomain(strings.TrimSuffix(s, ".")))...)
	}
	for i, o := range cfg.Options {
		if o.Name == "" {
			errs = append(errs, field.Required(cp.Child("options").Index(i), "must not be empty"))
		}
	}
	return errs
}

// Scheduling: tolerations, affinity, spread.

func checkTolerations(ts []corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range ts {
		tp := p.Index(i)
		if t.Key != "" {
			errs = append(errs, checkQualifiedName(tp.Child("key"), t.Key)...)
		} else if t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(tp.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(tp.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case "", corev1.TolerationOpEqual:
			errs = append(errs, checkLabelValue(tp.Child("value"), t.Value)...)
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(tp.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(tp.Child("operator"), t.Operator, []string{string(corev1.TolerationOpEqual), string(corev1.TolerationOpExists)}))
		}
		errs = append(errs, checkOptionalEnum(tp.Child("effect"), t.Effect, corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute)...)
	}
	return errs
}

func checkAffinity(a *corev1.Affinity, p *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	var errs field.ErrorList
	if na := a.NodeAffinity; na != nil {
		np := p.Child("nodeAffinity")
		if r := na.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			rp := np.Child("requiredDuringSchedulingIgnoredDuringExecution")
			if len(r.NodeSelectorTerms) == 0 {
				errs = append(errs, field.Required(rp.Child("nodeSelectorTerms"), "must have at least one node selector term"))
			}
			for i := range r.NodeSelectorTerms {
				errs = append(errs, checkNodeSelectorTerm(&r.NodeSelectorTerms[i], rp.Child("nodeSelectorTerms").Index(i))...)
			}
		}
		for i, t := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			tp := np.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			errs = append(errs, checkWeight(tp.Child("weight"), t.Weight)...)
			errs = append(errs, checkNodeSelectorTerm(&t.Preference, tp.Child("preference"))...)
		}
	}
	for _, pa := range []struct {
		name      string
		required  []corev1.PodAffinityTerm
		preferred []corev1.WeightedPodAffinityTerm
	}{
		{"podAffinity", podAffinityRequired(a.PodAffinity), podAffinityPreferred(a.PodAffinity)},
		{"podAntiAffinity", podAntiAffinityRequired(a.PodAntiAffinity), podAntiAffinityPreferred(a.PodAntiAffinity)},
	} {
		pp := p.Child(pa.name)
		for i := range pa.required {
			errs = append(errs, checkPodAffinityTerm(&pa.required[i], pp.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i))...)
		}
		for i := range pa.preferred {
			tp := pp.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			errs = append(errs, checkWeight(tp.Child("weight"), pa.preferred[i].Weight)...)
			errs = append(errs, checkPodAffinityTerm(&pa.preferred[i].PodAffinityTerm, tp.Child("podAffinityTerm"))...)
		}
	}
	return errs
}

func podAffinityRequired(a *corev1.PodAffinity) []corev1.PodAffinityTerm {
	if a == nil {
		return nil
	}
	return a.RequiredDuringSchedulingIgnoredDuringExecution
}

func podAffinityPreferred(a *corev1.PodAffinity) []corev1.WeightedPodAffinityTerm {
	if a == nil {
		return nil
	}
	return a.PreferredDuringSchedulingIgnoredDuringExecution
}

func podAntiAffinityRequired(a *corev1.PodAntiAffinity) []corev1.PodAffinityTerm {
	if a == nil {
		return nil
	}
	return a.RequiredDuringSchedulingIgnoredDuringExecution
}

func podAntiAffinityPreferred(a *corev1.PodAntiAffinity) []corev1.WeightedPodAffinityTerm {
	if a == nil {
		return nil
	}
	return a.PreferredDuringSchedulingIgnoredDuringExecution
}

func checkWeight(p *field.Path, w int32) field.ErrorList {
	if w < 1 || w > 100 {
		return field.ErrorList{field.Invalid(p, w, "must be in the range 1-100")}
	}
	return nil
}

func checkNodeSelectorTerm(t *corev1.NodeSelectorTerm, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, r := range t.MatchExpressions {
		rp := p.Child("matchExpressions").Index(i)
		errs = append(errs, checkQualifiedName(rp.Child("key"), r.Key)...)
		errs = append(errs, checkNodeSelectorValues(r, rp)...)
	}
	for i, r := range t.MatchFields {
		rp := p.Child("matchFields").Index(i)
		if r.Key != "metadata.name" {
			errs = append(errs, field.NotSupported(rp.Child("key"), r.Key, []string{"metadata.name"}))
		}
		switch r.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			if len(r.Values) != 1 {
				errs = append(errs, field.Required(rp.Child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
			}
		default:
			errs = append(errs, field.Invalid(rp.Child("operator"), r.Operator, "not a valid selector operator"))
		}
	}
	return errs
}

func checkNodeSelectorValues(r corev1.NodeSelectorRequirement, p *field.Path) field.ErrorList {
	vp := p.Child("values")
	switch r.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(r.Values) == 0 {
			return field.ErrorList{field.Required(vp, "must be specified when `operator` is 'In' or 'NotIn'")}
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(r.Values) > 0 {
			return field.ErrorList{field.Forbidden(vp, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")}
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(r.Values) != 1 {
			return field.ErrorList{field.Required(vp, "must be specified single value when `operator` is 'Lt' or 'Gt'")}
		}
	default:
		return field.ErrorList{field.Invalid(p.Child("operator"), r.Operator, "not a valid selector operator")}
	}
	var errs field.ErrorList
	for i, v := range r.Values {
		errs = append(errs, checkLabelValue(vp.Index(i), v)...)
	}
	return errs
}

func checkPodAffinityTerm(t *corev1.PodAffinityTerm, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	opts := metav1validation.LabelSelectorValidationOptions{}
	if t.LabelSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(t.LabelSelector, opts, p.Child("labelSelector"))...)
	}
	if t.NamespaceSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(t.NamespaceSelector, opts, p.Child("namespaceSelector"))...)
	}
	for i, ns := range t.Namespaces {
		errs = append(errs, checkDNSLabel(p.Child("namespaces").Index(i), ns)...)
	}
	if t.TopologyKey == "" {
		errs = append(errs, field.Required(p.Child("topologyKey"), "can not be empty"))
	} else {
		errs = append(errs, checkQualifiedName(p.Child("topologyKey"), t.TopologyKey)...)
	}
	return errs
}

func checkSpreadConstraints(cs []corev1.TopologySpreadConstraint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, c := range cs {
		cp := p.Index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, field.Invalid(cp.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		if c.TopologyKey == "" {
			errs = append(errs, field.Required(cp.Child("topologyKey"), "can not be empty"))
		} else {
			errs = append(errs, checkQualifiedName(cp.Child("topologyKey"), c.TopologyKey)...)
		}
		errs = append(errs, checkEnum(cp.Child("whenUnsatisfiable"), c.WhenUnsatisfiable, corev1.DoNotSchedule, corev1.ScheduleAnyway)...)
		if c.MinDomains != nil {
			if *c.MinDomains <= 0 {
				errs = append(errs, field.Invalid(cp.Child("minDomains"), *c.MinDomains, "must be greater than 0"))
			} else if c.WhenUnsatisfiable != corev1.DoNotSchedule {
				errs = append(errs, field.Invalid(cp.Child("minDomains"), *c.MinDomains, "can only use minDomains if whenUnsatisfiable=DoNotSchedule"))
			}
		}
		if c.LabelSelector != nil {
			errs = append(errs, metav1validation.ValidateLabelSelector(c.LabelSelector, metav1validation.LabelSelectorValidationOptions{}, cp.Child("labelSelector"))...)
		}
		key := c.TopologyKey + "/" + string(c.WhenUnsatisfiable)
		if seen.Has(key) {
			errs = append(errs, field.Duplicate(cp, fmt.Sprintf("{%v, %v}", c.TopologyKey, c.WhenUnsatisfiable)))
		}
		seen.Insert(key)
	}
	return errs
}
