package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"tug/test/framework"
)

// TestStreaming drives logs, exec, attach and port-forward with the real
// kubectl through the real server to a real node (tug agent --netns on
// containerd): WebSocket first as kubectl 1.32 does, SPDY when told to fall
// back, and RBAC in front of it all.
func TestStreaming(t *testing.T) {
	c := startNodeCluster(t)
	ns := namespace(t, c.s)
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  nodeName: NODE
  containers:
  - name: main
    image: busybox
    # The runtime reads stdout and stderr apart: a pause between them keeps
    # their order in the log.
    command: [sh, -c, 'for i in 1 2 3 4 5; do echo line-$i; done; sleep 1; echo err-line >&2; sleep 3; echo late; exec sleep 3600']
  - name: side
    image: busybox
    command: [sh, -c, 'echo side-hello; exec sleep 3600']
---
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  nodeName: NODE
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'n=$(cat /d/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /d/n; echo run-$n; if [ $n -ge 2 ]; then exec sleep 3600; fi; exit 1']
    volumeMounts: [{name: d, mountPath: /d}]
  volumes: [{name: d, emptyDir: {}}]

---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: NODE
  containers:
  - name: httpd
    image: busybox
    command: [sh, -c, 'mkdir -p /www/sub; echo hello-through-port-forward > /www/index.html; echo deeper > /www/sub/page.txt; exec httpd -f -p 80 -h /www']
    ports: [{name: http, containerPort: 80}]
    readinessProbe: {tcpSocket: {port: 80}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: www, port: 8080, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: ticker}
spec:
  nodeName: NODE
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done']
---
apiVersion: v1
kind: Pod
metadata: {name: echoer}
spec:
  nodeName: NODE
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    stdin: true
    stdinOnce: true
    command: [sh, -c, 'read line; echo got-$line']
---
apiVersion: v1
kind: Pod
metadata: {name: stuck}
spec:
  nodeName: NODE
  containers:
  - name: main
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: cfg, mountPath: /cfg}]
  volumes:
  - name: cfg
    configMap: {name: does-not-exist}
`)
	for _, name := range []string{"talker", "web", "ticker", "echoer"} {
		c.waitPod(t, ns, name, 90*time.Second, "running", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning && allRunning(p)
		})
	}
	// The late line says the talker has written everything it will write.
	eventually(t, 60*time.Second, func() error {
		out, _, err := c.s.Kubectl("logs", "-n", ns, "talker", "-c", "main")
		if err != nil || !strings.Contains(out, "late") {
			return fmt.Errorf("talker log so far %q: %v", out, err)
		}
		return nil
	})

	t.Run("Logs", func(t *testing.T) { testLogs(t, c, ns) })
	t.Run("LogsFollowEndsWithContainer", func(t *testing.T) { testLogsFollow(t, c, ns) })
	t.Run("LogsPrevious", func(t *testing.T) { testLogsPrevious(t, c, ns) })
	t.Run("LogsOfPendingPod", func(t *testing.T) {
		c.waitPod(t, ns, "stuck", 60*time.Second, "waiting in ContainerCreating", func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
				p.Status.ContainerStatuses[0].State.Waiting.Reason == "ContainerCreating"
		})
		errOut := kFail(t, c.s, "logs", "-n", ns, "stuck")
		want := `Error from server (BadRequest): container "main" in pod "stuck" is waiting to start: ContainerCreating`
		if strings.TrimSpace(errOut) != want {
			t.Errorf("stderr %q, want %q", errOut, want)
		}
	})
	for _, spdy := range []bool{false, true} {
		name := "WebSocket"
		var env []string
		if spdy {
			name = "SPDY"
			env = []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false", "KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}
		}
		t.Run("Exec"+name, func(t *testing.T) { testExec(t, c, ns, env) })
		t.Run("PortForward"+name, func(t *testing.T) { testPortForward(t, c, ns, env) })
	}
	t.Run("ExecWithTerminal", func(t *testing.T) { testExecTTY(t, c, ns) })
	t.Run("RunInteractive", func(t *testing.T) { testRunInteractive(t, c, ns) })
	t.Run("Attach", func(t *testing.T) { testAttach(t, c, ns) })
	t.Run("DebugInteractive", func(t *testing.T) { testDebugInteractive(t, c, ns) })
	t.Run("NodeProxy", func(t *testing.T) {
		out := k(t, c.s, "get", "--raw", "/api/v1/nodes/"+c.a.Name+"/proxy/healthz")
		if strings.TrimSpace(out) != "ok" {
			t.Errorf("node proxy healthz: %q", out)
		}
	})
	t.Run("Proxy", func(t *testing.T) { testProxy(t, c, ns) })
	t.Run("RBAC", func(t *testing.T) { testStreamingRBAC(t, c, ns) })
}

func allRunning(p *corev1.Pod) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return len(p.Status.ContainerStatuses) > 0
}

// kubectlEnv runs kubectl against s with extra environment, stdin (may be
// nil) and a time limit; it returns stdout, stderr and the exit code (-1 when
// it did not exit by itself).
func kubectlEnv(s *Server, env []string, stdin []byte, limit time.Duration, args ...string) (string, string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, framework.KubectlPath, append([]string{"--cache-dir", filepath.Join(s.Dir, "kcache")}, args...)...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+s.Kubeconfig, "HOME="+s.Dir), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		code = -1
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		code = -1
	}
	return out.String(), errb.String(), code
}

var stampRE = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z) (.*)$`)

func testLogs(t *testing.T, c *nodeCluster, ns string) {
	all := "line-1\nline-2\nline-3\nline-4\nline-5\nerr-line\nlate\n"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"all", []string{"talker"}, all}, // the first container is the default
		{"container", []string{"talker", "-c", "side"}, "side-hello\n"},
		{"tail", []string{"talker", "-c", "main", "--tail=2"}, "err-line\nlate\n"},
		{"limit bytes", []string{"talker", "-c", "main", "--limit-bytes=9"}, "line-1\nli"},
		{"since an hour", []string{"talker", "-c", "main", "--since=1h"}, all},
		{"pod/ prefix", []string{"pod/talker", "-c", "main", "--tail=1"}, "late\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := k(t, c.s, append([]string{"logs", "-n", ns}, tc.args...)...)
			if out != tc.want {
				t.Errorf("kubectl logs %v: %q, want %q", tc.args, out, tc.want)
			}
		})
	}
	t.Run("timestamps and since-time", func(t *testing.T) {
		out := k(t, c.s, "logs", "-n", ns, "talker", "-c", "main", "--timestamps")
		ls := lines(out)
		if len(ls) != 7 {
			t.Fatalf("%d lines: %q", len(ls), out)
		}
		var lateAt time.Time
		for i, l := range ls {
			m := stampRE.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("line %d %q has no timestamp", i, l)
			}
			ts, err := time.Parse(time.RFC3339Nano, m[1])
			if err != nil {
				t.Fatal(err)
			}
			if m[3] == "late" {
				lateAt = ts
			}
		}
		// The late line came three seconds after the others: a start between
		// them keeps it alone.
		since := lateAt.Add(-time.Second).UTC().Format(time.RFC3339)
		if out := k(t, c.s, "logs", "-n", ns, "talker", "-c", "main", "--since-time="+since); out != "late\n" {
			t.Errorf("--since-time=%s: %q", since, out)
		}
	})
	t.Run("since", func(t *testing.T) {
		// The talker is quiet after "late": once two seconds have passed, the
		// last second holds nothing.
		out := k(t, c.s, "logs", "-n", ns, "talker", "-c", "main", "--timestamps", "--tail=1")
		m := stampRE.FindStringSubmatch(strings.TrimSpace(out))
		if m == nil || m[3] != "late" {
			t.Fatalf("last line %q", out)
		}
		lateAt, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Until(lateAt.Add(2 * time.Second)); d > 0 {
			time.Sleep(d)
		}
		if out := k(t, c.s, "logs", "-n", ns, "talker", "-c", "main", "--since=1s"); out != "" {
			t.Errorf("--since=1s: %q", out)
		}
	})
	t.Run("unknown container", func(t *testing.T) {
		errOut := kFail(t, c.s, "logs", "-n", ns, "talker", "-c", "nope")
		if !strings.Contains(errOut, "container nope is not valid for pod talker") {
			t.Errorf("stderr %q", errOut)
		}
	})
}

func testLogsFollow(t *testing.T, c *nodeCluster, ns string) {
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: brief}
spec:
  nodeName: NODE
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'sleep 2; for i in 1 2 3; do echo tick-$i; sleep 1; done']
`)
	c.waitPod(t, ns, "brief", 60*time.Second, "running", func(p *corev1.Pod) bool { return running(p) })
	start := time.Now()
	out, errOut, code := kubectlEnv(c.s, nil, nil, 60*time.Second, "logs", "-f", "-n", ns, "brief")
	took := time.Since(start)
	if code != 0 || out != "tick-1\ntick-2\ntick-3\n" {
		t.Fatalf("logs -f: exit %d after %s, stdout %q stderr %q", code, took, out, errOut)
	}
	// The ticks are two seconds apart from first to last: the log was followed
	// while they came, and ended when the container did.
	if took < time.Second {
		t.Errorf("logs -f ended after %s, before the container could have written its ticks", took)
	}
}

func testLogsPrevious(t *testing.T, c *nodeCluster, ns string) {
	c.waitPod(t, ns, "crash", 90*time.Second, "running again after a restart", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	eventually(t, 30*time.Second, func() error {
		cur, _, err := c.s.Kubectl("logs", "-n", ns, "crash")
		if err != nil || cur != "run-2\n" {
			return fmt.Errorf("current log %q: %v", cur, err)
		}
		return nil
	})
	if prev := k(t, c.s, "logs", "-n", ns, "crash", "--previous"); prev != "run-1\n" {
		t.Errorf("previous log %q, want run-1", prev)
	}
	errOut := kFail(t, c.s, "logs", "-n", ns, "talker", "-c", "main", "--previous")
	if !strings.Contains(errOut, `previous terminated container "main" in pod "talker" not found`) {
		t.Errorf("stderr %q", errOut)
	}
}

func testExec(t *testing.T, c *nodeCluster, ns string, env []string) {
	out, errOut, code := kubectlEnv(c.s, env, nil, 60*time.Second, "exec", "-n", ns, "talker", "-c", "main", "--", "sh", "-c", "echo to-out; echo to-err >&2; exit 3")
	if code != 3 || out != "to-out\n" || !strings.Contains(errOut, "to-err") {
		t.Errorf("exec exit 3: code %d stdout %q stderr %q", code, out, errOut)
	}
	out, errOut, code = kubectlEnv(c.s, env, nil, 60*time.Second, "exec", "-n", ns, "talker", "--", "cat", "/etc/hostname")
	if code != 0 || strings.TrimSpace(out) != "talker" {
		t.Errorf("exec in the default container: code %d stdout %q stderr %q", code, out, errOut)
	}
	out, errOut, code = kubectlEnv(c.s, env, []byte("from stdin\nsecond line\n"), 60*time.Second, "exec", "-i", "-n", ns, "talker", "-c", "main", "--", "sh", "-c", "cat; echo done")
	if code != 0 || out != "from stdin\nsecond line\ndone\n" {
		t.Errorf("exec -i: code %d stdout %q stderr %q", code, out, errOut)
	}
	_, errOut, code = kubectlEnv(c.s, env, nil, 60*time.Second, "exec", "-n", ns, "talker", "-c", "main", "--", "/no/such/program")
	if code == 0 || errOut == "" {
		t.Errorf("exec of a missing program: code %d stderr %q", code, errOut)
	}
}

// ptySession runs kubectl with args under a pseudo-terminal of 33 rows and 91
// columns (script), stopped after a minute at most.
type ptySession struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *lockedBuffer
}

func startPTY(t *testing.T, c *nodeCluster, args string) *ptySession {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) is not installed")
	}
	kubectl := fmt.Sprintf("%s --cache-dir %s %s", framework.KubectlPath, filepath.Join(c.s.Dir, "kcache"), args)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	p := &ptySession{out: &lockedBuffer{}}
	p.cmd = exec.CommandContext(ctx, script, "-qec", "stty cols 91 rows 33; exec "+kubectl, "/dev/null")
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+c.s.Kubeconfig, "HOME="+c.s.Dir)
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Wait() })
	return p
}

// waitFor waits until the terminal shows want.
func (p *ptySession) waitFor(t *testing.T, want string) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		if !strings.Contains(p.out.String(), want) {
			return fmt.Errorf("no %q yet: %q", want, p.out.String())
		}
		return nil
	})
}

// exitCode waits for kubectl to end.
func (p *ptySession) exitCode() (int, error) {
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

// testExecTTY runs `kubectl exec -it` under a pseudo-terminal: the remote
// shell has a terminal of the local size, and its exit code comes back.
func testExecTTY(t *testing.T, c *nodeCluster, ns string) {
	p := startPTY(t, c, "exec -it -n "+ns+" talker -c main -- sh")
	p.waitFor(t, "# ") // the remote prompt
	io.WriteString(p.stdin, "tty; stty size; echo $((6*7))x\n")
	p.waitFor(t, "42x")
	io.WriteString(p.stdin, "exit 7\n")
	if code, err := p.exitCode(); code != 7 {
		t.Errorf("exec -it ended with %d (%v), want exit code 7; output %q", code, err, p.out.String())
	}
	got := p.out.String()
	if !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "33 91") {
		t.Errorf("the remote shell has no terminal of 33x91: %q", got)
	}
}

// testRunInteractive: `kubectl run -it --rm` creates a pod with a terminal,
// attaches to it, and deletes it when the shell ends.
func testRunInteractive(t *testing.T, c *nodeCluster, ns string) {
	p := startPTY(t, c, "run -it --rm -n "+ns+" shell --image=busybox --restart=Never --overrides='{\"spec\":{\"nodeName\":\""+c.a.Name+"\"}}' -- sh")
	// The shell may have prompted before kubectl attached: a new line asks again.
	p.waitFor(t, "If you don't see a command prompt")
	io.WriteString(p.stdin, "\n")
	p.waitFor(t, "# ")
	io.WriteString(p.stdin, "echo inside-$((40+2)); stty size\n")
	p.waitFor(t, "inside-42")
	io.WriteString(p.stdin, "exit\n")
	if code, err := p.exitCode(); code != 0 || err != nil {
		t.Errorf("run -it ended with %d (%v); output %q", code, err, p.out.String())
	}
	got := p.out.String()
	if !strings.Contains(got, "33 91") || !strings.Contains(got, `pod "shell" deleted`) {
		t.Errorf("output %q", got)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testAttach(t *testing.T, c *nodeCluster, ns string) {
	// Attach shows what the container writes from now on; it never ends on its
	// own, so it is stopped after a few lines.
	out, errOut, code := kubectlEnv(c.s, nil, nil, 5*time.Second, "attach", "-n", ns, "ticker")
	if code != -1 || !regexp.MustCompile(`tick-\d+\n`).MatchString(out) {
		t.Errorf("attach: code %d stdout %q stderr %q", code, out, errOut)
	}
	// With -i the container reads what kubectl sends; it exits after one line
	// and the session ends with it.
	out, errOut, code = kubectlEnv(c.s, nil, []byte("hello\n"), 60*time.Second, "attach", "-i", "-n", ns, "echoer")
	if code != 0 || !strings.Contains(out, "got-hello") {
		t.Errorf("attach -i: code %d stdout %q stderr %q", code, out, errOut)
	}
}

var forwardingRE = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 80`)

func testPortForward(t *testing.T, c *nodeCluster, ns string, env []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, framework.KubectlPath, "--cache-dir", filepath.Join(c.s.Dir, "kcache"), "port-forward", "-n", ns, "pod/web", ":80")
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+c.s.Kubeconfig, "HOME="+c.s.Dir), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errOut := &lockedBuffer{}
	cmd.Stderr = errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := forwardingRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case port <- m[1]:
				default:
				}
			}
		}
	}()
	var local string
	select {
	case local = <-port:
	case <-time.After(30 * time.Second):
		t.Fatalf("port-forward did not start; stderr %q", errOut.String())
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < 3; i++ { // several connections through one forward
		resp, err := client.Get("http://127.0.0.1:" + local + "/")
		if err != nil {
			t.Fatalf("GET through port-forward: %v; kubectl stderr %q", err, errOut.String())
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello-through-port-forward\n" {
			t.Fatalf("GET through port-forward: %d %q", resp.StatusCode, body)
		}
	}
}

// testProxy reaches the web pod's HTTP server through the API server's pod
// and service proxies.
func testProxy(t *testing.T, c *nodeCluster, ns string) {
	c.waitPod(t, ns, "web", 60*time.Second, "ready", podReady)
	cases := []struct{ path, want string }{
		{"/api/v1/namespaces/" + ns + "/pods/web/proxy/", "hello-through-port-forward\n"},
		{"/api/v1/namespaces/" + ns + "/pods/web:http/proxy/sub/page.txt", "deeper\n"},
		{"/api/v1/namespaces/" + ns + "/pods/http:web:80/proxy/sub/page.txt", "deeper\n"},
		{"/api/v1/namespaces/" + ns + "/services/web/proxy/sub/page.txt", "deeper\n"},
		{"/api/v1/namespaces/" + ns + "/services/web:www/proxy/", "hello-through-port-forward\n"},
	}
	for _, tc := range cases {
		if out := k(t, c.s, "get", "--raw", tc.path); out != tc.want {
			t.Errorf("GET %s: %q, want %q", tc.path, out, tc.want)
		}
	}
	errOut := kFail(t, c.s, "get", "--raw", "/api/v1/namespaces/"+ns+"/pods/web:81/proxy/")
	if !strings.Contains(errOut, "error trying to reach pod web on port 81") {
		t.Errorf("proxy to a closed port: %q", errOut)
	}
}

// testStreamingRBAC: a user who may read pods and their logs but not exec,
// attach or port-forward is refused by the API server.
func testStreamingRBAC(t *testing.T, c *nodeCluster, ns string) {
	k(t, c.s, "create", "role", "reader", "-n", ns, "--verb=get,list,watch", "--resource=pods,pods/log")
	k(t, c.s, "create", "rolebinding", "reader", "-n", ns, "--role=reader", "--user=stranger")
	kc := userKubeconfig(t, c.s, "stranger")
	as := func(env []string, args ...string) (string, string, int) {
		return kubectlEnv(c.s, env, nil, 60*time.Second, append([]string{"--kubeconfig", kc}, args...)...)
	}
	var out string
	eventually(t, 20*time.Second, func() error {
		var errOut string
		var code int
		out, errOut, code = as(nil, "logs", "-n", ns, "talker", "-c", "main", "--tail=1")
		if code != 0 {
			return fmt.Errorf("logs as stranger: %d %s", code, errOut)
		}
		return nil
	})
	if out != "late\n" {
		t.Errorf("logs as stranger: %q", out)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		sub  string
	}{
		{"exec", nil, []string{"exec", "-n", ns, "talker", "-c", "main", "--", "true"}, "pods/exec"},
		{"exec over SPDY", []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"}, []string{"exec", "-n", ns, "talker", "-c", "main", "--", "true"}, "pods/exec"},
		{"attach", nil, []string{"attach", "-n", ns, "ticker"}, "pods/attach"},
		{"port-forward", nil, []string{"port-forward", "-n", ns, "pod/web", ":80"}, "pods/portforward"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := as(tc.env, tc.args...)
			want := fmt.Sprintf(`User "stranger" cannot create resource %q`, tc.sub)
			if code == 0 || !strings.Contains(errOut, want) {
				t.Errorf("%s as stranger: exit %d stderr %q, want a refusal saying %q", tc.name, code, errOut, want)
			}
		})
	}
}
