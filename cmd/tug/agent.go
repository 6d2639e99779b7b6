package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"tug/internal/agent"
	"tug/internal/agent/network"
	"tug/internal/agent/node"
)

func newAgentCmd() *cobra.Command {
	cfg := agent.Config{}
	nodeCfg := node.Config{}
	var systemReserved []string
	var cpu, memory, pods, storage string
	var labels []string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Join a node to a cluster (or N simulated nodes with --hollow N)",
		Long: `Join this machine to a cluster as a node. The join token (DATA/node-token on the
server) is used once: the agent checks the server's CA against the hash in the
token, then asks for a client certificate as system:node:NAME and from then on
speaks only with it (DATA/kubeconfig). A restarted agent reuses its certificate.

With --hollow N it registers N simulated nodes in this process instead (names
PREFIX-0 … PREFIX-(N-1)): each joins with its own certificate, heartbeats through
its Lease and reports the pods bound to it as running, but runs no containers.
While the file DATA/hollow/NAME/silence exists, node NAME stops heartbeating and
acting, as if it had died.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			capacity := corev1.ResourceList{}
			for name, v := range map[corev1.ResourceName]string{
				corev1.ResourceCPU: cpu, corev1.ResourceMemory: memory, corev1.ResourcePods: pods, corev1.ResourceEphemeralStorage: storage,
			} {
				q, err := resource.ParseQuantity(v)
				if err != nil {
					return fmt.Errorf("--hollow-%s: %w", strings.TrimPrefix(string(name), "ephemeral-"), err)
				}
				capacity[name] = q
			}
			cfg.HollowNodes.Capacity = capacity
			cfg.HollowNodes.Labels = map[string]string{}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return fmt.Errorf("--node-labels: %q is not KEY=VALUE", l)
				}
				cfg.HollowNodes.Labels[k] = v
			}
			nodeCfg.Labels = cfg.HollowNodes.Labels
			reserved, err := parseReserved(systemReserved)
			if err != nil {
				return err
			}
			nodeCfg.Reserved = reserved
			cfg.Runner = &node.Runner{Config: nodeCfg}
			return agent.Run(cmd.Context(), cfg)
		},
	}
	host, _ := os.Hostname()
	f := cmd.Flags()
	f.StringVar(&cfg.Server, "server", "", "URL of the API server, e.g. https://10.0.0.1:6443")
	f.StringVar(&cfg.TokenFile, "token-file", "", "file holding the join token (DATA/node-token on the server); not needed once the node holds a valid certificate")
	f.StringVar(&cfg.Name, "name", strings.ToLower(host), "node name (with --hollow: the prefix of the node names)")
	f.StringVar(&cfg.NamePrefix, "name-prefix", "", "prefix of hollow node names (default: --name, or \"hollow\")")
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/tug/agent", "directory for the node's credential and state")
	f.BoolVar(&cfg.JoinOnly, "join-only", false, "join (or check the saved credential) and exit")
	f.IntVar(&cfg.Hollow, "hollow", 0, "run this many simulated nodes (no containers) instead of a real node")
	f.IntVar(&cfg.JoinParallel, "hollow-join-parallel", 32, "hollow nodes joining at once")
	f.StringVar(&cpu, "hollow-cpu", "32", "CPU capacity of each hollow node")
	f.StringVar(&memory, "hollow-memory", "256Gi", "memory capacity of each hollow node")
	f.StringVar(&pods, "hollow-pods", "110", "pod capacity of each hollow node")
	f.StringVar(&storage, "hollow-ephemeral-storage", "1Ti", "ephemeral storage capacity of each hollow node")
	f.StringSliceVar(&labels, "node-labels", nil, "extra labels for the hollow nodes (KEY=VALUE,...)")
	f.DurationVar(&cfg.HollowNodes.PodLifetime, "hollow-pod-lifetime", 5*time.Second, "how long pods with restartPolicy Never/OnFailure run on a hollow node before they succeed")
	f.DurationVar(&cfg.HollowNodes.HeartbeatInterval, "hollow-heartbeat-interval", 10*time.Second, "how often each hollow node renews its lease")
	f.DurationVar(&cfg.HollowNodes.StatusInterval, "hollow-status-interval", time.Minute, "how often an unchanged hollow node status is posted again")
	// The real node (without --hollow).
	f.StringVar(&nodeCfg.Netns, "netns", "", "run the node and everything it starts in this network namespace (created if missing, joined to --bridge)")
	f.StringVar(&nodeCfg.Bridge, "bridge", network.DefaultBridge, "host bridge the --netns namespace joins")
	f.StringVar(&nodeCfg.BridgeCIDR, "bridge-cidr", network.DefaultBridgeCIDR, "the host's address on --bridge, with the node network's prefix length")
	f.StringVar(&nodeCfg.NodeIP, "node-ip", "", "the node's address (default: picked from the bridge subnet with --netns, else the host's)")
	f.BoolVar(&nodeCfg.Egress, "egress", false, "let pods reach beyond the node network (masquerading through the node)")
	f.StringVar(&nodeCfg.RuntimeEndpoint, "container-runtime-endpoint", "", "CRI socket of a running containerd or CRI-O (default: the node's own containerd under --data-dir)")
	f.StringVar(&nodeCfg.PodCIDR, "pod-cidr", "", "the node's pod range (default: assigned by the control plane)")
	f.StringSliceVar(&nodeCfg.ClusterDNS, "cluster-dns", nil, "cluster DNS server addresses for pods (default: the node's own resolver)")
	f.StringVar(&nodeCfg.ClusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	f.StringVar(&nodeCfg.ManifestsDir, "manifests-dir", "", "directory of static pod manifests (default DATA/manifests)")
	f.StringVar(&nodeCfg.PauseBinary, "pause-binary", "", "static pause program for the sandbox image (default: pause next to tug)")
	f.IntVar(&nodeCfg.Port, "port", 10250, "the node's HTTPS port")
	f.StringSliceVar(&systemReserved, "system-reserved", nil, "resources kept back from pods besides the eviction margins, like cpu=100m,memory=256Mi")
	return cmd
}
