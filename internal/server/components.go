package server

import (
	"context"
	"log/slog"

	"k8s.io/client-go/rest"

	"tug/internal/apiserver"
	"tug/internal/auth"
	"tug/internal/controller"
	_ "tug/internal/controller/all" // every controller
	"tug/internal/scheduler"
)

// componentConfig is how an in-process component (scheduler, controller manager)
// reaches the API server: over HTTPS like any client, with its own identity, so that
// RBAC, admission and audit treat it like the separate process it could be.
func componentConfig(pki *auth.PKI, serverURL, user string, groups ...string) (*rest.Config, error) {
	certPEM, keyPEM, err := pki.CA.Issue(auth.CertRequest{CommonName: user, Organizations: groups, Client: true})
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host: serverURL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: pki.CA.CertPEM, CertData: certPEM, KeyData: keyPEM,
		},
		ContentConfig: rest.ContentConfig{
			ContentType:        "application/vnd.kubernetes.protobuf",
			AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json",
		},
		// The components are part of the server; their request rate is bounded by
		// their own work queues, not by a client-side limiter.
		QPS: -1, Burst: -1,
		UserAgent: user,
	}, nil
}

// runComponents starts the control loops once the API server is ready. Each is
// leader-elected through its own Lease, so several servers may run them.
func runComponents(ctx context.Context, pki *auth.PKI, serverURL string, cfg Config) error {
	cmCfg, err := componentConfig(pki, serverURL, auth.UserControllers)
	if err != nil {
		return err
	}
	opts := cfg.Controllers
	opts.Signer = func(req controller.CertificateRequest) ([]byte, error) {
		certPEM, _, err := pki.CA.Issue(auth.CertRequest{CommonName: req.CommonName, Organizations: req.Organizations,
			Hosts: req.Hosts, PublicKey: req.PublicKey, Client: req.Client, Server: req.Server, Validity: req.Validity})
		return certPEM, err
	}
	go func() {
		err := controller.RunManager(ctx, controller.ManagerConfig{
			RestConfig: cmCfg,
			Options:    opts,
			Disabled:   cfg.DisabledControllers,
		})
		if err != nil && ctx.Err() == nil {
			slog.Error("controller manager failed", "err", err)
		}
	}()
	schedCfg, err := componentConfig(pki, serverURL, auth.UserScheduler)
	if err != nil {
		return err
	}
	scheduler.RegisterMetrics(apiserver.Registry)
	go func() {
		if err := scheduler.Run(ctx, scheduler.Config{RestConfig: schedCfg}); err != nil && ctx.Err() == nil {
			slog.Error("scheduler failed", "err", err)
		}
	}()
	return nil
}
