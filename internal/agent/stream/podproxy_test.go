package stream

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodProxy(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s?%s host=%s", r.Method, r.URL.Path, r.URL.RawQuery, r.Host)
	}))
	defer backend.Close()
	_, port, _ := net.SplitHostPort(backend.Listener.Addr().String())
	pn, _ := strconv.Atoi(port)
	// A port nothing listens on.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	_, closed, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	pods := map[string]*corev1.Pod{
		"web": {ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
			Spec:   corev1.PodSpec{NodeName: "n", Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(pn)}}}}},
			Status: corev1.PodStatus{PodIP: "127.0.0.1"}},
		"new": {ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "ns"}, Spec: corev1.PodSpec{NodeName: "n"}},
	}
	s := New(Config{NodeName: "n", Pod: func(_ context.Context, ns, name string) (*corev1.Pod, error) {
		if p, ok := pods[name]; ok {
			return p, nil
		}
		return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
	}})
	mux := http.NewServeMux()
	s.routes(mux, func(h http.HandlerFunc) http.Handler { return h })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cases := []struct {
		path string
		code int
		want string
	}{
		{"/proxyPod/ns/web/http/" + port + "/a/b?x=1", 200, "GET /a/b?x=1 host=127.0.0.1:" + port},
		{"/proxyPod/ns/web/http/http/", 200, "GET /? host=127.0.0.1:" + port},
		{"/proxyPod/ns/web/http/" + port, 200, "GET /?"},
		{"/proxyPod/ns/web/http/metrics/", 400, `pod web has no port named \"metrics\"`},
		{"/proxyPod/ns/web/gopher/" + port + "/", 400, "unsupported scheme"},
		{"/proxyPod/ns/new/http/80/", 503, "pod new has no IP address yet"},
		{"/proxyPod/ns/gone/http/80/", 404, "not found"},
		{"/proxyPod/ns/web/http/" + closed + "/", 503, "error trying to reach pod web on port " + closed},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.want) {
				t.Errorf("answer %d %q, want %d with %q", resp.StatusCode, b, tc.code, tc.want)
			}
		})
	}
}
