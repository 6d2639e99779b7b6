package framework

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"tug/internal/agent/network"
	"tug/internal/agent/node"
)

// NodeNet is a private node network for one test cluster: a host bridge with
// its own subnet, so that clusters of tests running at once never meet.
type NodeNet struct {
	Bridge string
	// CIDR is the host's address on the bridge with the prefix, like 10.150.7.1/24.
	CIDR   string
	HostIP string
	prefix string // first three octets
	next   int
}

// NewNodeNet picks a bridge name and a /24 nobody on this machine uses.
func NewNodeNet() NodeNet {
	for {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		name := "tugt" + hex.EncodeToString(b)
		n, _ := rand.Int(rand.Reader, big.NewInt(100*250))
		o2, o3 := 100+int(n.Int64())/250, 1+int(n.Int64())%250
		prefix := fmt.Sprintf("10.%d.%d", o2, o3)
		if _, err := net.InterfaceByName(name); err == nil || subnetInUse(prefix) {
			continue
		}
		return NodeNet{Bridge: name, CIDR: prefix + ".1/24", HostIP: prefix + ".1", prefix: prefix, next: 2}
	}
}

func subnetInUse(prefix string) bool {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if strings.HasPrefix(a.String(), prefix+".") {
			return true
		}
	}
	return false
}

// NextIP hands out node addresses on the bridge.
func (n *NodeNet) NextIP() string {
	ip := fmt.Sprintf("%s.%d", n.prefix, n.next)
	n.next++
	return ip
}

// ServerArgs make a tug server listen on the bridge too.
func (n NodeNet) ServerArgs() []string {
	return []string{"--node-bridge", n.Bridge, "--node-bridge-cidr", n.CIDR}
}

// Delete removes the bridge (once every node on it is gone).
func (n NodeNet) Delete() error {
	br, err := network.ParseBridge(n.Bridge, n.CIDR)
	if err != nil {
		return err
	}
	return br.Delete()
}

// PauseBinary finds the pause program next to the tug binary, or builds it
// into dir.
func PauseBinary(tugBin, dir string) (string, error) {
	p := filepath.Join(filepath.Dir(tugBin), "pause")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	p = filepath.Join(dir, "pause")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", p, "./cmd/pause")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build pause: %v\n%s", err, out)
	}
	return p, nil
}

// Agent is a `tug agent` process running a real node in its own network
// namespace.
type Agent struct {
	Bin   string
	Dir   string
	Name  string
	Netns string
	IP    string
	args  []string

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	logPath  string
	stopOnce *sync.Once
}

// StartAgent joins a node named name to s through the node network and waits
// until the node is Ready.
func StartAgent(bin string, s *Server, nn *NodeNet, dir, name, pause string, extra ...string) (*Agent, error) {
	a := &Agent{Bin: bin, Dir: dir, Name: name, Netns: "tug-" + name, IP: nn.NextIP(), logPath: filepath.Join(dir, "agent.log")}
	a.args = append([]string{"agent",
		"--server", fmt.Sprintf("https://%s:%d", nn.HostIP, s.Port),
		"--token-file", filepath.Join(s.Dir, "data", "node-token"),
		"--data-dir", filepath.Join(dir, "data"),
		"--name", name,
		"--netns", a.Netns, "--bridge", nn.Bridge, "--bridge-cidr", nn.CIDR, "--node-ip", a.IP,
		"--pause-binary", pause,
	}, extra...)
	if err := a.start(); err != nil {
		return a, err
	}
	return a, a.WaitReady(s, 90*time.Second)
}

// DataDir is the node's data dir.
func (a *Agent) DataDir() string { return filepath.Join(a.Dir, "data") }

func (a *Agent) start() error {
	if err := os.MkdirAll(a.Dir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(a.Bin, a.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	a.mu.Lock()
	a.cmd, a.done, a.stopOnce = cmd, done, &sync.Once{}
	a.mu.Unlock()
	return nil
}

// WaitReady waits until the node reports Ready.
func (a *Agent) WaitReady(s *Server, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		done := a.done
		a.mu.Unlock()
		select {
		case <-done:
			return fmt.Errorf("tug agent exited during start-up; log:\n%s", a.LogTail(60))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, _, err := s.KubectlCtx(ctx, nil, "get", "node", a.Name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		cancel()
		if err == nil && strings.TrimSpace(out) == "True" {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("node %s not Ready after %s; agent log:\n%s", a.Name, timeout, a.LogTail(60))
}

// Stop ends the agent (SIGTERM, then SIGKILL after 15s). Its containers keep
// running, as they would for a real agent restart.
func (a *Agent) Stop() {
	a.mu.Lock()
	cmd, done, once := a.cmd, a.done, a.stopOnce
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	once.Do(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
}

// Kill ends the agent at once, as a crash would.
func (a *Agent) Kill() {
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart stops the agent and starts it again on the same data.
func (a *Agent) Restart(s *Server) error {
	a.Stop()
	if err := a.start(); err != nil {
		return err
	}
	return a.WaitReady(s, 90*time.Second)
}

// PID is the agent's process id.
func (a *Agent) PID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cmd.Process.Pid
}

// RSS is the agent's resident set size in bytes.
func (a *Agent) RSS() (int64, error) { return rssOf(a.PID()) }

// ContainerdPID is the pid of the node's containerd (0 if none runs).
func (a *Agent) ContainerdPID() int {
	b, err := os.ReadFile(filepath.Join(node.ContainerdDir(a.DataDir()), "containerd.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return 0
	}
	return pid
}

// Reset stops the agent and removes everything its node left on the machine:
// containers, containerd, mounts, cgroups and the network namespace.
func (a *Agent) Reset() error {
	a.Stop()
	return node.Reset(a.DataDir(), a.Netns, "/tug/"+a.Name)
}

// LogTail returns the last n lines of the agent's log.
func (a *Agent) LogTail(n int) string { return tail(a.logPath, n) }

// ContainerdLogTail returns the last n lines of the node's containerd log.
func (a *Agent) ContainerdLogTail(n int) string {
	return tail(filepath.Join(node.ContainerdDir(a.DataDir()), "containerd.log"), n)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
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
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
