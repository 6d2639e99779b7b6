package kubelet

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// envSources is what a container's environment may refer to.
type envSources struct {
	configMap func(ns, name string) (*corev1.ConfigMap, error)
	secret    func(ns, name string) (*corev1.Secret, error)
	// services are the services whose links become variables (enableServiceLinks),
	// and the master services (default/kubernetes) always.
	services []*corev1.Service
	// allocatable stands in for a resource limit the container does not set.
	allocatable corev1.ResourceList
}

// envVar is a resolved variable.
type envVar struct{ Name, Value string }

// containerEnv resolves a container's environment: service links first, then
// envFrom, then env, later entries winning; $(VAR) in values refers to what was
// defined before.
func containerEnv(pod *corev1.Pod, c *corev1.Container, src envSources) ([]envVar, error) {
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range serviceEnv(src.services) {
		set(kv.Name, kv.Value)
	}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			optional := from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional
			cm, err := src.configMap(pod.Namespace, from.ConfigMapRef.Name)
			if err != nil {
				if optional {
					continue
				}
				return nil, fmt.Errorf("configmap %q not found", from.ConfigMapRef.Name)
			}
			for _, k := range sortedKeys(cm.Data) {
				if name := from.Prefix + k; validEnvName(name) {
					set(name, cm.Data[k])
				}
			}
		case from.SecretRef != nil:
			optional := from.SecretRef.Optional != nil && *from.SecretRef.Optional
			s, err := src.secret(pod.Namespace, from.SecretRef.Name)
			if err != nil {
				if optional {
					continue
				}
				return nil, fmt.Errorf("secret %q not found", from.SecretRef.Name)
			}
			keys := make([]string, 0, len(s.Data))
			for k := range s.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if name := from.Prefix + k; validEnvName(name) {
					set(name, string(s.Data[k]))
				}
			}
		}
	}
	// Only variables defined by env itself (and envFrom) are visible to $(VAR)
	// references; service links too, as the order above gives.
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom == nil {
			v = expand(v, vals)
			set(e.Name, v)
			continue
		}
		var err error
		v, err = envValueFrom(pod, c, e.ValueFrom, src)
		if err != nil {
			return nil, err
		}
		if v == "\x00skip" {
			continue
		}
		set(e.Name, v)
	}
	out := make([]envVar, 0, len(order))
	for _, k := range order {
		out = append(out, envVar{k, vals[k]})
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validEnvName accepts what a 1.32 cluster accepts as a variable name: any
// printable ASCII but '=' (earlier releases wanted C-like identifiers).
func validEnvName(n string) bool {
	if n == "" {
		return false
	}
	for _, r := range n {
		if r < ' ' || r > '~' || r == '=' {
			return false
		}
	}
	return true
}

func envValueFrom(pod *corev1.Pod, c *corev1.Container, from *corev1.EnvVarSource, src envSources) (string, error) {
	switch {
	case from.FieldRef != nil:
		return podField(pod, from.FieldRef.FieldPath)
	case from.ResourceFieldRef != nil:
		return resourceField(pod, c, from.ResourceFieldRef, src.allocatable)
	case from.ConfigMapKeyRef != nil:
		r := from.ConfigMapKeyRef
		optional := r.Optional != nil && *r.Optional
		cm, err := src.configMap(pod.Namespace, r.Name)
		if err != nil {
			if optional {
				return "\x00skip", nil
			}
			return "", fmt.Errorf("configmap %q not found", r.Name)
		}
		v, ok := cm.Data[r.Key]
		if !ok {
			if b, ok2 := cm.BinaryData[r.Key]; ok2 {
				return string(b), nil
			}
			if optional {
				return "\x00skip", nil
			}
			return "", fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", r.Key, pod.Namespace, r.Name)
		}
		return v, nil
	case from.SecretKeyRef != nil:
		r := from.SecretKeyRef
		optional := r.Optional != nil && *r.Optional
		s, err := src.secret(pod.Namespace, r.Name)
		if err != nil {
			if optional {
				return "\x00skip", nil
			}
			return "", fmt.Errorf("secret %q not found", r.Name)
		}
		v, ok := s.Data[r.Key]
		if !ok {
			if optional {
				return "\x00skip", nil
			}
			return "", fmt.Errorf("couldn't find key %s in Secret %s/%s", r.Key, pod.Namespace, r.Name)
		}
		return string(v), nil
	}
	return "", nil
}

// podField answers a downward API field path.
func podField(pod *corev1.Pod, path string) (string, error) {
	if k, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.hostIPs":
		var ips []string
		for _, ip := range pod.Status.HostIPs {
			ips = append(ips, ip.IP)
		}
		return strings.Join(ips, ","), nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.podIPs":
		var ips []string
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		return strings.Join(ips, ","), nil
	}
	return "", fmt.Errorf("unsupported field path %q", path)
}

// subscript reads `prefix['key']`.
func subscript(path, prefix string) (string, bool) {
	if !strings.HasPrefix(path, prefix+"['") || !strings.HasSuffix(path, "']") {
		return "", false
	}
	return path[len(prefix)+2 : len(path)-2], true
}

// formatMap renders labels or annotations one per line, key="value", sorted.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%s", k, strconv.Quote(m[k]))
	}
	return b.String()
}

// resourceField answers a resourceFieldRef: the container's limit or request in
// units of the divisor, rounded up; a missing limit is the node's allocatable.
func resourceField(pod *corev1.Pod, c *corev1.Container, ref *corev1.ResourceFieldSelector, allocatable corev1.ResourceList) (string, error) {
	if ref.ContainerName != "" {
		c = findContainer(pod, ref.ContainerName)
		if c == nil {
			return "", fmt.Errorf("container %q not found for resourceFieldRef", ref.ContainerName)
		}
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	var q resource.Quantity
	var ok bool
	switch ref.Resource {
	case "limits.cpu":
		q, ok = c.Resources.Limits[corev1.ResourceCPU]
		if !ok {
			q = allocatable[corev1.ResourceCPU]
		}
	case "limits.memory":
		q, ok = c.Resources.Limits[corev1.ResourceMemory]
		if !ok {
			q = allocatable[corev1.ResourceMemory]
		}
	case "limits.ephemeral-storage":
		q, ok = c.Resources.Limits[corev1.ResourceEphemeralStorage]
		if !ok {
			q = allocatable[corev1.ResourceEphemeralStorage]
		}
	case "requests.cpu":
		q = c.Resources.Requests[corev1.ResourceCPU]
	case "requests.memory":
		q = c.Resources.Requests[corev1.ResourceMemory]
	case "requests.ephemeral-storage":
		q = c.Resources.Requests[corev1.ResourceEphemeralStorage]
	default:
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	if strings.HasSuffix(ref.Resource, ".cpu") {
		v := math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue()))
		return strconv.FormatInt(int64(v), 10), nil
	}
	v := math.Ceil(float64(q.Value()) / float64(divisor.Value()))
	return strconv.FormatInt(int64(v), 10), nil
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if pod.Spec.EphemeralContainers[i].Name == name {
			return asContainer(&pod.Spec.EphemeralContainers[i])
		}
	}
	return nil
}

// expand replaces $(VAR) with defined variables; $$ stands for a literal $ and
// references to undefined variables stay as written.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// expandAll expands every string against the resolved environment.
func expandAll(in []string, env []envVar) []string {
	if len(in) == 0 {
		return in
	}
	vars := make(map[string]string, len(env))
	for _, e := range env {
		vars[e.Name] = e.Value
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, vars)
	}
	return out
}

// serviceEnv renders the link variables of services (NAME_SERVICE_HOST and the
// Docker-link style NAME_PORT_...), in a stable order.
func serviceEnv(svcs []*corev1.Service) []envVar {
	sorted := append([]*corev1.Service(nil), svcs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var out []envVar
	for _, s := range sorted {
		ip := s.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone || len(s.Spec.Ports) == 0 {
			continue
		}
		prefix := strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
		first := s.Spec.Ports[0]
		out = append(out, envVar{prefix + "_SERVICE_HOST", ip}, envVar{prefix + "_SERVICE_PORT", strconv.Itoa(int(first.Port))})
		for _, p := range s.Spec.Ports {
			if p.Name != "" {
				out = append(out, envVar{prefix + "_SERVICE_PORT_" + strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), strconv.Itoa(int(p.Port))})
			}
		}
		proto := strings.ToLower(string(first.Protocol))
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, envVar{prefix + "_PORT", fmt.Sprintf("%s://%s:%d", proto, ip, first.Port)})
		for _, p := range s.Spec.Ports {
			pr := string(p.Protocol)
			if pr == "" {
				pr = "TCP"
			}
			base := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(pr))
			out = append(out,
				envVar{base, fmt.Sprintf("%s://%s:%d", strings.ToLower(pr), ip, p.Port)},
				envVar{base + "_PROTO", strings.ToLower(pr)},
				envVar{base + "_PORT", strconv.Itoa(int(p.Port))},
				envVar{base + "_ADDR", ip})
		}
	}
	return out
}
