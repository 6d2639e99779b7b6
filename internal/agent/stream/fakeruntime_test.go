package stream

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeRuntime is a container runtime with one running container in pod
// ns/pod and a streaming server that speaks SPDY like a real runtime's. Its
// "processes" are scripted by command:
//
//	cat          copies stdin to stdout
//	exit N       writes "bye" to stderr and exits with N
//	size         prints the first terminal size it gets as WxH
//	attach       (attach) prints "attached" and ends
//
// Port-forward connects every data stream to an echo that prefixes "port P: ".
type fakeRuntime struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	sessions map[string]fakeSession
	next     int
}

type fakeSession struct {
	cmd                        []string
	stdin, stdout, stderr, tty bool
	portForward                bool
}

func newFakeRuntime(t *testing.T) *fakeRuntime {
	f := &fakeRuntime{t: t, sessions: map[string]fakeSession{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRuntime) add(s fakeSession) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	token := strconv.Itoa(f.next)
	f.sessions[token] = s
	return f.srv.URL + "/session/" + token
}

func (f *fakeRuntime) ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	l := filter.GetLabelSelector()
	if l[labelPodNamespace] != "ns" || l[labelPodName] != "pod" || l[labelContainerName] != "c" {
		return nil, nil
	}
	return []*runtimeapi.Container{{Id: "cid", Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, State: runtimeapi.ContainerState_CONTAINER_RUNNING}}, nil
}

func (f *fakeRuntime) ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	return nil, fmt.Errorf("not found")
}

func (f *fakeRuntime) ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	l := filter.GetLabelSelector()
	if l[labelPodNamespace] != "ns" || l[labelPodName] != "pod" {
		return nil, nil
	}
	return []*runtimeapi.PodSandbox{{Id: "sid", State: runtimeapi.PodSandboxState_SANDBOX_READY}}, nil
}

func (f *fakeRuntime) Exec(ctx context.Context, r *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return &runtimeapi.ExecResponse{Url: f.add(fakeSession{cmd: r.Cmd, stdin: r.Stdin, stdout: r.Stdout, stderr: r.Stderr, tty: r.Tty})}, nil
}

func (f *fakeRuntime) Attach(ctx context.Context, r *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return &runtimeapi.AttachResponse{Url: f.add(fakeSession{cmd: []string{"attach"}, stdin: r.Stdin, stdout: r.Stdout, stderr: r.Stderr, tty: r.Tty})}, nil
}

func (f *fakeRuntime) PortForward(ctx context.Context, r *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return &runtimeapi.PortForwardResponse{Url: f.add(fakeSession{portForward: true})}, nil
}

func (f *fakeRuntime) serve(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimPrefix(r.URL.Path, "/session/")
	f.mu.Lock()
	s, ok := f.sessions[token]
	delete(f.sessions, token)
	f.mu.Unlock()
	if !ok {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	if s.portForward {
		f.servePortForward(w, r)
		return
	}
	if _, err := httpstream.Handshake(r, w, []string{"v4.channel.k8s.io"}); err != nil {
		return
	}
	streams := make(chan httpstream.Stream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, _ <-chan struct{}) error {
		streams <- st
		return nil
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	want := 1 // error
	for _, b := range []bool{s.stdin, s.stdout, s.stderr, s.tty} {
		if b {
			want++
		}
	}
	byType := map[string]httpstream.Stream{}
	timeout := time.After(5 * time.Second)
	for len(byType) < want {
		select {
		case st := <-streams:
			byType[st.Headers().Get("streamType")] = st
		case <-timeout:
			f.t.Errorf("fake runtime: got streams %v, want %d", keys(byType), want)
			return
		}
	}
	code := 0
	switch s.cmd[0] {
	case "cat":
		_, _ = io.Copy(byType["stdout"], byType["stdin"])
	case "exit":
		_, _ = byType["stderr"].Write([]byte("bye"))
		code, _ = strconv.Atoi(s.cmd[1])
	case "size":
		var sz remotecommand.TerminalSize
		if err := json.NewDecoder(byType["resize"]).Decode(&sz); err == nil {
			fmt.Fprintf(byType["stdout"], "%dx%d", sz.Width, sz.Height)
		}
	case "attach":
		_, _ = byType["stdout"].Write([]byte("attached"))
	}
	for _, name := range []string{"stdout", "stderr"} {
		if st := byType[name]; st != nil {
			st.Close()
		}
	}
	if code != 0 {
		b, _ := json.Marshal(nonZeroExit(code))
		_, _ = byType["error"].Write(b)
	}
	byType["error"].Close()
	// Give the client a moment to read everything before the connection ends.
	time.Sleep(50 * time.Millisecond)
}

func (f *fakeRuntime) servePortForward(w http.ResponseWriter, r *http.Request) {
	if _, err := httpstream.Handshake(r, w, []string{portForwardProtocol}); err != nil {
		return
	}
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, _ <-chan struct{}) error {
		if st.Headers().Get("streamType") != "data" {
			return nil
		}
		go func() {
			defer st.Close()
			br := bufio.NewReader(st)
			for {
				line, err := br.ReadString('\n')
				if line != "" {
					fmt.Fprintf(st, "port %s: %s", st.Headers().Get("port"), line)
				}
				if err != nil {
					return
				}
			}
		}()
		return nil
	})
	if conn == nil {
		return
	}
	<-conn.CloseChan()
}

func keys(m map[string]httpstream.Stream) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
