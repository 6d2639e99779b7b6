// Package leader runs a function only while this process holds a Lease, so that
// several servers can run the same control loop without acting twice.
package leader

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Config names the lease and the timings.
type Config struct {
	Client    kubernetes.Interface
	Namespace string // kube-system
	Name      string // e.g. kube-scheduler
	// Identity defaults to hostname_uuid.
	Identity      string
	LeaseDuration time.Duration // default 15s
	RenewDeadline time.Duration // default 10s
	RetryPeriod   time.Duration // default 2s
}

// Run calls lead with a context that ends when leadership is lost or ctx ends, each
// time this process becomes leader, until ctx ends.
func Run(ctx context.Context, cfg Config, lead func(ctx context.Context)) error {
	if cfg.Identity == "" {
		h, _ := os.Hostname()
		cfg.Identity = fmt.Sprintf("%s_%s", h, uuid.NewUUID())
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = 15 * time.Second
	}
	if cfg.RenewDeadline == 0 {
		cfg.RenewDeadline = 10 * time.Second
	}
	if cfg.RetryPeriod == 0 {
		cfg.RetryPeriod = 2 * time.Second
	}
	lock := &resourcelock.LeaseLock{
		Client:     cfg.Client.CoordinationV1(),
		LeaseMeta:  leaseMeta(cfg.Namespace, cfg.Name),
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   cfg.LeaseDuration,
			RenewDeadline:   cfg.RenewDeadline,
			RetryPeriod:     cfg.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            cfg.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					slog.Info("became leader", "lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity)
					lead(ctx)
				},
				OnStoppedLeading: func() {
					slog.Info("leadership ended", "lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity)
				},
			},
		})
		if err != nil {
			return err
		}
		le.Run(ctx)
	}
	return nil
}
