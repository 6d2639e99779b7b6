package storage

import (
	"context"
	"errors"
	"fmt"

	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// Etcd is a connection to the etcd that holds the cluster state: either a member
// embedded in this process or an external cluster.
type Etcd struct {
	Client *clientv3.Client
	// ClientURL is where the embedded member listens (loopback); empty for external etcd.
	ClientURL string
	embedded  *embed.Etcd
}

// EmbeddedConfig configures the embedded etcd member.
type EmbeddedConfig struct {
	DataDir string
	// ProgressNotifyInterval is how often etcd reports watch progress (used for bookmarks).
	ProgressNotifyInterval time.Duration
}

// StartEmbedded starts an etcd member with its data in cfg.DataDir, listening only on
// loopback, and returns an in-process client to it.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Etcd, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create etcd data dir: %w", err)
	}
	ec := embed.NewConfig()
	ec.Name = "tug"
	ec.Dir = cfg.DataDir
	ec.Logger = "zap"
	ec.LogLevel = "error"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	ec.InitialClusterToken = "tug"
	// The raft log is kept in memory between snapshots; a single embedded member
	// has no follower to catch up, so a short log costs nothing and saves memory.
	ec.SnapshotCount = 5000
	ec.SnapshotCatchUpEntries = 1000
	ec.QuotaBackendBytes = 8 << 30
	ec.MaxRequestBytes = 3 << 20
	if cfg.ProgressNotifyInterval > 0 {
		ec.ExperimentalWatchProgressNotifyInterval = cfg.ProgressNotifyInterval
	}
	// Compaction is driven by the API server (see Compactor), like kube-apiserver does.
	ec.AutoCompactionRetention = "0"
	// The ports are free when picked but may be taken before etcd binds them
	// (by any other process); then pick others.
	var e *embed.Etcd
	var cu *url.URL
	for attempt := 0; ; attempt++ {
		clientPort, err := pickPort()
		if err != nil {
			return nil, err
		}
		peerPort, err := pickPort()
		if err != nil {
			return nil, err
		}
		cu, _ = url.Parse(fmt.Sprintf("http://127.0.0.1:%d", clientPort))
		pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", peerPort))
		ec.ListenClientUrls = []url.URL{*cu}
		ec.AdvertiseClientUrls = []url.URL{*cu}
		ec.ListenPeerUrls = []url.URL{*pu}
		ec.AdvertisePeerUrls = []url.URL{*pu}
		ec.InitialCluster = fmt.Sprintf("%s=%s", ec.Name, pu.String())
		// The member keeps its own ID in the WAL; a restart rejoins it.
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "member")); err == nil {
			ec.ClusterState = embed.ClusterStateFlagExisting
		}
		e, err = embed.StartEtcd(ec)
		if err == nil {
			break
		}
		if (errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")) && attempt < 5 {
			slog.Info("embedded etcd: port taken meanwhile, trying others", "err", err)
			continue
		}
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.DataDir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd did not become ready within 60s")
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	slog.Info("embedded etcd ready", "dataDir", cfg.DataDir, "clientURL", cu.String())
	return &Etcd{Client: v3client.New(e.Server), ClientURL: cu.String(), embedded: e}, nil
}

// ConnectExternal connects to an external etcd cluster (comma-separated URLs).
func ConnectExternal(ctx context.Context, servers string) (*Etcd, error) {
	eps := strings.Split(servers, ",")
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   eps,
		DialTimeout: 10 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithBlock()},
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %s: %w", servers, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Get(cctx, "/registry/health-check"); err != nil {
		c.Close()
		return nil, fmt.Errorf("etcd %s is not answering: %w", servers, err)
	}
	return &Etcd{Client: c}, nil
}

// Close stops the embedded member (if any) and closes the client.
func (e *Etcd) Close() {
	if e.Client != nil {
		e.Client.Close()
	}
	if e.embedded != nil {
		e.embedded.Close()
	}
}

// pickPort picks the embedded etcd's ports (a variable for tests).
var pickPort = freeLoopbackPort

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
