// Package server assembles `tug server`: the embedded (or external) etcd, the API
// server with its certificates and credentials, and the control-plane loops.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"tug/internal/agent/network"
	"tug/internal/apiserver"
	"tug/internal/auth"
	"tug/internal/controller"
	"tug/internal/memory"
	"tug/internal/openapi"
	"tug/internal/registry"
	"tug/internal/storage"
	"tug/internal/version"
)

// Config configures `tug server`.
type Config struct {
	DataDir string
	// Listen is the HTTPS address (host:port; port 0 picks one).
	Listen string
	// EtcdServers, when set, uses that etcd cluster instead of the embedded member.
	EtcdServers string
	// AdvertiseHosts are extra names and addresses for the serving certificate.
	AdvertiseHosts []string
	// CompactInterval is how often etcd history is compacted (default 5 minutes).
	CompactInterval time.Duration
	// BookmarkInterval is how often quiet watches get a bookmark (default 1 minute).
	BookmarkInterval time.Duration
	// Ready, if set, receives the server's URL once it serves.
	Ready func(url string)
	// Controllers configures the controller manager.
	Controllers controller.Options
	// DisabledControllers names controllers not to run.
	DisabledControllers []string
	// NodeBridge, when set, is the host bridge node agents in network
	// namespaces join (created if missing, with the host address NodeBridgeCIDR):
	// the server also listens on that address, on the same port, so that nodes
	// reach it from their namespaces.
	NodeBridge     string
	NodeBridgeCIDR string
}

// Server is a running `tug server`.
type Server struct {
	cfg     Config
	API     *apiserver.Server
	Storage *storage.Storage
	PKI     *auth.PKI
	URL     string
	Etcd    *storage.Etcd
}

// listenOnBridge creates the node bridge if missing and listens on its host
// address. A server listening on one address only (not 0.0.0.0) gets the
// bridge address as a second one.
func listenOnBridge(name, cidr, host, port string) (net.Listener, string, error) {
	br, err := network.ParseBridge(name, cidr)
	if err != nil {
		return nil, "", err
	}
	if _, err := br.Ensure(); err != nil {
		return nil, "", fmt.Errorf("node bridge %s: %w", br.Name, err)
	}
	bhost := br.HostIP().String()
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		// Already listening on every address, the bridge's included.
		return nil, bhost, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(bhost, port))
	if err != nil {
		return nil, "", fmt.Errorf("listen on the node bridge: %w", err)
	}
	return l, bhost, nil
}

// Paths under the data dir.
func AdminKubeconfig(dataDir string) string { return filepath.Join(dataDir, "admin.kubeconfig") }
func NodeTokenFile(dataDir string) string   { return filepath.Join(dataDir, "node-token") }

// Run starts the server and blocks until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.DataDir == "" {
		return errors.New("--data-dir is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "0.0.0.0:6443"
	}
	if cfg.CompactInterval == 0 {
		cfg.CompactInterval = 5 * time.Minute
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer l.Close()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	clientHost := host
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		clientHost = "127.0.0.1"
	}
	serverURL := (&url.URL{Scheme: "https", Host: net.JoinHostPort(clientHost, port)}).String()

	hosts := auth.Hostnames(append([]string{clientHost}, cfg.AdvertiseHosts...)...)
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		hosts = auth.Hostnames(append([]string{host}, hosts...)...)
	}
	var listeners []net.Listener
	if cfg.NodeBridge != "" {
		bl, bhost, err := listenOnBridge(cfg.NodeBridge, cfg.NodeBridgeCIDR, host, port)
		if err != nil {
			return err
		}
		if bl != nil {
			defer bl.Close()
			listeners = append(listeners, bl)
		}
		hosts = auth.Hostnames(append(hosts, bhost)...)
	}
	pki, err := auth.EnsurePKI(filepath.Join(cfg.DataDir, "pki"), hosts)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	if err := writeAdminKubeconfig(cfg.DataDir, pki, serverURL); err != nil {
		return err
	}
	nodeToken, err := ensureNodeToken(cfg.DataDir, pki.CA)
	if err != nil {
		return err
	}

	var etcd *storage.Etcd
	if cfg.EtcdServers != "" {
		etcd, err = storage.ConnectExternal(ctx, cfg.EtcdServers)
	} else {
		etcd, err = storage.StartEmbedded(ctx, storage.EmbeddedConfig{DataDir: filepath.Join(cfg.DataDir, "etcd"), ProgressNotifyInterval: 5 * time.Second})
	}
	if err != nil {
		return err
	}
	defer etcd.Close()

	store := storage.New(etcd.Client, registry.Scheme, storage.Options{BookmarkInterval: cfg.BookmarkInterval})
	authn := &auth.Authenticator{Roots: pki.CA.Pool()}
	tokens := &auth.StaticTokens{}
	tokens.Set(nodeToken, &auth.User{Name: "system:bootstrap:tug", Groups: []string{auth.GroupBootstrappers}})
	authn.AddTokenAuthenticator(tokens)

	var ready atomic.Bool
	access := newAccessControl()
	reg := registry.All(append(auth.ReviewResources(access.Authorizer), auth.TokenReviewResource(authn))...)
	oapi := openapi.NewLazy(reg, version.Kubernetes)
	nodes, err := newNodeProxy(pki)
	if err != nil {
		return err
	}
	inproc := newInProcess()
	api, err := apiserver.New(apiserver.Config{
		InProcessTokens:  inproc.tokens,
		Registry:         reg,
		OpenAPI:          oapi,
		Schemas:          oapi.Schemas,
		Storage:          store,
		Authenticator:    authn,
		Authorizer:       access.Authorizer,
		Admission:        access.Admission,
		Connector:        nodes,
		Version:          versionInfo(),
		BookmarkInterval: cfg.BookmarkInterval,
		Extra: map[string]http.Handler{
			"/apis/apiextensions.k8s.io/": noCustomResources,
			"/cacerts": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/x-pem-file")
				_, _ = w.Write(pki.CA.CertPEM)
			}),
		},
		Ready: func() error {
			if !ready.Load() {
				return errors.New("bootstrap objects are not created yet")
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	nodes.SetNodes(storedNodes(api, reg), storedPods(api, reg))
	if err := wireServiceAllocation(api); err != nil {
		return err
	}
	if err := store.Start(ctx); err != nil {
		return err
	}
	access.start(ctx, api, reg)
	go store.Compact(ctx, cfg.CompactInterval)

	serveErr := make(chan error, 1+len(listeners))
	go func() { serveErr <- api.Serve(ctx, l, pki.ServerCert) }()
	for _, bl := range listeners {
		go func(bl net.Listener) { serveErr <- api.Serve(ctx, bl, pki.ServerCert) }(bl)
	}

	apiPort, _ := strconv.Atoi(port)
	if err := bootstrap(ctx, api, apiPort); err != nil {
		return fmt.Errorf("create bootstrap objects: %w", err)
	}
	inproc.transport = api.InProcessTransport()
	if err := runComponents(ctx, pki, inproc, api, cfg); err != nil {
		return fmt.Errorf("start control loops: %w", err)
	}
	ready.Store(true)
	// Start-up garbage (certificates, bootstrap objects, code run once) goes back to
	// the system.
	go func() {
		time.Sleep(3 * time.Second)
		memory.Trim()
	}()
	go memory.TuneGC(ctx, 128<<20)
	slog.Info("tug server ready", "url", serverURL, "kubeconfig", AdminKubeconfig(cfg.DataDir), "etcd", etcdDesc(cfg, etcd))
	if cfg.Ready != nil {
		cfg.Ready(serverURL)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-serveErr:
		return err
	}
}

func etcdDesc(cfg Config, e *storage.Etcd) string {
	if cfg.EtcdServers != "" {
		return cfg.EtcdServers
	}
	return "embedded " + e.ClientURL
}

func versionInfo() apiserver.VersionInfo {
	return apiserver.VersionInfo{
		Major: "1", Minor: "32", GitVersion: version.Kubernetes, GitCommit: version.Commit,
		BuildDate: version.BuildDate, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
}

func writeAdminKubeconfig(dataDir string, pki *auth.PKI, serverURL string) error {
	certPEM, keyPEM, err := pki.CA.Issue(CertForAdmin())
	if err != nil {
		return err
	}
	kc := auth.Kubeconfig{Server: serverURL, Context: "tug", CAPEM: pki.CA.CertPEM, CertPEM: certPEM, KeyPEM: keyPEM}
	return kc.Write(AdminKubeconfig(dataDir))
}

// CertForAdmin is the certificate request of the admin kubeconfig.
func CertForAdmin() auth.CertRequest {
	return auth.CertRequest{CommonName: auth.UserAdmin, Organizations: []string{auth.GroupMasters}, Client: true}
}

// ensureNodeToken returns the join token, creating DATA/node-token on first start.
// The token names the CA (by hash) so an agent can check the server it joins.
func ensureNodeToken(dataDir string, ca *auth.CA) (string, error) {
	p := NodeTokenFile(dataDir)
	if b, err := os.ReadFile(p); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	}
	t := fmt.Sprintf("tug1::%s::%s", ca.Hash(), auth.RandomToken(24))
	if err := auth.WriteFileAtomic(p, []byte(t+"\n"), 0o600); err != nil {
		return "", err
	}
	return t, nil
}

// SystemNamespaces exist from the first start on.
var SystemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

func bootstrap(ctx context.Context, api *apiserver.Server, apiPort int) error {
	for _, ns := range SystemNamespaces {
		for attempt := 0; ; attempt++ {
			_, err := api.EnsureObject(ctx, corev1.SchemeGroupVersion.WithResource("namespaces"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
			if err == nil {
				break
			}
			if attempt > 50 || ctx.Err() != nil {
				return err
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := ensurePolicy(ctx, api); err != nil {
		return err
	}
	// The kubernetes service names the API server inside the cluster.
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{{
			Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(apiPort)),
		}}},
	}
	if _, err := api.EnsureObject(ctx, corev1.SchemeGroupVersion.WithResource("services"), svc); err != nil {
		return fmt.Errorf("kubernetes service: %w", err)
	}
	return nil
}

// noCustomResources answers the list of custom resource definitions: tug serves
// none, and kubectl's client-side validation asks before creating kinds it cannot
// find in the OpenAPI documents.
var noCustomResources = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || strings.TrimSuffix(r.URL.Path, "/") != "/apis/apiextensions.k8s.io/v1/customresourcedefinitions" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"custom resources are not supported yet","reason":"NotFound","code":404}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"kind":"CustomResourceDefinitionList","apiVersion":"apiextensions.k8s.io/v1","metadata":{"resourceVersion":"0"},"items":[]}`)
})
