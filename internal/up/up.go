// Package up is `tug up`: a server and one node in one process on this machine.
// The node runs in its own network namespace joined to a host bridge that the
// server also listens on; when tug up ends, the node's pods, its namespace and
// the bridge (once no other node uses it) go away.
package up

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"tug/internal/agent"
	"tug/internal/agent/network"
	"tug/internal/agent/node"
	"tug/internal/auth"
	"tug/internal/server"
)

// Config configures `tug up`.
type Config struct {
	// DataDir holds the server's data (DIR/admin.kubeconfig, DIR/etcd, DIR/pki)
	// and the node's (DIR/agent).
	DataDir string
	// Listen is the API server's address on the host.
	Listen string
	// NodeName is the node's name (default: the host name).
	NodeName string
	// Netns is the node's network namespace (default tug-NODENAME).
	Netns string
	// Bridge and BridgeCIDR are the host bridge and its address.
	Bridge     string
	BridgeCIDR string
	// NodeIP is the node's address on the bridge.
	NodeIP string
	// Egress lets pods reach beyond this machine.
	Egress bool
	// Server carries the remaining server settings (data dir, listen and
	// bridge are set here).
	Server server.Config
	// Node carries the remaining node settings.
	Node node.Config
	// Ready, if set, is called once the node runs pods.
	Ready func(kubeconfig string)
}

// Run runs the server and the node until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.DataDir == "" {
		return errors.New("--data-dir is required")
	}
	if cfg.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return err
		}
		cfg.NodeName = strings.ToLower(h)
	}
	if cfg.Netns == "" {
		cfg.Netns = "tug-" + cfg.NodeName
		if len(cfg.Netns) > 60 {
			cfg.Netns = cfg.Netns[:60]
		}
	}
	br, err := network.ParseBridge(cfg.Bridge, cfg.BridgeCIDR)
	if err != nil {
		return err
	}
	if _, err := br.Ensure(); err != nil {
		return fmt.Errorf("node bridge %s: %w", br.Name, err)
	}
	defer func() {
		// Other nodes may still use it; the last one out removes it.
		if err := br.DeleteIfUnused(); err != nil {
			slog.Warn("remove node bridge", "bridge", br.Name, "err", err)
		}
	}()

	sctx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	scfg := cfg.Server
	scfg.DataDir = cfg.DataDir
	scfg.Listen = cfg.Listen
	scfg.NodeBridge, scfg.NodeBridgeCIDR = br.Name, br.Addr.String()
	ready := make(chan string, 1)
	scfg.Ready = func(url string) { ready <- url }
	serverDone := make(chan error, 1)
	go func() { serverDone <- server.Run(sctx, scfg) }()
	var serverURL string
	select {
	case serverURL = <-ready:
	case err := <-serverDone:
		if err == nil {
			err = ctx.Err()
		}
		return err
	case <-ctx.Done():
		<-serverDone
		return nil
	}

	// The node speaks as system:node:NAME with a certificate from the cluster
	// CA (in one process there is nothing to join), to the server's address on
	// the bridge, which its namespace reaches.
	rc, id, err := nodeIdentity(cfg, br, serverURL)
	if err != nil {
		return err
	}
	ncfg := cfg.Node
	ncfg.DataDir = id.Dir
	ncfg.Netns, ncfg.Bridge, ncfg.BridgeCIDR, ncfg.NodeIP, ncfg.Egress = cfg.Netns, br.Name, br.Addr.String(), cfg.NodeIP, cfg.Egress
	ncfg.Cleanup = true
	kubeconfig := server.AdminKubeconfig(cfg.DataDir)
	ncfg.Ready = func(*node.Node) {
		slog.Info("tug is up", "kubeconfig", kubeconfig, "node", id.Name)
		if cfg.Ready != nil {
			cfg.Ready(kubeconfig)
		}
	}
	nodeErr := (&node.Runner{Config: ncfg}).Run(ctx, rc, id)
	stopServer()
	select {
	case serr := <-serverDone:
		if nodeErr == nil {
			nodeErr = serr
		}
	case <-time.After(15 * time.Second):
	}
	if errors.Is(nodeErr, context.Canceled) {
		nodeErr = nil
	}
	return nodeErr
}

func nodeIdentity(cfg Config, br network.Bridge, serverURL string) (*rest.Config, agent.NodeIdentity, error) {
	pki, err := auth.EnsurePKI(filepath.Join(cfg.DataDir, "pki"), nil)
	if err != nil {
		return nil, agent.NodeIdentity{}, err
	}
	certPEM, keyPEM, err := pki.CA.Issue(auth.CertRequest{CommonName: "system:node:" + cfg.NodeName, Organizations: []string{auth.GroupNodes}, Client: true})
	if err != nil {
		return nil, agent.NodeIdentity{}, err
	}
	port := serverURL[strings.LastIndex(serverURL, ":")+1:]
	host := fmt.Sprintf("https://%s:%s", br.HostIP(), port)
	dir := filepath.Join(cfg.DataDir, "agent")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, agent.NodeIdentity{}, err
	}
	kc := filepath.Join(dir, "kubeconfig")
	if err := (auth.Kubeconfig{Server: host, Context: "tug-node", CAPEM: pki.CA.CertPEM, CertPEM: certPEM, KeyPEM: keyPEM}).Write(kc); err != nil {
		return nil, agent.NodeIdentity{}, err
	}
	rc := &rest.Config{
		Host:            host,
		TLSClientConfig: rest.TLSClientConfig{CAData: pki.CA.CertPEM, CertData: certPEM, KeyData: keyPEM},
		ContentConfig: rest.ContentConfig{
			ContentType:        "application/vnd.kubernetes.protobuf",
			AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json",
		},
		QPS: 200, Burst: 400,
		UserAgent: "tug-node/" + cfg.NodeName,
	}
	return rc, agent.NodeIdentity{Name: cfg.NodeName, Dir: dir, Kubeconfig: kc}, nil
}
