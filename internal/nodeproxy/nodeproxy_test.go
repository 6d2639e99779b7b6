package nodeproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"tug/internal/apiserver"
	"tug/internal/auth"
)

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team"},
		Spec: corev1.PodSpec{NodeName: "n1",
			InitContainers: []corev1.Container{{Name: "setup"}},
			Containers:     []corev1.Container{{Name: "app"}, {Name: "sidecar"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

func TestResolve(t *testing.T) {
	single := testPod()
	single.Spec.Containers = single.Spec.Containers[:1]
	done := testPod()
	done.Status.Phase = corev1.PodSucceeded
	unbound := testPod()
	unbound.Spec.NodeName = ""
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	cases := []struct {
		name    string
		target  apiserver.ConnectTarget
		reqPath string
		want    Target
		wantErr string
	}{
		{name: "logs with options", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "log", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/web/log?container=app&follow=true&tailLines=3&sinceSeconds=10&timestamps=true&previous=true&limitBytes=5&pretty=true",
			want: Target{Node: "n1", Path: "/containerLogs/team/web/app",
				Query: url.Values{"follow": {"true"}, "tailLines": {"3"}, "sinceSeconds": {"10"}, "timestamps": {"true"}, "previous": {"true"}, "limitBytes": {"5"}}}},
		{name: "logs of the only container", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "log", Object: single},
			reqPath: "/api/v1/namespaces/team/pods/web/log", want: Target{Node: "n1", Path: "/containerLogs/team/web/app", Query: url.Values{}}},
		{name: "logs of an init container", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "log", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/web/log?container=setup", want: Target{Node: "n1", Path: "/containerLogs/team/web/setup", Query: url.Values{}}},
		{name: "logs need a container name", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "log", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/web/log",
			wantErr: "a container name must be specified for pod web, choose one of: [app sidecar] or one of the init containers: [setup]"},
		{name: "logs of an unknown container", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "log", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/web/log?container=nope", wantErr: "container nope is not valid for pod web"},
		{name: "exec", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "exec", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/web/exec?command=sh&command=-c&command=exit+3&container=app&stdin=true&stdout=true&tty=true",
			want: Target{Node: "n1", Path: "/exec/team/web/app",
				Query: url.Values{"command": {"sh", "-c", "exit 3"}, "stdin": {"true"}, "stdout": {"true"}, "tty": {"true"}}}},
		{name: "exec without a command", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "exec", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/web/exec?container=app&stdout=true", wantErr: "you must specify at least one command for the container"},
		{name: "exec into a completed pod", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "exec", Object: done},
			reqPath: "/api/v1/namespaces/team/pods/web/exec?command=ls&container=app",
			wantErr: "cannot exec into a container in a completed pod; current phase is Succeeded"},
		{name: "attach", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "attach", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/web/attach?container=sidecar&stdout=true&stderr=true",
			want:    Target{Node: "n1", Path: "/attach/team/web/sidecar", Query: url.Values{"stdout": {"true"}, "stderr": {"true"}}}},
		{name: "port-forward", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "portforward", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/web/portforward", want: Target{Node: "n1", Path: "/portForward/team/web", Query: url.Values{}}},
		{name: "port-forward with ports", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "portforward", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/web/portforward?ports=80&ports=443",
			want:    Target{Node: "n1", Path: "/portForward/team/web", Query: url.Values{"ports": {"80", "443"}}}},
		{name: "pod proxy", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "proxy", Name: "web:8080", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/web:8080/proxy/status/x?verbose=1",
			want:    Target{Node: "n1", Path: "/proxyPod/team/web/http/8080/status/x", Query: url.Values{"verbose": {"1"}}}},
		{name: "pod proxy with scheme and named port", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "proxy", Name: "https:web:metrics", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/https:web:metrics/proxy/", want: Target{Node: "n1", Path: "/proxyPod/team/web/https/metrics/", Query: url.Values{}}},
		{name: "pod proxy default port", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "proxy", Name: "web", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/web/proxy", want: Target{Node: "n1", Path: "/proxyPod/team/web/http/80/", Query: url.Values{}}},
		{name: "pod proxy bad scheme", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "proxy", Name: "ftp:web:21", Object: testPod()},
			reqPath: "/api/v1/namespaces/team/pods/ftp:web:21/proxy/", wantErr: `invalid pod proxy name "ftp:web:21": want [scheme:]name[:port]`},
		{name: "node proxy with a port", target: apiserver.ConnectTarget{Resource: "nodes", Subresource: "proxy", Name: "n1:10250", Object: node},
			reqPath: "/api/v1/nodes/n1:10250/proxy/healthz", want: Target{Node: "n1", Path: "/healthz", Query: url.Values{}}},
		{name: "pod without a node", target: apiserver.ConnectTarget{Resource: "pods", Subresource: "log", Object: unbound},
			reqPath: "/api/v1/namespaces/team/pods/web/log?container=app", wantErr: "pod web does not have a host assigned"},
		{name: "node proxy", target: apiserver.ConnectTarget{Resource: "nodes", Subresource: "proxy", Name: "n1", Object: node},
			reqPath: "/api/v1/nodes/n1/proxy/stats/summary?only_cpu_and_memory=true",
			want:    Target{Node: "n1", Path: "/stats/summary", Query: url.Values{"only_cpu_and_memory": {"true"}}}},
		{name: "node proxy root", target: apiserver.ConnectTarget{Resource: "nodes", Subresource: "proxy", Name: "n1", Object: node},
			reqPath: "/api/v1/nodes/n1/proxy", want: Target{Node: "n1", Path: "/", Query: url.Values{}}},
		{name: "service proxy", target: apiserver.ConnectTarget{Resource: "services", Subresource: "proxy", Name: "s"},
			reqPath: "/api/v1/namespaces/team/services/s/proxy/", wantErr: "services/proxy is not served yet"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.reqPath, nil)
			got, err := Resolve(tc.target, r)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got %+v, %v; want error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Node != tc.want.Node || got.Path != tc.want.Path || got.Query.Encode() != tc.want.Query.Encode() {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestAgentAddress(t *testing.T) {
	node := func(port int32, addrs ...corev1.NodeAddress) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
		n.Status.Addresses = addrs
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = port
		return n
	}
	cases := []struct {
		name string
		node *corev1.Node
		want string
	}{
		{"internal first", node(10250, corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1"},
			corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "192.0.2.1"}, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}), "10.0.0.5:10250"},
		{"external next", node(10250, corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1"}, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "192.0.2.1"}), "192.0.2.1:10250"},
		{"host name last", node(12345, corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1"}), "n1:12345"},
		{"IPv6", node(10250, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fd00::5"}), "[fd00::5]:10250"},
		{"no port", node(0, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}), ""},
		{"no address", node(10250), ""},
		{"hollow", func() *corev1.Node {
			n := node(10250, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "100.64.0.9"})
			n.Status.NodeInfo.ContainerRuntimeVersion = "hollow://v0.1"
			return n
		}(), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AgentAddress(tc.node)
			if tc.want == "" {
				if err == nil || !apierrors.IsServiceUnavailable(err) {
					t.Fatalf("got %q, %v; want unavailable", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// agentFixture is a fake agent behind TLS (a certificate of a throwaway
// cluster CA) and an API-server-side test server whose requests go through
// the proxy.
type agentFixture struct {
	api   *httptest.Server
	agent *httptest.Server
	seen  chan *http.Request
}

func newAgentFixture(t *testing.T, agentHandler http.Handler, trusted bool) *agentFixture {
	t.Helper()
	pki, err := auth.EnsurePKI(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	serving := pki.ServerCert
	if !trusted {
		other, err := auth.EnsurePKI(t.TempDir(), []string{"127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		serving = other.ServerCert
	}
	f := &agentFixture{seen: make(chan *http.Request, 10)}
	f.agent = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.seen <- r
		agentHandler.ServeHTTP(w, r)
	}))
	f.agent.TLS = &tls.Config{Certificates: []tls.Certificate{serving}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.CA.Pool()}
	f.agent.StartTLS()
	t.Cleanup(f.agent.Close)
	certPEM, keyPEM, err := pki.CA.Issue(auth.CertRequest{CommonName: auth.UserAPIServerKubeletClient, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := tls.X509KeyPair(certPEM, keyPEM)
	_, port, _ := net.SplitHostPort(f.agent.Listener.Addr().String())
	p := New(Config{ClientCert: cert, RootCAs: pki.CA.Pool()})
	p.SetNodes(func(ctx context.Context, name string) (*corev1.Node, error) {
		if name != "n1" {
			return nil, apierrors.NewNotFound(corev1.Resource("nodes"), name)
		}
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
		pn, _ := strconv.Atoi(port)
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(pn)
		return n, nil
	}, nil)
	f.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub := "log"
		for _, s := range []string{"exec", "portforward"} {
			if strings.HasSuffix(r.URL.Path, "/"+s) {
				sub = s
			}
		}
		pod := testPod()
		if strings.Contains(r.URL.Path, "/nowhere/") {
			pod.Spec.NodeName = "n2"
		}
		p.Connect(w, r, apiserver.ConnectTarget{Resource: "pods", Subresource: sub, Namespace: "team", Name: "web", Object: pod})
	}))
	t.Cleanup(f.api.Close)
	return f
}

func TestProxyStreamsLogs(t *testing.T) {
	f := newAgentFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != auth.UserAPIServerKubeletClient {
			http.Error(w, "who are you", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "line %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
	}), true)
	resp, err := http.Get(f.api.URL + "/api/v1/namespaces/team/pods/web/log?container=app&follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The first line arrives before the agent is done: the answer streams.
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "line 0\n" {
		t.Fatalf("first line %q, %v", first, err)
	}
	rest, _ := io.ReadAll(br)
	if resp.StatusCode != 200 || string(rest) != "line 1\nline 2\n" {
		t.Errorf("answer %d %q", resp.StatusCode, rest)
	}
	r := <-f.seen
	if r.URL.Path != "/containerLogs/team/web/app" || r.URL.Query().Get("follow") != "true" {
		t.Errorf("agent saw %s", r.URL)
	}
}

func TestProxyPassesAgentErrors(t *testing.T) {
	f := newAgentFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(apierrors.NewBadRequest(`container "app" in pod "web" is waiting to start: ContainerCreating`).Status())
	}), true)
	resp, err := http.Get(f.api.URL + "/api/v1/namespaces/team/pods/web/log?container=app")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st metav1.Status
	_ = json.NewDecoder(resp.Body).Decode(&st)
	if resp.StatusCode != 400 || st.Reason != metav1.StatusReasonBadRequest || !strings.Contains(st.Message, "is waiting to start: ContainerCreating") {
		t.Errorf("answer %d %+v", resp.StatusCode, st)
	}
}

func TestProxyErrors(t *testing.T) {
	f := newAgentFixture(t, http.NotFoundHandler(), false)
	cases := []struct {
		name, path string
		code       int
		msg        string
	}{
		{"agent certificate from another CA", "/api/v1/namespaces/team/pods/web/log?container=app", http.StatusBadGateway, "cannot be reached"},
		{"node not found", "/api/v1/namespaces/team/pods/nowhere/log?container=app", http.StatusNotFound, `nodes "n2" not found`},
		{"bad container", "/api/v1/namespaces/team/pods/web/log?container=zzz", http.StatusBadRequest, "container zzz is not valid for pod web"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(f.api.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var st metav1.Status
			_ = json.NewDecoder(resp.Body).Decode(&st)
			if resp.StatusCode != tc.code || st.Kind != "Status" || !strings.Contains(st.Message, tc.msg) {
				t.Errorf("answer %d %+v, want %d with %q", resp.StatusCode, st, tc.code, tc.msg)
			}
		})
	}
}

// TestProxyJoinsUpgrades: after the agent switches protocols, bytes flow both
// ways through the API server unchanged.
func TestProxyJoinsUpgrades(t *testing.T) {
	f := newAgentFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "SPDY/3.1" || r.Header.Get("X-Stream-Protocol-Version") != "v4.channel.k8s.io" || r.Header.Get("Authorization") != "" {
			http.Error(w, "unexpected headers", http.StatusBadRequest)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\nhello\n")
		_ = buf.Flush()
		line, _ := buf.ReadString('\n')
		fmt.Fprintf(conn, "echo %s", line)
	}), true)
	c, err := net.Dial("tcp", f.api.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "POST /api/v1/namespaces/team/pods/web/exec?command=sh&container=app&stdout=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nAuthorization: Bearer secret\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("X-Stream-Protocol-Version") != "v4.channel.k8s.io" {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("answer %d %v %s", resp.StatusCode, resp.Header, body)
	}
	hello, _ := br.ReadString('\n')
	fmt.Fprintf(c, "ping\n")
	echo, _ := br.ReadString('\n')
	if hello != "hello\n" || echo != "echo ping\n" {
		t.Errorf("read %q and %q", hello, echo)
	}
	r := <-f.seen
	if r.URL.Path != "/exec/team/web/app" || r.URL.Query()["command"][0] != "sh" {
		t.Errorf("agent saw %s", r.URL)
	}
}

func TestResolveService(t *testing.T) {
	readyPod := func(name, node, ip string, ready bool) *corev1.Pod {
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", Labels: map[string]string{"app": "web"}},
			Spec:   corev1.PodSpec{NodeName: node},
			Status: corev1.PodStatus{PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
	}
	backends := []*corev1.Pod{readyPod("a", "n1", "10.1.0.2", false), readyPod("b", "n2", "10.1.0.3", true), readyPod("c", "", "", true)}
	p := New(Config{})
	p.SetNodes(nil, func(_ context.Context, ns string, sel labels.Selector) ([]*corev1.Pod, error) {
		var out []*corev1.Pod
		for _, pod := range backends {
			if pod.Namespace == ns && sel.Matches(labels.Set(pod.Labels)) {
				out = append(out, pod)
			}
		}
		return out, nil
	})
	svc := func(selector map[string]string, ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team"}, Spec: corev1.ServiceSpec{Selector: selector, Ports: ports}}
	}
	web := map[string]string{"app": "web"}
	httpPort := corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromString("www")}
	metrics := corev1.ServicePort{Name: "metrics", Port: 9090, TargetPort: intstr.FromInt32(9100)}
	plain := corev1.ServicePort{Port: 8080}
	cases := []struct {
		name, svcName, path string
		svc                 *corev1.Service
		want                Target
		wantErr             string
	}{
		{name: "only port", svcName: "web", path: "/api/v1/namespaces/team/services/web/proxy/x", svc: svc(web, plain),
			want: Target{Node: "n2", Path: "/proxyPod/team/b/http/8080/x", Query: url.Values{}}},
		{name: "port by name to a named target", svcName: "web:http", path: "/api/v1/namespaces/team/services/web:http/proxy/", svc: svc(web, httpPort, metrics),
			want: Target{Node: "n2", Path: "/proxyPod/team/b/http/www/", Query: url.Values{}}},
		{name: "port by number with scheme", svcName: "https:web:9090", path: "/api/v1/namespaces/team/services/https:web:9090/proxy/m", svc: svc(web, httpPort, metrics),
			want: Target{Node: "n2", Path: "/proxyPod/team/b/https/9100/m", Query: url.Values{}}},
		{name: "several ports, none named", svcName: "web", path: "/api/v1/namespaces/team/services/web/proxy/", svc: svc(web, httpPort, metrics),
			wantErr: "service web has several ports: name one as web:PORT"},
		{name: "unknown port", svcName: "web:nope", path: "/api/v1/namespaces/team/services/web:nope/proxy/", svc: svc(web, httpPort),
			wantErr: `no service port "nope" found for service "web"`},
		{name: "nothing ready", svcName: "web", path: "/api/v1/namespaces/team/services/web/proxy/", svc: svc(map[string]string{"app": "db"}, plain),
			wantErr: `no endpoints available for service "web"`},
		{name: "no selector", svcName: "web", path: "/api/v1/namespaces/team/services/web/proxy/", svc: svc(nil, plain),
			wantErr: `no endpoints available for service "web"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.path, nil)
			got, err := p.resolveService(context.Background(), apiserver.ConnectTarget{Resource: "services", Subresource: "proxy", Namespace: "team", Name: tc.svcName, Object: tc.svc}, r)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got %+v, %v; want error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Node != tc.want.Node || got.Path != tc.want.Path || got.Query.Encode() != tc.want.Query.Encode() {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
