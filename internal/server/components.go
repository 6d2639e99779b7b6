package server

import (
	"context"
	"log/slog"
	"net/http"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"tug/internal/apiserver"
	"tug/internal/auth"
	"tug/internal/controller"
	_ "tug/internal/controller/all" // every controller
	"tug/internal/scheduler"
)

// inProcess is how in-process components (scheduler, controller manager) reach the
// API server: the same HTTP API as any client, with their own identities, so that
// RBAC, admission and audit treat them like the separate processes they could be;
// but handed straight to the API server's handler (no TLS, no connection, no HTTP/2
// framing), authenticated by random tokens that only that path accepts.
type inProcess struct {
	transport http.RoundTripper
	tokens    *auth.StaticTokens
}

func newInProcess() *inProcess {
	return &inProcess{tokens: &auth.StaticTokens{}}
}

// config returns a client configuration acting as user.
func (p *inProcess) config(user string, groups ...string) *rest.Config {
	token := auth.RandomToken(32)
	p.tokens.Set(token, &auth.User{Name: user, Groups: groups})
	return &rest.Config{
		Host:        "http://tug-in-process",
		BearerToken: token,
		Transport:   p.transport,
		ContentConfig: rest.ContentConfig{
			ContentType:        "application/vnd.kubernetes.protobuf",
			AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json",
		},
		// The components are part of the server; their request rate is bounded by
		// their own work queues, not by a client-side limiter.
		QPS: -1, Burst: -1,
		UserAgent: user,
	}
}

// runComponents starts the control loops once the API server is ready. Each is
// leader-elected through its own Lease, so several servers may run them.
func runComponents(ctx context.Context, pki *auth.PKI, inproc *inProcess, api inProcessWatcher, cfg Config) error {
	cmCfg := inproc.config(auth.UserControllers)
	cmClient, err := kubernetes.NewForConfig(cmCfg)
	if err != nil {
		return err
	}
	cmMeta, err := metadata.NewForConfig(cmCfg)
	if err != nil {
		return err
	}
	cmDirect := direct{srv: api, token: cmCfg.BearerToken}
	opts := cfg.Controllers
	opts.Signer = func(req controller.CertificateRequest) ([]byte, error) {
		certPEM, _, err := pki.CA.Issue(auth.CertRequest{CommonName: req.CommonName, Organizations: req.Organizations,
			Hosts: req.Hosts, PublicKey: req.PublicKey, Client: req.Client, Server: req.Server, Validity: req.Validity})
		return certPEM, err
	}
	go func() {
		err := controller.RunManager(ctx, controller.ManagerConfig{
			RestConfig: cmCfg,
			Client:     cmDirect.client(cmClient),
			Metadata:   cmDirect.metadata(cmMeta),
			Options:    opts,
			Disabled:   cfg.DisabledControllers,
		})
		if err != nil && ctx.Err() == nil {
			slog.Error("controller manager failed", "err", err)
		}
	}()
	schedCfg := inproc.config(auth.UserScheduler)
	schedClient, err := kubernetes.NewForConfig(schedCfg)
	if err != nil {
		return err
	}
	scheduler.RegisterMetrics(apiserver.Registry)
	go func() {
		if err := scheduler.Run(ctx, scheduler.Config{RestConfig: schedCfg,
			Client: direct{srv: api, token: schedCfg.BearerToken}.client(schedClient)}); err != nil && ctx.Err() == nil {
			slog.Error("scheduler failed", "err", err)
		}
	}()
	return nil
}
