// Package stream is the node agent's streaming server: container logs read from
// the runtime's log files, exec, attach and port-forward sessions relayed to
// the container runtime's own streaming server, and HTTP to pods' ports. It answers only the API server,
// which proxies `kubectl logs`, `exec`, `attach` and `port-forward` to it.
//
// The runtime's streaming server speaks SPDY. Clients reach it in three ways:
// SPDY itself (relayed byte for byte), the WebSocket channel protocol v5 of
// exec and attach (translated here to SPDY streams), and SPDY tunnelled in
// WebSocket messages for port-forward (unwrapped here and relayed).
package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"tug/internal/agent/cri"
	"tug/internal/auth"
)

// Labels the node agent puts on runtime sandboxes and containers.
const (
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelContainerName = "io.kubernetes.container.name"
)

// Runtime is what the streaming server asks of the container runtime.
type Runtime interface {
	ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error)
	ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error)
	ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error)
	Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error)
	Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error)
	PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error)
}

// CRI adapts the agent's CRI client to Runtime.
func CRI(c *cri.Client) Runtime { return criRuntime{c} }

type criRuntime struct{ *cri.Client }

func (c criRuntime) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return c.RuntimeService().Exec(ctx, req)
}

func (c criRuntime) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return c.RuntimeService().Attach(ctx, req)
}

func (c criRuntime) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return c.RuntimeService().PortForward(ctx, req)
}

// Config is what the streaming server needs from its node.
type Config struct {
	NodeName string
	Runtime  Runtime
	// Dial connects to the runtime's streaming server, which listens inside the
	// node's network namespace.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Pod reads a pod (its status says which container a log request means).
	Pod func(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	// Users are the client certificate names allowed in (default: the API
	// server's).
	Users []string
}

// Server serves the streaming endpoints.
type Server struct {
	cfg Config

	podTransportOnce sync.Once
	podTransportRT   *http.Transport
}

// New builds the streaming server.
func New(cfg Config) *Server {
	if len(cfg.Users) == 0 {
		cfg.Users = []string{auth.UserAPIServerKubeletClient}
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = d.DialContext
	}
	return &Server{cfg: cfg}
}

// Mux is where the endpoints are added (the node's HTTPS server).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register adds the endpoints, with the paths the API server uses:
//
//	/containerLogs/{ns}/{pod}/{container}
//	/exec/{ns}/{pod}[/{uid}]/{container}
//	/attach/{ns}/{pod}[/{uid}]/{container}
//	/portForward/{ns}/{pod}[/{uid}]
//	/proxyPod/{ns}/{pod}/{scheme}/{port}/{path...}  (HTTP to a pod's port)
func (s *Server) Register(m Mux) { s.routes(m, s.only) }

func (s *Server) routes(m Mux, wrap func(http.HandlerFunc) http.Handler) {
	m.Handle("GET /containerLogs/{ns}/{pod}/{container}", wrap(s.serveLogs))
	for _, p := range []string{"/exec/{ns}/{pod}/{container}", "/exec/{ns}/{pod}/{uid}/{container}"} {
		m.Handle(p, wrap(s.serveExec))
	}
	for _, p := range []string{"/attach/{ns}/{pod}/{container}", "/attach/{ns}/{pod}/{uid}/{container}"} {
		m.Handle(p, wrap(s.serveAttach))
	}
	for _, p := range []string{"/portForward/{ns}/{pod}", "/portForward/{ns}/{pod}/{uid}"} {
		m.Handle(p, wrap(s.servePortForward))
	}
	for _, p := range []string{"/proxyPod/{ns}/{pod}/{scheme}/{port}", "/proxyPod/{ns}/{pod}/{scheme}/{port}/{path...}"} {
		m.Handle(p, wrap(s.servePodProxy))
	}
}

// only lets in the allowed client certificates (the node's server has already
// checked that they chain to the cluster CA).
func (s *Server) only(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := ""
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			name = r.TLS.VerifiedChains[0][0].Subject.CommonName
		}
		for _, u := range s.cfg.Users {
			if name != "" && name == u {
				h(w, r)
				return
			}
		}
		slog.Warn("streaming request refused", "user", name, "path", r.URL.Path)
		writeStatus(w, apierrors.NewForbidden(corev1.Resource("nodes"), s.cfg.NodeName,
			fmt.Errorf("user %q may not use the node's streaming endpoints", name)))
	})
}

// writeStatus answers with err as a Status object.
func writeStatus(w http.ResponseWriter, err error) {
	st := statusOf(err)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(st)
}

// statusOf turns err into a Status (an internal error unless err is one).
func statusOf(err error) *metav1.Status {
	var st metav1.Status
	if se, ok := err.(apierrors.APIStatus); ok {
		st = se.Status()
	} else {
		st = apierrors.NewInternalError(err).Status()
	}
	st.Kind, st.APIVersion = "Status", "v1"
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	return &st
}

// newest returns the most recently created of cs (nil if none).
func newest(cs []*runtimeapi.Container) *runtimeapi.Container {
	if len(cs) == 0 {
		return nil
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Metadata.GetAttempt() != cs[j].Metadata.GetAttempt() {
			return cs[i].Metadata.GetAttempt() > cs[j].Metadata.GetAttempt()
		}
		return cs[i].CreatedAt > cs[j].CreatedAt
	})
	return cs[0]
}

// runningContainer finds the running runtime container of a pod's container.
func (s *Server) runningContainer(ctx context.Context, ns, pod, name string) (string, error) {
	cs, err := s.cfg.Runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{
		State:         &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING},
		LabelSelector: map[string]string{labelPodNamespace: ns, labelPodName: pod, labelContainerName: name},
	})
	if err != nil {
		return "", fmt.Errorf("list the containers of pod %s/%s: %w", ns, pod, err)
	}
	c := newest(cs)
	if c == nil {
		return "", apierrors.NewNotFound(corev1.Resource("containers"), name)
	}
	return c.Id, nil
}

// readySandbox finds a pod's running sandbox (port-forward enters its network).
func (s *Server) readySandbox(ctx context.Context, ns, pod string) (string, error) {
	sbs, err := s.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{
		State:         &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY},
		LabelSelector: map[string]string{labelPodNamespace: ns, labelPodName: pod},
	})
	if err != nil {
		return "", fmt.Errorf("list the sandboxes of pod %s/%s: %w", ns, pod, err)
	}
	var best *runtimeapi.PodSandbox
	for _, sb := range sbs {
		if best == nil || sb.CreatedAt > best.CreatedAt {
			best = sb
		}
	}
	if best == nil {
		return "", apierrors.NewNotFound(corev1.Resource("pods"), pod)
	}
	return best.Id, nil
}
