package stream

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	clientspdy "k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/client-go/util/exec"
)

// newSessionServer serves the streaming endpoints over a fake runtime, without
// the client certificate check (tested on its own).
func newSessionServer(t *testing.T) *httptest.Server {
	rt := newFakeRuntime(t)
	s := New(Config{NodeName: "n", Runtime: rt, Pod: func(context.Context, string, string) (*corev1.Pod, error) {
		return nil, errors.New("no pods here")
	}})
	mux := http.NewServeMux()
	s.routes(mux, func(h http.HandlerFunc) http.Handler { return h })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type fixedSizes struct{ sent bool }

func (f *fixedSizes) Next() *remotecommand.TerminalSize {
	if f.sent {
		time.Sleep(time.Hour) // the queue stays open while the session runs
		return nil
	}
	f.sent = true
	return &remotecommand.TerminalSize{Width: 100, Height: 40}
}

// TestCommandSessions runs exec and attach with client-go's executors, the
// code kubectl runs: WebSocket v5 (translated to the runtime's SPDY) and SPDY
// (relayed).
func TestCommandSessions(t *testing.T) {
	srv := newSessionServer(t)
	cfg := &rest.Config{Host: srv.URL}
	cases := []struct {
		name       string
		path       string
		query      string
		stdin      string
		tty        bool
		wantOut    string
		wantErrOut string
		wantCode   int    // exit code error expected
		wantErr    string // other error expected
	}{
		{name: "stdin to stdout", path: "/exec/ns/pod/c", query: "command=cat&stdin=true&stdout=true&stderr=true", stdin: "hello\nworld\n", wantOut: "hello\nworld\n"},
		{name: "exit code", path: "/exec/ns/pod/c", query: "command=exit&command=3&stdout=true&stderr=true", wantErrOut: "bye", wantCode: 3},
		{name: "terminal size", path: "/exec/ns/pod/c", query: "command=size&stdin=true&stdout=true&tty=true", tty: true, wantOut: "100x40"},
		{name: "attach", path: "/attach/ns/pod/c", query: "stdout=true&stderr=true", wantOut: "attached"},
		{name: "with pod uid", path: "/exec/ns/pod/uid-1/c", query: "command=exit&command=0&stdout=true&stderr=true", wantErrOut: "bye"},
		{name: "no such container", path: "/exec/ns/pod/other", query: "command=cat&stdout=true", wantErr: `container not found ("other")`},
		{name: "no command", path: "/exec/ns/pod/c", query: "stdout=true", wantErr: "at least one command"},
	}
	for _, proto := range []string{"websocket", "spdy"} {
		for _, tc := range cases {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				u := srv.URL + tc.path + "?" + tc.query
				var ex remotecommand.Executor
				var err error
				if proto == "websocket" {
					ex, err = remotecommand.NewWebSocketExecutor(cfg, "GET", u)
				} else {
					pu, _ := url.Parse(u)
					ex, err = remotecommand.NewSPDYExecutor(cfg, "POST", pu)
				}
				if err != nil {
					t.Fatal(err)
				}
				var out, errOut bytes.Buffer
				opts := remotecommand.StreamOptions{Stdout: &out, Tty: tc.tty}
				if !tc.tty {
					opts.Stderr = &errOut
				}
				if strings.Contains(tc.query, "stdin=true") {
					opts.Stdin = strings.NewReader(tc.stdin)
				}
				if tc.tty {
					opts.TerminalSizeQueue = &fixedSizes{}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				err = ex.StreamWithContext(ctx, opts)
				var code utilexec.CodeExitError
				switch {
				case tc.wantErr != "":
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
					}
					return
				case tc.wantCode != 0:
					if !errors.As(err, &code) || code.Code != tc.wantCode {
						t.Fatalf("error %v, want exit code %d", err, tc.wantCode)
					}
				case err != nil:
					t.Fatal(err)
				}
				if out.String() != tc.wantOut || errOut.String() != tc.wantErrOut {
					t.Errorf("stdout %q stderr %q, want %q and %q", out.String(), errOut.String(), tc.wantOut, tc.wantErrOut)
				}
			})
		}
	}
}

// TestRefusedBeforeUpgrade: what the endpoint cannot serve is answered before
// any upgrade, so that a WebSocket client may fall back to SPDY.
func TestRefusedBeforeUpgrade(t *testing.T) {
	srv := newSessionServer(t)
	cases := []struct {
		name   string
		path   string
		header http.Header
	}{
		{"no upgrade", "/exec/ns/pod/c?command=cat&stdout=true", http.Header{}},
		{"other WebSocket protocol", "/exec/ns/pod/c?command=cat&stdout=true", http.Header{
			"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {"v4.channel.k8s.io"}}},
		{"port-forward without the tunnel protocol", "/portForward/ns/pod", http.Header{
			"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {"v5.channel.k8s.io"}}},
		{"unknown upgrade", "/exec/ns/pod/c?command=cat&stdout=true", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"h2c"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
			req.Header = tc.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"kind":"Status"`) {
				t.Errorf("answer %d %s, want 400 with a Status", resp.StatusCode, body)
			}
		})
	}
}

// TestPortForwardSessions forwards a local port with client-go's port
// forwarder, as kubectl does: SPDY tunnelled in WebSocket, and plain SPDY.
func TestPortForwardSessions(t *testing.T) {
	srv := newSessionServer(t)
	cfg := &rest.Config{Host: srv.URL}
	u, _ := url.Parse(srv.URL + "/portForward/ns/pod")
	for _, proto := range []string{"websocket", "spdy"} {
		t.Run(proto, func(t *testing.T) {
			var dialer httpstream.Dialer
			if proto == "websocket" {
				d, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
				if err != nil {
					t.Fatal(err)
				}
				dialer = d
			} else {
				rt, upgrader, err := clientspdy.RoundTripperFor(cfg)
				if err != nil {
					t.Fatal(err)
				}
				dialer = clientspdy.NewDialer(upgrader, &http.Client{Transport: rt}, "POST", u)
			}
			stop, ready := make(chan struct{}), make(chan struct{})
			defer close(stop)
			out, errOut := &syncBuffer{}, &syncBuffer{}
			pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, out, errOut)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- pf.ForwardPorts() }()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("port forward ended: %v (%s)", err, errOut.String())
			case <-time.After(10 * time.Second):
				t.Fatal("port forward not ready")
			}
			ports, err := pf.GetPorts()
			if err != nil || len(ports) != 1 {
				t.Fatalf("ports %v: %v", ports, err)
			}
			for i := 0; i < 2; i++ { // one SPDY session carries several connections
				c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "ping %d\n", i)
				line, err := bufio.NewReader(c).ReadString('\n')
				c.Close()
				if err != nil || line != fmt.Sprintf("port 8080: ping %d\n", i) {
					t.Fatalf("read %q, %v", line, err)
				}
			}
		})
	}
}

func TestOnlyAllowedClients(t *testing.T) {
	s := New(Config{NodeName: "n"})
	h := s.only(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	cert := func(cn string) *tls.ConnectionState {
		return &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: cn}}}}}
	}
	cases := []struct {
		name string
		tls  *tls.ConnectionState
		want int
	}{
		{"the API server", cert("kube-apiserver-kubelet-client"), http.StatusTeapot},
		{"another user of the cluster CA", cert("tug-admin"), http.StatusForbidden},
		{"a node", cert("system:node:n"), http.StatusForbidden},
		{"no certificate", &tls.ConnectionState{}, http.StatusForbidden},
		{"plain HTTP", nil, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/exec/ns/pod/c", nil)
			r.TLS = tc.tls
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("code %d, want %d (%s)", w.Code, tc.want, w.Body.String())
			}
		})
	}
}
