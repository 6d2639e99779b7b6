package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"tug/internal/agent/network"
	"tug/internal/up"
)

func newUpCmd() *cobra.Command {
	cfg := up.Config{}
	var dns, systemReserved []string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a one-node cluster on this machine: the control plane and a node in one process",
		Long: `Run the control plane and one node in this process. The node runs in its own
network namespace (NETNS, created here) joined to the host bridge BRIDGE, which the
API server also listens on; pods get addresses from the node's pod CIDR. The admin
kubeconfig is DATA/admin.kubeconfig. When tug up stops, it stops the pods and removes
the namespace (and the bridge, once no other node uses it); the data dir stays.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Node.ClusterDNS = dns
			reserved, err := parseReserved(systemReserved)
			if err != nil {
				return err
			}
			cfg.Node.Reserved = reserved
			return up.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/tug", "directory for all cluster and node data")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:6443", "HTTPS address of the API server on the host")
	f.StringVar(&cfg.NodeName, "node-name", "", "node name (default: the host name)")
	f.StringVar(&cfg.Netns, "netns", "", "the node's network namespace (default tug-NODENAME)")
	f.StringVar(&cfg.Bridge, "bridge", network.DefaultBridge, "host bridge joining the node to the host")
	f.StringVar(&cfg.BridgeCIDR, "bridge-cidr", network.DefaultBridgeCIDR, "the host's address on the bridge, with the node network's prefix length")
	f.StringVar(&cfg.NodeIP, "node-ip", "", "the node's address on the bridge (default: picked from the bridge subnet)")
	f.BoolVar(&cfg.Egress, "egress", false, "let pods reach beyond this machine (masquerading through the node)")
	f.StringVar(&cfg.Node.PodCIDR, "pod-cidr", "", "the node's pod range (default: assigned by the control plane from --cluster-cidr)")
	f.StringVar(&cfg.Server.Controllers.ClusterCIDR, "cluster-cidr", "10.244.0.0/16", "range node pod CIDRs (/24 each) are assigned from")
	f.DurationVar(&cfg.Server.Controllers.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "how long a node may be silent before it is marked NotReady")
	f.DurationVar(&cfg.Server.CompactInterval, "compact-interval", 5*time.Minute, "how often etcd history is compacted")
	f.StringSliceVar(&dns, "cluster-dns", nil, "cluster DNS server addresses for pods (default: the node's own resolver)")
	f.StringVar(&cfg.Node.ClusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	f.StringVar(&cfg.Node.PauseBinary, "pause-binary", "", "static pause program for the sandbox image (default: pause next to tug)")
	f.StringSliceVar(&systemReserved, "system-reserved", nil, "resources kept back from pods besides the eviction margins, like cpu=100m,memory=256Mi")
	return cmd
}

// parseReserved reads NAME=QUANTITY pairs.
func parseReserved(pairs []string) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for _, p := range pairs {
		name, val, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--system-reserved: %q is not NAME=QUANTITY", p)
		}
		q, err := resource.ParseQuantity(val)
		if err != nil {
			return nil, fmt.Errorf("--system-reserved %s: %w", name, err)
		}
		out[corev1.ResourceName(name)] = q
	}
	return out, nil
}
