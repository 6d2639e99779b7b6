package controller

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"tug/internal/controller/leader"
)

// Options are the settings controllers share (flags of `tug server`).
type Options struct {
	// ClusterCIDR is where node pod CIDRs come from (default 10.244.0.0/16, /24 each).
	ClusterCIDR string
	// NodeMonitorGracePeriod is how long a node may be silent before it is NotReady.
	NodeMonitorGracePeriod time.Duration
	// Workers is the number of concurrent reconciles per controller (default 5).
	Workers int
	// Signer issues the certificates of approved CertificateSigningRequests (the
	// cluster CA in tug server); nil leaves requests unsigned.
	Signer func(req CertificateRequest) (certPEM []byte, err error)
}

// CertificateRequest is what the CSR signing controller asks the Signer to certify.
type CertificateRequest struct {
	CommonName    string
	Organizations []string
	// Hosts are DNS names and IP addresses (serving certificates).
	Hosts     []string
	PublicKey crypto.PublicKey
	Client    bool
	Server    bool
	// Validity is the certificate's lifetime (0: the signer's default).
	Validity time.Duration
}

// Context is what every controller gets.
type Context struct {
	Client kubernetes.Interface
	// Metadata reads and deletes any resource by its metadata alone (garbage
	// collector, namespace controller). Nil in NewTestContext: tests set a fake.
	Metadata  metadata.Interface
	Informers informers.SharedInformerFactory
	Clock     clock.WithTicker
	Options   Options
	recorders *recorders
}

// Recorder returns an event recorder that reports as component.
func (c *Context) Recorder(component string) record.EventRecorder {
	return c.recorders.get(component)
}

// Runner is a started controller: Run blocks until ctx ends. Controllers wait for
// their informers' caches themselves (cache.WaitForCacheSync).
type Runner interface {
	Run(ctx context.Context)
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context)

// Run implements Runner.
func (f RunnerFunc) Run(ctx context.Context) { f(ctx) }

// Factory builds a controller from the shared context. It must not start anything:
// the manager calls Run once informers are set up.
type Factory func(c *Context) (Runner, error)

var (
	mu        sync.Mutex
	factories = map[string]Factory{}
)

// Register adds a controller under a name (e.g. "replicaset"). Call it from init().
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[name]; dup {
		panic("controller registered twice: " + name)
	}
	factories[name] = f
}

// Names lists the registered controllers, sorted.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(factories))
	for n := range factories {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ManagerConfig configures the controller manager.
type ManagerConfig struct {
	// RestConfig reaches the API server as system:kube-controller-manager.
	RestConfig *rest.Config
	// Client and Metadata, when set, are used instead of clients made from RestConfig.
	Client   kubernetes.Interface
	Metadata metadata.Interface
	Options  Options
	// Disabled names controllers not to run.
	Disabled []string
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// LeaseDuration etc. default to the leader package's defaults.
	LeaseDuration time.Duration
}

// RunManager runs every registered controller while this process is the leader.
func RunManager(ctx context.Context, cfg ManagerConfig) error {
	if cfg.Options.ClusterCIDR == "" {
		cfg.Options.ClusterCIDR = "10.244.0.0/16"
	}
	if cfg.Options.NodeMonitorGracePeriod == 0 {
		cfg.Options.NodeMonitorGracePeriod = 40 * time.Second
	}
	if cfg.Options.Workers == 0 {
		cfg.Options.Workers = 5
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	client := cfg.Client
	if client == nil {
		var err error
		if client, err = kubernetes.NewForConfig(cfg.RestConfig); err != nil {
			return err
		}
	}
	return leader.Run(ctx, leader.Config{Client: client, Namespace: "kube-system", Name: "kube-controller-manager", LeaseDuration: cfg.LeaseDuration}, func(ctx context.Context) {
		if err := runControllers(ctx, cfg, client); err != nil {
			slog.Error("controller manager stopped", "err", err)
		}
	})
}

func runControllers(ctx context.Context, cfg ManagerConfig, client kubernetes.Interface) error {
	disabled := map[string]bool{}
	for _, d := range cfg.Disabled {
		disabled[d] = true
	}
	md := cfg.Metadata
	if md == nil {
		var err error
		if md, err = metadata.NewForConfig(cfg.RestConfig); err != nil {
			return err
		}
	}
	recs := newRecorders(client)
	defer recs.shutdown()
	c := &Context{
		Client:    client,
		Metadata:  md,
		Informers: informers.NewSharedInformerFactory(client, 0),
		Clock:     cfg.Clock,
		Options:   cfg.Options,
		recorders: recs,
	}
	var runners []namedRunner
	for _, name := range Names() {
		if disabled[name] {
			continue
		}
		mu.Lock()
		f := factories[name]
		mu.Unlock()
		r, err := f(c)
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		runners = append(runners, namedRunner{name, r})
	}
	c.Informers.Start(ctx.Done())
	var wg sync.WaitGroup
	for _, nr := range runners {
		wg.Add(1)
		go func(nr namedRunner) {
			defer wg.Done()
			slog.Info("controller started", "controller", nr.name)
			nr.r.Run(ctx)
		}(nr)
	}
	<-ctx.Done()
	wg.Wait()
	c.Informers.Shutdown()
	return nil
}

type namedRunner struct {
	name string
	r    Runner
}

// recorders shares one event broadcaster between all controllers.
type recorders struct {
	b  record.EventBroadcaster
	mu sync.Mutex
	m  map[string]record.EventRecorder
}

func newRecorders(client kubernetes.Interface) *recorders {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return &recorders{b: b, m: map[string]record.EventRecorder{}}
}

func (r *recorders) get(component string) record.EventRecorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec, ok := r.m[component]; ok {
		return rec
	}
	if r.b == nil {
		return r.m[""]
	}
	rec := r.b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
	r.m[component] = rec
	return rec
}

func (r *recorders) shutdown() {
	if r.b != nil {
		r.b.Shutdown()
	}
}

// NewTestContext builds a Context over any client (a client-go fake in unit tests).
func NewTestContext(client kubernetes.Interface, clk clock.WithTicker, opts Options, rec record.EventRecorder) *Context {
	if opts.Workers == 0 {
		opts.Workers = 1
	}
	return &Context{
		Client: client, Informers: informers.NewSharedInformerFactory(client, 0), Clock: clk, Options: opts,
		recorders: &recorders{m: map[string]record.EventRecorder{"": rec}, b: nil},
	}
}
