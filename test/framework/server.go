// Package framework starts the real tug binary for end-to-end tests and benchmarks
// and drives it with the real kubectl and client-go.
package framework

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubectlPath is the reference client.
const KubectlPath = "/usr/bin/kubectl"

// Binary returns the tug binary to test: $TUG_BIN, or one built into dir.
func Binary(dir string) (string, error) {
	if b := os.Getenv("TUG_BIN"); b != "" {
		return b, nil
	}
	bin := filepath.Join(dir, "tug")
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/tug")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build tug: %v\n%s", err, out)
	}
	return bin, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Server is a `tug server` process.
type Server struct {
	Bin        string
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

// FreePort returns a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartServer starts `tug server` with its data in dir and waits until it is ready.
func StartServer(bin, dir string, extra ...string) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Bin: bin, Dir: dir, Port: port, Kubeconfig: filepath.Join(dir, "data", "admin.kubeconfig"), logPath: filepath.Join(dir, "server.log")}
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
	s.cmd = exec.Command(s.Bin, s.args...)
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
			out, _, err := s.KubectlCtx(ctx, nil, "get", "--raw", "/readyz")
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

// PID is the server's process ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// RSS returns the server's resident set size in bytes.
func (s *Server) RSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.PID()))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", s.PID())
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

// KubectlCtx runs kubectl against the server with stdin (may be nil).
func (s *Server) KubectlCtx(ctx context.Context, stdin []byte, args ...string) (string, string, error) {
	full := append([]string{"--cache-dir", filepath.Join(s.Dir, "kcache")}, args...)
	cmd := exec.CommandContext(ctx, KubectlPath, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig, "HOME="+s.Dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// Kubectl runs kubectl against the server (60s limit).
func (s *Server) Kubectl(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return s.KubectlCtx(ctx, nil, args...)
}

// RESTConfig is a client-go config for the admin kubeconfig, without client-side
// rate limits.
func (s *Server) RESTConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = -1, -1
	return cfg, nil
}

// Clientset returns a client-go clientset for the admin kubeconfig.
func (s *Server) Clientset() (*kubernetes.Clientset, error) {
	cfg, err := s.RESTConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}
