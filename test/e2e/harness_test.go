package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"tug/test/framework"
)

// Server is a tug server under test.
type Server = framework.Server

var (
	tugBin string
	// shared is one server most tests use, each in its own namespace.
	shared *Server
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "tug-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if tugBin, err = framework.Binary(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := os.Stat(framework.KubectlPath); err != nil {
		fmt.Fprintf(os.Stderr, "the e2e tests need kubectl at %s\n", framework.KubectlPath)
		return 1
	}
	shared, err = framework.StartServer(tugBin, filepath.Join(tmp, "shared"))
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

// newServer starts a private server for one test, stopped (and its log printed on
// failure) when the test ends.
func newServer(t *testing.T, extra ...string) *Server {
	t.Helper()
	s, err := framework.StartServer(tugBin, t.TempDir(), extra...)
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

// kStdin pipes a manifest to kubectl.
func kStdin(t *testing.T, s *Server, manifest string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return s.KubectlCtx(ctx, []byte(manifest), args...)
}

// clientset returns a client-go clientset for s.
func clientset(t *testing.T, s *Server) *kubernetes.Clientset {
	t.Helper()
	cs, err := s.Clientset()
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
