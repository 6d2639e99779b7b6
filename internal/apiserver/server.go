package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"tug/internal/admission"
	"tug/internal/auth"
	"tug/internal/registry"
	"tug/internal/storage"
)

// Connector serves the streaming subresources of pods and nodes (logs, exec,
// attach, port-forward, proxy) by forwarding them to the node agent.
type Connector interface {
	Connect(w http.ResponseWriter, r *http.Request, target ConnectTarget)
}

// ConnectTarget names what a streaming request reaches.
type ConnectTarget struct {
	Resource    string // pods or nodes
	Subresource string
	Namespace   string
	Name        string
	Object      runtime.Object // the pod or node
}

// VersionInfo is served at /version.
type VersionInfo struct {
	Major, Minor, GitVersion, GitCommit, BuildDate, GoVersion, Platform string
}

// Config is everything the API server needs.
type Config struct {
	Registry      *registry.Set
	Storage       *storage.Storage
	Authenticator *auth.Authenticator
	Authorizer    auth.Authorizer
	Admission     admission.Plugin
	Connector     Connector
	Version       VersionInfo
	// OpenAPI serves /openapi/v2 and /openapi/v3 (nil: 404).
	OpenAPI http.Handler
	// Schemas returns the OpenAPI v2 definitions of every type, for server-side apply
	// and managedFields (nil: neither is available).
	Schemas func() map[string]*spec.Schema
	// Extra handlers for non-resource paths (join endpoints, metrics...), by path prefix.
	Extra map[string]http.Handler
	// MaxBodyBytes bounds request bodies (413 beyond); default 3 MiB like Kubernetes.
	MaxBodyBytes int64
	// BookmarkInterval is how often a quiet watch gets a BOOKMARK; default 1 minute.
	BookmarkInterval time.Duration
	// InProcessTokens authenticate the in-process components on the path of
	// InProcessTransport; they are accepted nowhere else.
	InProcessTokens auth.TokenAuthenticator
	// Ready reports whether the server may take traffic (/readyz).
	Ready func() error
}

// Server is the HTTP side of the API.
type Server struct {
	cfg    Config
	stores map[*registry.Resource]*storage.Resource
	fields *fieldManagers
	h      http.Handler
}

// New builds the server and registers every stored resource with the storage.
func New(cfg Config) (*Server, error) {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 3 << 20
	}
	if cfg.BookmarkInterval == 0 {
		cfg.BookmarkInterval = time.Minute
	}
	s := &Server{cfg: cfg, stores: map[*registry.Resource]*storage.Resource{}, fields: &fieldManagers{schemas: cfg.Schemas}}
	for _, r := range cfg.Registry.All {
		if r.Create != nil && r.New == nil {
			continue
		}
		if r.Create != nil || r.StoredAs != nil {
			continue
		}
		s.stores[r] = cfg.Storage.Register(storage.ResourceConfig{
			GroupResource: r.GroupResource(),
			Kind:          r.GVK(),
			Namespaced:    r.Namespaced,
			New:           r.New,
			Fields:        r.Fields,
			TTL:           r.TTL,
		})
	}
	for _, r := range cfg.Registry.All {
		if r.StoredAs != nil {
			s.stores[r] = s.stores[r.StoredAs]
		}
	}
	s.h = s.chain()
	return s, nil
}

// Store returns the storage of a resource (for in-process components).
func (s *Server) Store(r *registry.Resource) *storage.Resource { return s.stores[r] }

// Handler is the full HTTP handler, authentication included.
func (s *Server) Handler() http.Handler { return s.h }

// Serve answers HTTPS on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener, cert tls.Certificate) error {
	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	srv := &http.Server{
		Handler:           s.h,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
		MaxHeaderBytes:    1 << 20,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(tls.NewListener(l, tlsCfg))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

type inProcessKey struct{}

func (s *Server) authenticateInProcess(r *http.Request) (*auth.User, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return nil, nil
	}
	return s.inProcessUser(r.Context(), strings.TrimSpace(token))
}

// inProcessUser is who an in-process token stands for (nil if nobody).
func (s *Server) inProcessUser(ctx context.Context, token string) (*auth.User, error) {
	if s.cfg.InProcessTokens == nil {
		return nil, nil
	}
	u, ok, err := s.cfg.InProcessTokens.AuthenticateToken(ctx, token)
	if err != nil || !ok {
		return nil, err
	}
	if !u.InGroup(auth.GroupAuthenticated) {
		u.Groups = append(u.Groups, auth.GroupAuthenticated)
	}
	return u, nil
}

// chain wraps the router with recovery, metrics, authentication and authorization.
func (s *Server) chain() http.Handler {
	var h http.Handler = http.HandlerFunc(s.route)
	h = s.withAuthorization(h)
	h = s.withImpersonation(h)
	h = s.withAuthentication(h)
	h = withMetrics(h)
	h = withRecovery(h)
	return h
}

func withRecovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(inProcessKey{}) == nil {
			// In-process requests run on their caller's long-lived goroutine.
			growStack()
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				slog.Error("panic while serving a request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeError(w, r, apierrors.NewInternalError(fmt.Errorf("the server hit an internal error; see its log")))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// publicPaths answer without credentials, like Kubernetes' system:public-info-viewer.
// /cacerts gives the cluster CA to agents that check it against the hash in their
// join token before they trust the server.
var publicPaths = map[string]bool{"/version": true, "/healthz": true, "/livez": true, "/readyz": true, "/cacerts": true}

func (s *Server) withAuthentication(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u *auth.User
		var err error
		if r.Context().Value(inProcessKey{}) != nil {
			u, err = s.authenticateInProcess(r)
		} else {
			u, err = s.cfg.Authenticator.Authenticate(r)
		}
		if err != nil {
			slog.Warn("authentication failed", "err", err)
		}
		if u == nil {
			if publicPaths[r.URL.Path] {
				next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), &auth.User{Name: auth.UserAnonymous, Groups: []string{auth.GroupUnauthenticated}})))
				return
			}
			writeError(w, r, apierrors.NewUnauthorized("Unauthorized"))
			return
		}
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), u)))
	})
}

func (s *Server) withAuthorization(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := auth.UserFrom(r.Context())
		if u.Name == auth.UserAnonymous && publicPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		info := parseRequestInfo(r)
		attrs := auth.Attributes{User: u, Verb: info.Verb, IsResource: info.IsResource, Path: r.URL.Path,
			APIGroup: info.Group, APIVersion: info.Version, Namespace: info.Namespace,
			Resource: info.Resource, Subresource: info.Subresource, Name: info.Name}
		d, err := s.cfg.Authorizer.Authorize(r.Context(), attrs)
		if err != nil {
			writeError(w, r, apierrors.NewInternalError(err))
			return
		}
		if !d.Allowed {
			writeError(w, r, forbidden(attrs, d.Reason))
			return
		}
		next.ServeHTTP(w, r.WithContext(withRequestInfo(r.Context(), info)))
	})
}

// forbidden builds the 403 a user sees, naming who may not do what.
func forbidden(a auth.Attributes, reason string) error {
	if !a.IsResource {
		return apierrors.NewForbidden(schema.GroupResource{}, "", fmt.Errorf("User %q cannot %s path %q", a.User.Name, a.Verb, a.Path))
	}
	res := a.Resource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	scope := "at the cluster scope"
	if a.Namespace != "" {
		scope = fmt.Sprintf("in the namespace %q", a.Namespace)
	}
	group := a.APIGroup
	msg := fmt.Sprintf("User %q cannot %s resource %q in API group %q %s", a.User.Name, a.Verb, res, group, scope)
	if reason != "" {
		msg += ": " + reason
	}
	err := apierrors.NewForbidden(schema.GroupResource{Group: a.APIGroup, Resource: res}, a.Name, errors.New(msg))
	// Keep the message short: the standard Forbidden wording already names the resource.
	err.ErrStatus.Message = fmt.Sprintf("%s %q is forbidden: %s", res, a.Name, msg)
	if a.Name == "" {
		err.ErrStatus.Message = fmt.Sprintf("%s is forbidden: %s", res, msg)
	}
	return err
}

type requestInfoKey struct{}

func withRequestInfo(ctx context.Context, info *requestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// route sends a request to discovery, OpenAPI, health, or a resource handler.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	info := requestInfoFrom(r.Context())
	if info == nil {
		info = parseRequestInfo(r)
	}
	p := r.URL.Path
	switch {
	case p == "/version" || p == "/version/":
		s.serveVersion(w, r)
		return
	case p == "/healthz" || p == "/livez" || strings.HasPrefix(p, "/healthz/") || strings.HasPrefix(p, "/livez/"):
		s.serveHealth(w, r, false)
		return
	case p == "/readyz" || strings.HasPrefix(p, "/readyz/"):
		s.serveHealth(w, r, true)
		return
	case p == "/metrics":
		serveMetrics(w, r)
		return
	case strings.HasPrefix(p, "/debug/pprof"):
		// Profiling, for users allowed the non-resource path (cluster admins).
		servePprof(w, r)
		return
	case strings.HasPrefix(p, "/openapi/"):
		if s.cfg.OpenAPI != nil {
			s.cfg.OpenAPI.ServeHTTP(w, r)
			return
		}
	case p == "/" || p == "":
		s.serveRootPaths(w, r)
		return
	}
	for prefix, h := range s.cfg.Extra {
		if strings.HasPrefix(p, prefix) {
			h.ServeHTTP(w, r)
			return
		}
	}
	if info.APIPrefix != "" && !info.IsResource {
		s.serveDiscovery(w, r, info)
		return
	}
	if info.IsResource {
		s.serveResource(w, r, info)
		return
	}
	writeError(w, r, notFoundPath())
}

func notFoundPath() error {
	err := apierrors.NewNotFound(schema.GroupResource{}, "")
	err.ErrStatus.Message = "the server could not find the requested resource"
	// A real server answers `"details":{}` here, and clients tell an unknown
	// path from a missing object by the empty name in it (kubectl debug does, and
	// fails without details).
	err.ErrStatus.Details = &metav1.StatusDetails{}
	return err
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request, ready bool) {
	var err error
	if ready && s.cfg.Ready != nil {
		err = s.cfg.Ready()
	}
	if err == nil && !s.cfg.Storage.Ready() {
		err = errors.New("storage is not ready")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "[-]%v\nhealthz check failed\n", err)
		return
	}
	if r.URL.Query().Has("verbose") {
		fmt.Fprintf(w, "[+]ping ok\n[+]etcd ok\n[+]storage-cache ok\n")
	}
	fmt.Fprint(w, "ok")
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	v := s.cfg.Version
	body := fmt.Sprintf(`{
  "major": %q,
  "minor": %q,
  "gitVersion": %q,
  "gitCommit": %q,
  "gitTreeState": "clean",
  "buildDate": %q,
  "goVersion": %q,
  "compiler": "gc",
  "platform": %q
}`, v.Major, v.Minor, v.GitVersion, v.GitCommit, v.BuildDate, v.GoVersion, v.Platform)
	writeRaw(w, http.StatusOK, mediaJSON, []byte(body))
}

func (s *Server) serveRootPaths(w http.ResponseWriter, r *http.Request) {
	paths := []string{"/api", "/api/v1", "/apis", "/healthz", "/livez", "/metrics", "/openapi/v2", "/openapi/v3", "/readyz", "/version"}
	for _, g := range s.cfg.Registry.Groups {
		if g.Name == "" {
			continue
		}
		paths = append(paths, "/apis/"+g.Name)
		for _, v := range g.Versions {
			paths = append(paths, "/apis/"+g.Name+"/"+v)
		}
	}
	b, _ := encodeMeta(mediaJSON, map[string][]string{"paths": paths})
	writeRaw(w, http.StatusOK, mediaJSON, b)
}
