// Package nodeproxy carries the API server's streaming subresources to node
// agents: pods/log, pods/exec, pods/attach, pods/portforward, pods/proxy,
// services/proxy (to a ready pod the service selects) and nodes/proxy are
// forwarded over TLS to the agent of the pod's node, at the address and
// port the Node publishes. The API server presents its own client certificate
// (the only one agents let in) and checks the agent's serving certificate
// against the cluster CA. Logs stream as they come; exec, attach and
// port-forward connections are joined once the agent switches protocols.
package nodeproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"tug/internal/apiserver"
	"tug/internal/nodeproxy/upgrade"
)

// Config configures the proxy.
type Config struct {
	// Node reads a Node (its addresses and the agent's port).
	Node func(ctx context.Context, name string) (*corev1.Node, error)
	// Pods lists the pods of a namespace that selector matches (the backends
	// of services/proxy).
	Pods func(ctx context.Context, namespace string, selector labels.Selector) ([]*corev1.Pod, error)
	// ClientCert is the API server's identity towards agents.
	ClientCert tls.Certificate
	// RootCAs check the agents' serving certificates.
	RootCAs *x509.CertPool
	// Dial, if set, replaces the plain TCP dialer (tests).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Proxy implements apiserver.Connector.
type Proxy struct {
	cfg       Config
	transport *http.Transport
}

var _ apiserver.Connector = (*Proxy)(nil)

// New builds the proxy.
func New(cfg Config) *Proxy {
	if cfg.Dial == nil {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		cfg.Dial = d.DialContext
	}
	p := &Proxy{cfg: cfg}
	p.transport = &http.Transport{
		DialContext:         cfg.Dial,
		TLSClientConfig:     p.tlsConfig(),
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return p
}

// SetNodes sets how Nodes and pods are read (the API server's storage exists
// only after the server that needs the proxy is built).
func (p *Proxy) SetNodes(nodes func(ctx context.Context, name string) (*corev1.Node, error),
	pods func(ctx context.Context, namespace string, selector labels.Selector) ([]*corev1.Pod, error)) {
	p.cfg.Node, p.cfg.Pods = nodes, pods
}

func (p *Proxy) tlsConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{p.cfg.ClientCert},
		RootCAs:      p.cfg.RootCAs,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

// Target is where a request goes on an agent.
type Target struct {
	Node  string
	Path  string
	Query url.Values
}

// Connect serves one streaming request.
func (p *Proxy) Connect(w http.ResponseWriter, r *http.Request, t apiserver.ConnectTarget) {
	var target Target
	var err error
	if t.Resource == "services" && t.Subresource == "proxy" {
		target, err = p.resolveService(r.Context(), t, r)
	} else {
		target, err = Resolve(t, r)
	}
	if err != nil {
		writeStatus(w, err)
		return
	}
	if p.cfg.Node == nil {
		writeStatus(w, apierrors.NewServiceUnavailable("node agents cannot be reached yet"))
		return
	}
	node, err := p.cfg.Node(r.Context(), target.Node)
	if err != nil {
		if apierrors.IsNotFound(err) {
			err = apierrors.NewNotFound(corev1.Resource("nodes"), target.Node)
		}
		writeStatus(w, err)
		return
	}
	host, err := AgentAddress(node)
	if err != nil {
		writeStatus(w, err)
		return
	}
	u := &url.URL{Scheme: "https", Host: host, Path: target.Path, RawQuery: target.Query.Encode()}
	if upgrade.IsUpgrade(r) {
		p.forwardUpgrade(w, r, u, node.Name)
		return
	}
	p.forward(w, r, u, node.Name)
}

// forward relays an ordinary request, streaming the answer as it comes (logs
// that follow a container never end on their own).
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, u *url.URL, node string) {
	var body io.Reader
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		body = r.Body
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), body)
	if err != nil {
		writeStatus(w, err)
		return
	}
	out.ContentLength = r.ContentLength
	upgrade.CopyHeaders(out.Header, r.Header)
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		writeStatus(w, unreachable(node, err))
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Trailer":
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if rerr != nil {
			return
		}
	}
}

// forwardUpgrade relays a request that switches protocols (exec, attach,
// port-forward) and joins the connections once the agent switches.
func (p *Proxy) forwardUpgrade(w http.ResponseWriter, r *http.Request, u *url.URL, node string) {
	out, err := upgrade.OutRequest(r, u.String())
	if err != nil {
		writeStatus(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	raw, err := p.cfg.Dial(ctx, "tcp", u.Host)
	if err != nil {
		writeStatus(w, unreachable(node, err))
		return
	}
	cfg := p.tlsConfig()
	cfg.ServerName = u.Hostname()
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		writeStatus(w, unreachable(node, err))
		return
	}
	if err := upgrade.Forward(w, out, conn); err != nil {
		slog.Debug("streaming relay to node agent", "node", node, "path", u.Path, "err", err)
	}
}

func unreachable(node string, err error) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusBadGateway, Reason: metav1.StatusReasonServiceUnavailable,
		Message: fmt.Sprintf("the agent of node %s cannot be reached: %v", node, err),
	}}
}

// AgentAddress is host:port of a node's agent: the Node's internal address
// (else its external one, else its host name) and the port in its
// daemonEndpoints.
func AgentAddress(node *corev1.Node) (string, error) {
	if strings.HasPrefix(node.Status.NodeInfo.ContainerRuntimeVersion, "hollow://") {
		// Simulated nodes serve nothing, and their addresses lead nowhere.
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("node %s is a hollow node: it runs no containers to stream from", node.Name))
	}
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port <= 0 {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("node %s publishes no agent port (status.daemonEndpoints.kubeletEndpoint)", node.Name))
	}
	for _, kind := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == kind && a.Address != "" {
				return net.JoinHostPort(a.Address, strconv.Itoa(int(port))), nil
			}
		}
	}
	return "", apierrors.NewServiceUnavailable(fmt.Sprintf("node %s publishes no address", node.Name))
}

// Resolve says which agent path a streaming request goes to, checking what the
// API server itself checks (the pod's node, the container's name, the pod's
// phase).
func Resolve(t apiserver.ConnectTarget, r *http.Request) (Target, error) {
	q := r.URL.Query()
	switch t.Resource {
	case "nodes":
		if t.Subresource != "proxy" {
			return Target{}, apierrors.NewNotFound(corev1.Resource("nodes/"+t.Subresource), t.Name)
		}
		// A port in the name is ignored: the agent's own port is where it serves.
		_, name, _, ok := utilnet.SplitSchemeNamePort(t.Name)
		if !ok {
			return Target{}, apierrors.NewBadRequest(fmt.Sprintf("invalid node name %q", t.Name))
		}
		return Target{Node: name, Path: "/" + proxyRest(r.URL.Path, "nodes", t.Name), Query: q}, nil
	case "pods":
	default:
		return Target{}, apierrors.NewServiceUnavailable(fmt.Sprintf("%s/%s is not served yet", t.Resource, t.Subresource))
	}
	pod, ok := t.Object.(*corev1.Pod)
	if !ok {
		return Target{}, errors.New("streaming request without its pod")
	}
	if pod.Spec.NodeName == "" {
		return Target{}, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	base := "/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name)
	switch t.Subresource {
	case "log":
		name, err := containerName(pod, q.Get("container"))
		if err != nil {
			return Target{}, err
		}
		out := url.Values{}
		for _, k := range []string{"follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes"} {
			if v := q.Get(k); v != "" {
				out.Set(k, v)
			}
		}
		return Target{Node: pod.Spec.NodeName, Path: "/containerLogs" + base + "/" + url.PathEscape(name), Query: out}, nil
	case "exec", "attach":
		verb := map[string]string{"exec": "exec into", "attach": "attach to"}[t.Subresource]
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return Target{}, apierrors.NewBadRequest(fmt.Sprintf("cannot %s a container in a completed pod; current phase is %s", verb, pod.Status.Phase))
		}
		name, err := containerName(pod, q.Get("container"))
		if err != nil {
			return Target{}, err
		}
		out := url.Values{}
		for _, k := range []string{"stdin", "stdout", "stderr", "tty"} {
			if v := q.Get(k); v != "" {
				out.Set(k, v)
			}
		}
		if t.Subresource == "exec" {
			if len(q["command"]) == 0 {
				return Target{}, apierrors.NewBadRequest("you must specify at least one command for the container")
			}
			out["command"] = q["command"]
		}
		return Target{Node: pod.Spec.NodeName, Path: "/" + t.Subresource + base + "/" + url.PathEscape(name), Query: out}, nil
	case "proxy":
		scheme, _, port, ok := utilnet.SplitSchemeNamePort(t.Name)
		if !ok {
			return Target{}, apierrors.NewBadRequest(fmt.Sprintf("invalid pod proxy name %q: want [scheme:]name[:port]", t.Name))
		}
		return podProxyTarget(pod, scheme, port, proxyRest(r.URL.Path, "pods", t.Name), q), nil
	case "portforward":
		out := url.Values{}
		if ps := q["ports"]; len(ps) > 0 {
			out["ports"] = ps
		}
		return Target{Node: pod.Spec.NodeName, Path: "/portForward" + base, Query: out}, nil
	}
	return Target{}, apierrors.NewServiceUnavailable(fmt.Sprintf("pods/%s is not served yet", t.Subresource))
}

// resolveService picks a ready pod behind a service for services/proxy and
// targets the pod port the service port leads to.
func (p *Proxy) resolveService(ctx context.Context, t apiserver.ConnectTarget, r *http.Request) (Target, error) {
	svc, ok := t.Object.(*corev1.Service)
	if !ok {
		return Target{}, errors.New("service proxy request without its service")
	}
	scheme, _, portName, ok := utilnet.SplitSchemeNamePort(t.Name)
	if !ok {
		return Target{}, apierrors.NewBadRequest(fmt.Sprintf("invalid service proxy name %q: want [scheme:]name[:port]", t.Name))
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		port := &svc.Spec.Ports[i]
		if portName == "" && len(svc.Spec.Ports) == 1 || portName != "" && (port.Name == portName || strconv.Itoa(int(port.Port)) == portName) {
			sp = port
			break
		}
	}
	if sp == nil {
		if portName == "" {
			return Target{}, apierrors.NewBadRequest(fmt.Sprintf("service %s has several ports: name one as %s:PORT", svc.Name, svc.Name))
		}
		return Target{}, apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %q found for service %q", portName, svc.Name))
	}
	noEndpoints := apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", svc.Name))
	if len(svc.Spec.Selector) == 0 || p.cfg.Pods == nil {
		return Target{}, noEndpoints
	}
	pods, err := p.cfg.Pods(ctx, svc.Namespace, labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return Target{}, err
	}
	var ready []*corev1.Pod
	for _, pod := range pods {
		if pod.DeletionTimestamp == nil && pod.Spec.NodeName != "" && pod.Status.PodIP != "" && podReady(pod) {
			ready = append(ready, pod)
		}
	}
	if len(ready) == 0 {
		return Target{}, noEndpoints
	}
	pod := ready[rand.IntN(len(ready))]
	port := sp.TargetPort.String()
	if sp.TargetPort.IntValue() == 0 && sp.TargetPort.StrVal == "" {
		port = strconv.Itoa(int(sp.Port))
	}
	return podProxyTarget(pod, scheme, port, proxyRest(r.URL.Path, "services", t.Name), r.URL.Query()), nil
}

// podProxyTarget is the agent path of an HTTP request to a pod's port.
func podProxyTarget(pod *corev1.Pod, scheme, port, rest string, q url.Values) Target {
	if scheme == "" {
		scheme = "http"
	}
	if port == "" {
		port = defaultPort(pod)
	}
	return Target{Node: pod.Spec.NodeName, Query: q,
		Path: "/proxyPod/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name) + "/" + scheme + "/" + url.PathEscape(port) + "/" + rest}
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// defaultPort is the port a pod proxy request without one goes to: the
// pod's first declared container port, else 80.
func defaultPort(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		if len(c.Ports) > 0 {
			return strconv.Itoa(int(c.Ports[0].ContainerPort))
		}
	}
	return "80"
}

// proxyRest is what follows .../RESOURCE/NAME/proxy in a request path.
func proxyRest(path, resource, name string) string {
	marker := "/" + resource + "/" + name + "/proxy"
	i := strings.Index(path, marker)
	if i < 0 {
		return ""
	}
	return strings.TrimPrefix(path[i+len(marker):], "/")
}

// containerName checks the container a request names, or picks the pod's only
// one when it names none.
func containerName(pod *corev1.Pod, name string) (string, error) {
	if name == "" {
		if len(pod.Spec.Containers) == 1 {
			return pod.Spec.Containers[0].Name, nil
		}
		var names, inits []string
		for _, c := range pod.Spec.Containers {
			names = append(names, c.Name)
		}
		for _, c := range pod.Spec.InitContainers {
			inits = append(inits, c.Name)
		}
		msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, strings.Join(names, " "))
		if len(inits) > 0 {
			msg += fmt.Sprintf(" or one of the init containers: [%s]", strings.Join(inits, " "))
		}
		return "", apierrors.NewBadRequest(msg)
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

// writeStatus answers with err as a Status object.
func writeStatus(w http.ResponseWriter, err error) {
	var st metav1.Status
	if se, ok := err.(apierrors.APIStatus); ok {
		st = se.Status()
	} else {
		st = apierrors.NewInternalError(err).Status()
	}
	st.Kind, st.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(&st)
}
