package stream

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podTransport reaches pods from inside the node's network. Like Kubernetes'
// pod proxy it does not check the certificates of pods served over HTTPS: a
// pod has no name a certificate could vouch for.
func (s *Server) podTransport() *http.Transport {
	s.podTransportOnce.Do(func() {
		s.podTransportRT = &http.Transport{
			DialContext:         s.cfg.Dial,
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
		}
	})
	return s.podTransportRT
}

// containerPort resolves a port number or a container port's name.
func containerPort(pod *corev1.Pod, port string) (int, error) {
	if n, err := strconv.Atoi(port); err == nil {
		if n < 1 || n > 65535 {
			return 0, fmt.Errorf("port %d is out of range", n)
		}
		return n, nil
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == port {
				return int(p.ContainerPort), nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s has no port named %q", pod.Name, port)
}

// servePodProxy relays an HTTP request (or an upgrade) to a port of one of
// the node's pods: the API server's pods/NAME/proxy.
func (s *Server) servePodProxy(w http.ResponseWriter, r *http.Request) {
	ns, name, scheme := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("scheme")
	if scheme != "http" && scheme != "https" {
		writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("unsupported scheme %q", scheme)))
		return
	}
	pod, err := s.cfg.Pod(r.Context(), ns, name)
	if err != nil {
		writeStatus(w, err)
		return
	}
	if pod.Spec.NodeName != s.cfg.NodeName {
		writeStatus(w, apierrors.NewNotFound(corev1.Resource("pods"), name))
		return
	}
	if pod.Status.PodIP == "" {
		writeStatus(w, apierrors.NewServiceUnavailable(fmt.Sprintf("pod %s has no IP address yet", name)))
		return
	}
	port, err := containerPort(pod, r.PathValue("port"))
	if err != nil {
		writeStatus(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	target := &url.URL{Scheme: scheme, Host: net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port)), Path: "/" + r.PathValue("path"), RawQuery: r.URL.RawQuery}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = target.Host
		},
		Transport:     s.podTransport(),
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeStatus(w, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusServiceUnavailable,
				Reason: metav1.StatusReasonServiceUnavailable, Message: fmt.Sprintf("error trying to reach pod %s on port %d: %v", name, port, err)}})
		},
	}
	rp.ServeHTTP(w, r)
}
