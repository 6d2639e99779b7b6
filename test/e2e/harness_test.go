package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// kubectlPath is the reference client.
const kubectlPath = "/usr/bin/kubectl"

var (
	tugBin string
	// shared is one server most tests use, each in its own namespace.
	shared *Server
)

func TestMain(m *testing.M) {
	code := run(m)
	os.Exit(code)
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "tug-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	tugBin = os.Getenv("TUG_BIN")
	if tugBin == "" {
		tugBin = filepath.Join(tmp, "tug")
		out, err := exec.Command("go", "build", "-o", tugBin, "../../cmd/tug").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build tug: %v\n%s", err, out)
			return 1
		}
	}
	if _, err := os.Stat(kubectlPath); err != nil {
		fmt.Fprintf(os.Stderr, "the e2e tests need kubectl at %s\n", kubectlPath)
		return 1
	}
	shared, err = StartServer(filepath.Join(tmp, "shared"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "start shared server:", err)
		return 1
	}
	code := m.Run()
	shared.Stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "\n===== tug server log (shared server, last 300 lines) =====\n%s\n", shared.LogTail(300))
	}
	return code
}

// Server is a `tug server` process started by a test.
type Server struct {
	Dir        string
	URL        string
	Kubeconfig string
	Port       int
	cmd        *exec.Cmd
	logPath    string
	done       chan struct{}
	stopOnce   sync.Once
	args       []string
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartServer starts `tug server` with its data in dir and waits until it is ready.
func StartServer(dir string, extra ...string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Port: port, Kubeconfig: filepath.Join(dir, "data", "admin.kubeconfig"), logPath: filepath.Join(dir, "server.log")}
	s.args = append([]string{"server", "--data-dir", filepath.Join(dir, "data"), "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, extra...)
	return s, s.start()
}

func (s *Server) start() error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.cmd = exec.Command(tugBin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	s.done = make(chan struct{})
	s.stopOnce = sync.Once{}
	go func() { _ = s.cmd.Wait(); logf.Close(); close(s.done) }()
	s.URL = fmt.Sprintf("https://127.0.0.1:%d", s.Port)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("tug server exited during start-up; log:\n%s", s.LogTail(100))
		default:
		}
		if _, err := os.Stat(s.Kubeconfig); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			out, _, err := s.kubectlCtx(ctx, "get", "--raw", "/readyz")
			cancel()
			if err == nil && strings.TrimSpace(out) == "ok" {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("tug server not ready after 60s; log:\n%s", s.LogTail(100))
}

// Stop ends the server (SIGTERM, then SIGKILL after 10s) and waits for it.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd == nil || s.cmd.Process == nil {
			return
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// Restart stops the server and starts it again on the same data and port.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

// LogTail returns the last n lines of the server log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// newServer starts a private server for one test, stopped (and its log printed on
// failure) when the test ends.
func newServer(t *testing.T, extra ...string) *Server {
	t.Helper()
	s, err := StartServer(t.TempDir(), extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("tug server log (last 200 lines):\n%s", s.LogTail(200))
		}
	})
	return s
}

func (s *Server) kubectlCtx(ctx context.Context, args ...string) (string, string, error) {
	return s.kubectlIn(ctx, nil, args...)
}

func (s *Server) kubectlIn(ctx context.Context, stdin []byte, args ...string) (string, string, error) {
	full := append([]string{"--cache-dir", filepath.Join(s.Dir, "kcache")}, args...)
	cmd := exec.CommandContext(ctx, kubectlPath, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig, "HOME="+s.Dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// Kubectl runs kubectl against the server (60s limit) and returns stdout, stderr and error.
func (s *Server) Kubectl(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return s.kubectlCtx(ctx, args...)
}

// k runs kubectl and fails the test if it fails.
func k(t *testing.T, s *Server, args ...string) string {
	t.Helper()
	out, errOut, err := s.Kubectl(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// kFail runs kubectl expecting failure and returns its stderr.
func kFail(t *testing.T, s *Server, args ...string) string {
	t.Helper()
	out, errOut, err := s.Kubectl(args...)
	if err == nil {
		t.Fatalf("kubectl %s succeeded but should have failed\nstdout: %s", strings.Join(args, " "), out)
	}
	return errOut
}

// kApply pipes a manifest to kubectl.
func kStdin(t *testing.T, s *Server, manifest string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return s.kubectlIn(ctx, []byte(manifest), args...)
}

// Clientset returns a client-go clientset for the admin kubeconfig.
func (s *Server) Clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// namespace makes a fresh namespace on s for one test.
func namespace(t *testing.T, s *Server) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-") + fmt.Sprintf("-%d", time.Now().UnixNano()%100000)
	k(t, s, "create", "namespace", name)
	return name
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("condition not met after %s: %v", timeout, err)
}

// lines splits command output into trimmed non-empty lines.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
