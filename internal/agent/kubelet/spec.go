package kubelet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"tug/internal/registry"
)

// sandboxConfig is the runtime sandbox of a pod.
func (k *Kubelet) sandboxConfig(pod *corev1.Pod, attempt uint32) *runtimeapi.PodSandboxConfig {
	labels := map[string]string{}
	for key, v := range pod.Labels {
		labels[key] = v
	}
	labels[labelPodUID] = string(pod.UID)
	labels[labelPodName] = pod.Name
	labels[labelPodNamespace] = pod.Namespace
	annotations := map[string]string{}
	for key, v := range pod.Annotations {
		annotations[key] = v
	}
	annotations[annoGracePeriod] = strconv.FormatInt(gracePeriod(pod), 10)
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if len(hostname) > 63 {
		hostname = strings.TrimRight(hostname[:63], "-.")
	}
	if pod.Spec.HostNetwork {
		hostname = k.hostname
	}
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID), Attempt: attempt},
		Hostname:     hostname,
		LogDirectory: k.podLogDir(pod),
		DnsConfig:    k.dnsConfig(pod),
		Labels:       labels,
		Annotations:  annotations,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: k.podCgroup(pod.UID),
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: namespaceOptions(pod),
			},
		},
	}
	if sc := pod.Spec.SecurityContext; sc != nil {
		lsc := cfg.Linux.SecurityContext
		if sc.RunAsUser != nil {
			lsc.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
		}
		if sc.RunAsGroup != nil {
			lsc.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
		}
		lsc.SupplementalGroups = sc.SupplementalGroups
		if len(sc.Sysctls) > 0 {
			cfg.Linux.Sysctls = map[string]string{}
			for _, s := range sc.Sysctls {
				cfg.Linux.Sysctls[s.Name] = s.Value
			}
		}
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			cfg.PortMappings = append(cfg.PortMappings, &runtimeapi.PortMapping{
				Protocol:      protocol(p.Protocol),
				ContainerPort: p.ContainerPort,
				HostPort:      p.HostPort,
				HostIp:        p.HostIP,
			})
		}
	}
	return cfg
}

func protocol(p corev1.Protocol) runtimeapi.Protocol {
	switch p {
	case corev1.ProtocolUDP:
		return runtimeapi.Protocol_UDP
	case corev1.ProtocolSCTP:
		return runtimeapi.Protocol_SCTP
	}
	return runtimeapi.Protocol_TCP
}

func namespaceOptions(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	o := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}
	if pod.Spec.HostNetwork {
		o.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostPID {
		o.Pid = runtimeapi.NamespaceMode_NODE
	} else if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		o.Pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostIPC {
		o.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return o
}

// dnsConfig is the pod's resolv.conf: the cluster DNS for ClusterFirst (falling
// back to the node's resolver when the cluster has none), the node's for
// Default, and the pod's own dnsConfig merged in.
func (k *Kubelet) dnsConfig(pod *corev1.Pod) *runtimeapi.DNSConfig {
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	if policy == corev1.DNSClusterFirstWithHostNet && !pod.Spec.HostNetwork {
		policy = corev1.DNSClusterFirst
	}
	if policy == corev1.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = corev1.DNSDefault
	}
	if (policy == corev1.DNSClusterFirst || policy == corev1.DNSClusterFirstWithHostNet) && len(k.cfg.ClusterDNS) == 0 {
		policy = corev1.DNSDefault
	}
	cfg := &runtimeapi.DNSConfig{}
	switch policy {
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet:
		cfg.Servers = append(cfg.Servers, k.cfg.ClusterDNS...)
		d := k.cfg.ClusterDomain
		cfg.Searches = []string{pod.Namespace + ".svc." + d, "svc." + d, d}
		cfg.Searches = append(cfg.Searches, k.hostDNS.Searches...)
		cfg.Options = []string{"ndots:5"}
	case corev1.DNSDefault:
		cfg.Servers = append(cfg.Servers, k.hostDNS.Servers...)
		cfg.Searches = append(cfg.Searches, k.hostDNS.Searches...)
		cfg.Options = append(cfg.Options, k.hostDNS.Options...)
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		cfg.Servers = appendNew(cfg.Servers, dc.Nameservers...)
		cfg.Searches = appendNew(cfg.Searches, dc.Searches...)
		for _, o := range dc.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			cfg.Options = mergeOption(cfg.Options, opt)
		}
	}
	if len(cfg.Searches) > 32 {
		cfg.Searches = cfg.Searches[:32]
	}
	return cfg
}

func appendNew(list []string, more ...string) []string {
	for _, m := range more {
		found := false
		for _, l := range list {
			if l == m {
				found = true
			}
		}
		if !found {
			list = append(list, m)
		}
	}
	return list
}

func mergeOption(opts []string, opt string) []string {
	name := strings.SplitN(opt, ":", 2)[0]
	for i, o := range opts {
		if strings.SplitN(o, ":", 2)[0] == name {
			opts[i] = opt
			return opts
		}
	}
	return append(opts, opt)
}

// hostsFile is the /etc/hosts the pod's containers see.
func hostsFile(pod *corev1.Pod, podIP, domain string) []byte {
	var b strings.Builder
	b.WriteString("# Pod hosts file, written by the tug node agent.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if podIP != "" {
		if pod.Spec.Subdomain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", podIP, hostname, pod.Spec.Subdomain, pod.Namespace, domain, hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", podIP, hostname)
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return []byte(b.String())
}

// containerHash identifies the parts of a container spec whose change means the
// container must be replaced.
func containerHash(c *corev1.Container) string {
	cc := c.DeepCopy()
	// Fields that change without a restart.
	cc.Resources = corev1.ResourceRequirements{}
	cc.ResizePolicy = nil
	b, _ := json.Marshal(cc)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// maskedPaths and readonlyPaths hide kernel interfaces from unprivileged
// containers.
var (
	maskedPaths   = []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// containerConfig turns a container of the pod into the runtime's config.
func (k *Kubelet) containerConfig(pod *corev1.Pod, c *corev1.Container, attempt uint32, isInit bool, imageRef string, env []envVar, volumePaths map[string]string, podIP string) (*runtimeapi.ContainerConfig, error) {
	dirs := k.podDirs(pod.UID)
	cfg := &runtimeapi.ContainerConfig{
		Metadata:   &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: attempt},
		Image:      &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:    expandAll(c.Command, env),
		Args:       expandAll(c.Args, env),
		WorkingDir: c.WorkingDir,
		Labels: map[string]string{
			labelPodUID: string(pod.UID), labelPodName: pod.Name, labelPodNamespace: pod.Namespace, labelContainerName: c.Name,
		},
		Annotations: map[string]string{annoContainerHash: containerHash(c)},
		LogPath:     filepath.Join(c.Name, strconv.Itoa(int(attempt))+".log"),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
	}
	if isInit {
		cfg.Annotations[annoInit] = "true"
	}
	for _, e := range env {
		cfg.Envs = append(cfg.Envs, &runtimeapi.KeyValue{Key: e.Name, Value: e.Value})
	}
	mounts, err := containerMounts(pod, c, env, volumePaths)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dirs.root, 0o750); err != nil {
		return nil, err
	}
	// The pod's hosts file, unless the container brings its own.
	if !pod.Spec.HostNetwork && !hasMount(c, "/etc/hosts") {
		if err := os.WriteFile(dirs.hosts(), hostsFile(pod, podIP, k.cfg.ClusterDomain), 0o644); err != nil {
			return nil, err
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: dirs.hosts()})
	}
	if p := c.TerminationMessagePath; p != "" && !hasMount(c, p) {
		tl := dirs.terminationLog(c.Name, attempt)
		if err := os.MkdirAll(filepath.Dir(tl), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(tl, nil, 0o666); err != nil {
			return nil, err
		}
		_ = os.Chmod(tl, 0o666)
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: p, HostPath: tl})
	}
	cfg.Mounts = mounts
	cfg.Linux = &runtimeapi.LinuxContainerConfig{
		Resources:       k.linuxResources(pod, c),
		SecurityContext: linuxSecurity(pod, c),
	}
	return cfg, nil
}

func hasMount(c *corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if filepath.Clean(m.MountPath) == filepath.Clean(path) {
			return true
		}
	}
	return false
}

// containerMounts maps the container's volume mounts to host paths, resolving
// subPath (and subPathExpr against the environment) inside the volume.
func containerMounts(pod *corev1.Pod, c *corev1.Container, env []envVar, volumePaths map[string]string) ([]*runtimeapi.Mount, error) {
	var out []*runtimeapi.Mount
	vars := map[string]string{}
	for _, e := range env {
		vars[e.Name] = e.Value
	}
	for _, m := range c.VolumeMounts {
		host, ok := volumePaths[m.Name]
		if !ok {
			return nil, fmt.Errorf("cannot find volume %q to mount into container %q", m.Name, c.Name)
		}
		sub := m.SubPath
		if m.SubPathExpr != "" {
			sub = expand(m.SubPathExpr, vars)
		}
		if sub != "" {
			if filepath.IsAbs(sub) || strings.HasPrefix(filepath.Clean(sub), "..") {
				return nil, fmt.Errorf("subPath %q must be a relative path inside the volume", sub)
			}
			p := filepath.Join(host, sub)
			if real, err := filepath.EvalSymlinks(p); err == nil {
				if !strings.HasPrefix(real, host) && !strings.HasPrefix(real, resolvedDir(host)) {
					return nil, fmt.Errorf("subPath %q leaves the volume", sub)
				}
				p = real
			} else if os.IsNotExist(err) {
				if err := os.MkdirAll(p, 0o777); err != nil {
					return nil, err
				}
			} else {
				return nil, err
			}
			host = p
		}
		prop := runtimeapi.MountPropagation_PROPAGATION_PRIVATE
		if m.MountPropagation != nil {
			switch *m.MountPropagation {
			case corev1.MountPropagationHostToContainer:
				prop = runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
			case corev1.MountPropagationBidirectional:
				prop = runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
			}
		}
		out = append(out, &runtimeapi.Mount{ContainerPath: m.MountPath, HostPath: host, Readonly: m.ReadOnly, Propagation: prop})
	}
	return out, nil
}

func resolvedDir(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// linuxResources turns requests and limits into cgroup settings: CPU shares from
// the request, a CFS quota from the limit, the memory limit, and an OOM score
// by QoS class.
func (k *Kubelet) linuxResources(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerResources {
	r := &runtimeapi.LinuxContainerResources{}
	req := c.Resources.Requests
	lim := c.Resources.Limits
	cpuReq, hasReq := req[corev1.ResourceCPU]
	if !hasReq {
		if l, ok := lim[corev1.ResourceCPU]; ok {
			cpuReq, hasReq = l, true
		}
	}
	shares := int64(2)
	if hasReq {
		shares = max(2, cpuReq.MilliValue()*1024/1000)
	}
	r.CpuShares = shares
	if l, ok := lim[corev1.ResourceCPU]; ok {
		r.CpuPeriod = 100000
		r.CpuQuota = max(1000, l.MilliValue()*100000/1000)
	}
	if l, ok := lim[corev1.ResourceMemory]; ok {
		r.MemoryLimitInBytes = l.Value()
	}
	r.OomScoreAdj = oomScoreAdj(pod, c, k.memoryCapacity())
	return r
}

// oomScoreAdj ranks containers for the kernel's OOM killer: guaranteed pods
// last, best-effort first, burstable by their share of the node's memory.
func oomScoreAdj(pod *corev1.Pod, c *corev1.Container, capacity int64) int64 {
	switch qosClass(pod) {
	case corev1.PodQOSGuaranteed:
		return -997
	case corev1.PodQOSBestEffort:
		return 1000
	}
	mem := c.Resources.Requests[corev1.ResourceMemory]
	if capacity <= 0 {
		return 999
	}
	adj := 1000 - (1000*mem.Value())/capacity
	return min(max(adj, 2), 999)
}

// qosClass is the pod's quality of service class, by the API server's rule.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass { return registry.PodQOS(&pod.Spec) }

// linuxSecurity turns the pod's and container's security contexts into the
// runtime's (the container's settings win).
func linuxSecurity(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerSecurityContext {
	s := &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			s.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			s.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		s.SupplementalGroups = psc.SupplementalGroups
		if psc.FSGroup != nil {
			s.SupplementalGroups = append(s.SupplementalGroups, *psc.FSGroup)
		}
	}
	privileged := false
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			s.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
		}
		if sc.RunAsGroup != nil {
			s.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
		}
		if sc.Privileged != nil && *sc.Privileged {
			privileged = true
			s.Privileged = true
		}
		if sc.ReadOnlyRootFilesystem != nil {
			s.ReadonlyRootfs = *sc.ReadOnlyRootFilesystem
		}
		if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
			s.NoNewPrivs = true
		}
		if sc.Capabilities != nil {
			s.Capabilities = &runtimeapi.Capability{}
			for _, a := range sc.Capabilities.Add {
				s.Capabilities.AddCapabilities = append(s.Capabilities.AddCapabilities, capName(a))
			}
			for _, d := range sc.Capabilities.Drop {
				s.Capabilities.DropCapabilities = append(s.Capabilities.DropCapabilities, capName(d))
			}
		}
		if sc.ProcMount != nil && *sc.ProcMount == corev1.UnmaskedProcMount {
			return s
		}
	}
	if !privileged {
		s.MaskedPaths = maskedPaths
		s.ReadonlyPaths = readonlyPaths
	}
	return s
}

func capName(c corev1.Capability) string {
	n := strings.ToUpper(string(c))
	if n == "ALL" || strings.HasPrefix(n, "CAP_") {
		return n
	}
	return "CAP_" + n
}

// normalizeImage is how a pod's image reads in status: a full reference with the
// registry and the tag spelled out.
func normalizeImage(image string) string {
	if image == "" || strings.HasPrefix(image, "sha256:") {
		return image
	}
	name, suffix := image, ""
	if i := strings.Index(name, "@"); i >= 0 {
		name, suffix = name[:i], name[i:]
	}
	slash := strings.LastIndex(name, "/")
	if colon := strings.LastIndex(name, ":"); colon <= slash && suffix == "" {
		name += ":latest"
	}
	first := strings.SplitN(name, "/", 2)
	switch {
	case len(first) == 1:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first[0], ".:") && first[0] != "localhost":
		name = "docker.io/" + name
	}
	return name + suffix
}
