// Package node is a real node: its network (a namespace joined to a host bridge,
// or the host's own), its container runtime (a supervised containerd, or one
// given by endpoint), its images, the kubelet that runs its pods, and its HTTPS
// server. It implements agent.NodeRunner.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"tug/internal/agent"
	"tug/internal/agent/containerd"
	"tug/internal/agent/cri"
	"tug/internal/agent/images"
	"tug/internal/agent/kubelet"
	"tug/internal/agent/network"
	"tug/internal/agent/stream"
)

// Config configures a real node.
type Config struct {
	// DataDir holds everything the node keeps: containerd's root and state,
	// images, pod directories, logs.
	DataDir string
	// Netns, when set, runs the node in that network namespace (created if
	// missing, joined to Bridge by a veth pair).
	Netns string
	// Bridge and BridgeCIDR name the host bridge and the host's address on it.
	Bridge     string
	BridgeCIDR string
	// NodeIP is the node's address (default: picked from the bridge subnet by
	// the namespace name, or the host's address without a namespace).
	NodeIP string
	// Egress lets pods reach beyond the node network (never in tests).
	Egress bool
	// RuntimeEndpoint uses a running CRI runtime instead of an own containerd.
	RuntimeEndpoint string
	// PodCIDR sets the node's pod range at registration (default: assigned by
	// the control plane).
	PodCIDR string
	// ClusterDNS and ClusterDomain configure pods' resolv.conf.
	ClusterDNS    []string
	ClusterDomain string
	// ManifestsDir holds static pod manifests (default DATA/manifests).
	ManifestsDir string
	// PauseBinary and BusyboxBinary build the built-in images.
	PauseBinary   string
	BusyboxBinary string
	// Port is the node's HTTPS port (default 10250).
	Port int
	// Labels are extra node labels.
	Labels map[string]string
	// Reserved is kept back from capacity for the system.
	Reserved corev1.ResourceList
	// Cleanup, on exit, stops every pod, containerd, and removes the node's
	// network namespace (what `tug up` does); otherwise containers keep running
	// for the next agent to adopt.
	Cleanup bool
	// Ready, if set, is called once the node runs pods.
	Ready func(n *Node)
}

// Node is a running node, for callers that want its parts (tests, tug up).
type Node struct {
	Name       string
	IP         net.IP
	Netns      *network.Namespace
	Runtime    *cri.Client
	Containerd *containerd.Supervisor
	Kubelet    *kubelet.Kubelet
	Server     *Server
}

// Runner runs the node under a joined identity.
type Runner struct {
	Config Config
}

var _ agent.NodeRunner = (*Runner)(nil)

// Paths under the data dir.
func ContainerdDir(data string) string { return filepath.Join(data, "containerd") }
func ImagesDir(data string) string     { return filepath.Join(data, "images") }
func KubeletDir(data string) string    { return filepath.Join(data, "kubelet") }
func CNIDir(data string) string        { return filepath.Join(data, "cni") }

// Run runs the node until ctx ends.
func (r *Runner) Run(ctx context.Context, rc *rest.Config, id agent.NodeIdentity) error {
	cfg := r.Config
	if cfg.DataDir == "" {
		cfg.DataDir = id.Dir
	}
	if cfg.ManifestsDir == "" {
		cfg.ManifestsDir = filepath.Join(cfg.DataDir, "manifests")
	}
	if cfg.Port == 0 {
		cfg.Port = 10250
	}
	for _, d := range []string{cfg.DataDir, ImagesDir(cfg.DataDir), KubeletDir(cfg.DataDir), cfg.ManifestsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := network.CheckPlugins(network.CNIBinDir); err != nil && cfg.RuntimeEndpoint == "" {
		return err
	}
	n := &Node{Name: id.Name}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Network.
	var link *network.NodeLink
	var bridge network.Bridge
	if cfg.Netns != "" {
		var err error
		bridge, err = network.ParseBridge(cfg.Bridge, cfg.BridgeCIDR)
		if err != nil {
			return err
		}
		ip := bridge.NodeIPFor(cfg.Netns)
		if cfg.NodeIP != "" {
			if ip, err = netip.ParseAddr(cfg.NodeIP); err != nil {
				return fmt.Errorf("--node-ip: %w", err)
			}
		}
		link = &network.NodeLink{Bridge: bridge, Netns: cfg.Netns, IP: ip, Egress: cfg.Egress}
		ns, err := link.Ensure()
		if err != nil {
			return err
		}
		n.Netns = ns
		n.IP = net.IP(ip.AsSlice())
		defer ns.Close()
		if cfg.Cleanup {
			defer func() {
				if err := link.Delete(); err != nil {
					slog.Warn("remove node network namespace", "err", err)
				}
			}()
		}
		slog.Info("node network", "netns", cfg.Netns, "ip", ip, "bridge", bridge.Name)
	} else {
		ip, err := hostIP(cfg.NodeIP)
		if err != nil {
			return err
		}
		n.IP = ip
	}
	// The API server is reached from the node's network, unless it listens on
	// loopback only (a server on this host), which the namespace cannot reach.
	if n.Netns != nil && !loopbackURL(rc.Host) {
		rc = rest.CopyConfig(rc)
		rc.Dial = n.Netns.DialContext
	}

	// Runtime.
	endpoint := cfg.RuntimeEndpoint
	var sup *containerd.Supervisor
	var cniConf string
	if endpoint == "" {
		cniConf = filepath.Join(CNIDir(cfg.DataDir), "net.d")
		var err error
		sup, err = containerd.New(containerd.Config{
			Dir: ContainerdDir(cfg.DataDir), Netns: n.Netns, SandboxImage: images.PauseImage,
			CNIConfDir: cniConf, CNIBinDir: network.CNIBinDir,
		})
		if err != nil {
			return err
		}
		// containerd outlives a cancelled agent only as long as it takes to stop.
		supCtx, supCancel := context.WithCancel(context.Background())
		defer func() {
			supCancel()
			waitGone(sup, 15*time.Second)
			if cfg.Cleanup {
				// Every pod is gone: so is the state tmpfs.
				if err := sup.Config().UnmountState(); err != nil {
					slog.Warn("unmount containerd's state", "err", err)
				}
			}
		}()
		if err := sup.Start(supCtx); err != nil {
			return err
		}
		endpoint = sup.Endpoint()
		n.Containerd = sup
	}
	rt, err := cri.Dial(endpoint)
	if err != nil {
		return err
	}
	defer rt.Close()
	n.Runtime = rt
	ver, err := waitRuntime(ctx, rt, 60*time.Second)
	if err != nil {
		return fmt.Errorf("container runtime at %s does not answer: %w", endpoint, err)
	}
	runtimeVersion := ver.RuntimeName + "://" + ver.RuntimeVersion
	slog.Info("container runtime", "endpoint", endpoint, "version", runtimeVersion)

	// Images.
	if warns, err := images.EnsureBuiltins(ImagesDir(cfg.DataDir), cfg.PauseBinary, cfg.BusyboxBinary); err != nil {
		return fmt.Errorf("build the node's built-in images: %w", err)
	} else {
		for _, w := range warns {
			slog.Warn("built-in image skipped", "err", w)
		}
	}
	socket := strings.TrimPrefix(endpoint, "unix://")
	if err := (images.Importer{Socket: socket}).ImportDir(ctx, ImagesDir(cfg.DataDir)); err != nil {
		slog.Warn("import images", "err", err)
	}

	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	onCIDR := func(cidr string) error {
		if sup == nil {
			return nil
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return err
		}
		pn := network.PodNetwork{PodCIDR: p, ConfDir: cniConf, IPAMDir: filepath.Join(CNIDir(cfg.DataDir), "ipam"), Masquerade: cfg.Egress}
		if err := pn.Write(); err != nil {
			return err
		}
		if n.Netns != nil {
			return network.NodeRules(n.Netns, p, bridge.Addr, cfg.Egress)
		}
		return nil
	}
	var dns []string
	dns = append(dns, cfg.ClusterDNS...)
	kl, err := kubelet.New(kubelet.Config{
		NodeName:       id.Name,
		Client:         client,
		Runtime:        rt,
		Events:         rt,
		Dial:           n.Netns.DialContext,
		NodeIP:         n.IP,
		RootDir:        KubeletDir(cfg.DataDir),
		ClusterDNS:     dns,
		ClusterDomain:  cfg.ClusterDomain,
		ManifestsDir:   cfg.ManifestsDir,
		Port:           int32(cfg.Port),
		Labels:         cfg.Labels,
		PodCIDR:        cfg.PodCIDR,
		Reserved:       cfg.Reserved,
		RuntimeVersion: runtimeVersion,
		OnPodCIDR:      onCIDR,
	})
	if err != nil {
		return err
	}
	n.Kubelet = kl

	srv := &Server{Node: n, Kubelet: kl, Runtime: rt}
	srv.GetCertificate = stream.Start(runCtx, srv, stream.Node{Name: id.Name, IP: n.IP, Client: client, CAPEM: rc.TLSClientConfig.CAData,
		Runtime: stream.CRI(rt), Dial: n.Netns.DialContext, CertDir: filepath.Join(cfg.DataDir, "pki")})
	l, err := n.Netns.Listen("tcp", net.JoinHostPort(n.IP.String(), fmt.Sprint(cfg.Port)))
	if err != nil {
		return fmt.Errorf("node HTTPS port: %w", err)
	}
	n.Server = srv
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(runCtx, l, rc); err != nil && runCtx.Err() == nil {
			slog.Error("node HTTPS server", "err", err)
		}
	}()
	if cfg.Ready != nil {
		go func() {
			select {
			case <-kl.Started():
				cfg.Ready(n)
			case <-runCtx.Done():
			}
		}()
	}
	err = kl.Run(runCtx)
	cancel()
	wg.Wait()
	if cfg.Cleanup {
		cctx, ccancel := context.WithTimeout(context.Background(), 60*time.Second)
		if cerr := kl.StopAllPods(cctx); cerr != nil {
			slog.Warn("stop pods", "err", cerr)
		}
		ccancel()
		defer func() {
			if err := kubelet.RemoveCgroups(kl.CgroupRoot(), true); err != nil {
				slog.Warn("remove the node's cgroups", "err", err)
			}
		}()
	}
	return err
}

// waitRuntime waits until the runtime answers (containerd's CRI plugin loads
// its state for a moment after start).
func waitRuntime(ctx context.Context, rt *cri.Client, d time.Duration) (*runtimeapi.VersionResponse, error) {
	deadline := time.Now().Add(d)
	for {
		vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ver, err := rt.Version(vctx)
		cancel()
		if err == nil {
			return ver, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitGone waits for the supervised containerd to exit.
func waitGone(sup *containerd.Supervisor, d time.Duration) {
	deadline := time.Now().Add(d)
	for sup.PID() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

func loopbackURL(host string) bool {
	u, err := url.Parse(host)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// hostIP is the node's address without a namespace: the given one, or the
// first global unicast IPv4 address of an interface that is up.
func hostIP(given string) (net.IP, error) {
	if given != "" {
		ip := net.ParseIP(given)
		if ip == nil {
			return nil, fmt.Errorf("--node-ip %q is not an IP address", given)
		}
		return ip, nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP, nil
			}
		}
	}
	return nil, errors.New("no address for the node: pass --node-ip")
}
