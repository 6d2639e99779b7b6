package main

import (
	"time"

	"github.com/spf13/cobra"

	"tug/internal/server"
)

func newServerCmd() *cobra.Command {
	cfg := server.Config{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: API server on etcd, scheduler, controllers",
		Long: `Run the control plane. On first start it creates its certificate authority under
DATA/pki, an admin kubeconfig at DATA/admin.kubeconfig, and the join token for node
agents at DATA/node-token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return server.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/tug/server", "directory for etcd data, certificates and credentials")
	f.StringVar(&cfg.Listen, "listen", "0.0.0.0:6443", "HTTPS address of the API server")
	f.StringVar(&cfg.EtcdServers, "etcd-servers", "", "comma-separated URLs of an external etcd cluster (default: embedded etcd)")
	f.StringSliceVar(&cfg.AdvertiseHosts, "tls-san", nil, "extra host names or addresses for the serving certificate")
	f.DurationVar(&cfg.CompactInterval, "compact-interval", 5*time.Minute, "how often etcd history older than one interval is compacted")
	f.StringVar(&cfg.Controllers.ClusterCIDR, "cluster-cidr", "10.244.0.0/16", "range node pod CIDRs (/24 each) are assigned from")
	f.DurationVar(&cfg.Controllers.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "how long a node may be silent before it is marked NotReady")
	f.StringSliceVar(&cfg.DisabledControllers, "disable-controllers", nil, "controllers not to run (by name)")
	f.StringVar(&cfg.NodeBridge, "node-bridge", "", "host bridge for node agents in network namespaces (tug agent --netns): created if missing; the server listens on its address too")
	f.StringVar(&cfg.NodeBridgeCIDR, "node-bridge-cidr", "10.200.0.1/24", "the host's address on --node-bridge, with the node network's prefix length")
	f.DurationVar(&cfg.BookmarkInterval, "watch-bookmark-interval", time.Minute, "how often a quiet watch that asked for bookmarks gets one")
	return cmd
}
