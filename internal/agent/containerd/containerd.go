// Package containerd runs the node's own containerd: a config, root and state
// under the agent's data dir, started inside the node's network namespace, and
// restarted when it dies. Containers outlive containerd (their shims keep them),
// so a restart loses nothing.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tug/internal/agent/mounts"
	"tug/internal/agent/network"
)

// Config says where containerd keeps its files and how it is configured.
type Config struct {
	// Dir holds config.toml, root/, state/, the socket and the log.
	Dir string
	// Binary is the containerd executable (default: containerd from PATH).
	Binary string
	// Netns is where containerd, and so every shim, runc and CNI plugin, runs.
	Netns *network.Namespace
	// SandboxImage is the pause image.
	SandboxImage string
	// CNIConfDir and CNIBinDir configure pod networking.
	CNIConfDir string
	CNIBinDir  string
	// Log receives containerd's output (default: Dir/containerd.log).
	Log io.Writer
}

// Supervisor keeps one containerd running.
type Supervisor struct {
	cfg Config

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	pid     int
	started int
}

// Paths under Dir.
func (c Config) ConfigPath() string { return filepath.Join(c.Dir, "config.toml") }
func (c Config) Socket() string     { return filepath.Join(c.Dir, "containerd.sock") }
func (c Config) Root() string       { return filepath.Join(c.Dir, "root") }
func (c Config) State() string      { return filepath.Join(c.Dir, "state") }
func (c Config) RuncRoot() string   { return filepath.Join(c.Dir, "state", "runc") }
func (c Config) pidFile() string    { return filepath.Join(c.Dir, "containerd.pid") }

// Endpoint is the CRI endpoint of the supervised containerd.
func (s *Supervisor) Endpoint() string { return "unix://" + s.cfg.Socket() }

// Config returns the supervisor's configuration.
func (s *Supervisor) Config() Config { return s.cfg }

// New checks that containerd and runc are installed and prepares the directory.
func New(cfg Config) (*Supervisor, error) {
	if cfg.Binary == "" {
		p, err := exec.LookPath("containerd")
		if err != nil {
			return nil, errors.New("containerd is not installed: install it with `apt-get install containerd runc` (or run `make up`, which installs what tug needs), or point the agent at a running runtime with --container-runtime-endpoint")
		}
		cfg.Binary = p
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil, errors.New("runc is not installed: install it with `apt-get install runc` (or run `make up`, which installs what tug needs)")
	}
	if cfg.CNIBinDir == "" {
		cfg.CNIBinDir = network.CNIBinDir
	}
	if err := os.MkdirAll(cfg.Dir, 0o711); err != nil {
		return nil, err
	}
	return &Supervisor{cfg: cfg}, nil
}

// ConfigTOML renders containerd's configuration: everything under Dir, the CRI
// plugin with the cgroupfs driver, oom_score_adj clamped to what the agent may set
// (it may not lower its own), network namespaces kept under the state dir.
func (c Config) ConfigTOML() string {
	q := strconv.Quote
	var b strings.Builder
	fmt.Fprintf(&b, "version = 2\nroot = %s\nstate = %s\noom_score = 0\n", q(c.Root()), q(c.State()))
	fmt.Fprintf(&b, "disabled_plugins = [%s]\n\n", strings.Join([]string{
		q("io.containerd.snapshotter.v1.aufs"), q("io.containerd.snapshotter.v1.btrfs"),
		q("io.containerd.snapshotter.v1.zfs"), q("io.containerd.snapshotter.v1.devmapper"),
		q("io.containerd.internal.v1.tracing"), q("io.containerd.tracing.processor.v1.otlp"),
	}, ", "))
	fmt.Fprintf(&b, "[grpc]\n  address = %s\n\n", q(c.Socket()))
	fmt.Fprintf(&b, "[ttrpc]\n  address = %s\n\n", q(c.Socket()+".ttrpc"))
	fmt.Fprintf(&b, "[plugins]\n")
	fmt.Fprintf(&b, "  [plugins.\"io.containerd.internal.v1.opt\"]\n    path = %s\n", q(filepath.Join(c.Dir, "opt")))
	fmt.Fprintf(&b, "  [plugins.\"io.containerd.grpc.v1.cri\"]\n")
	fmt.Fprintf(&b, "    sandbox_image = %s\n", q(c.SandboxImage))
	fmt.Fprintf(&b, "    restrict_oom_score_adj = true\n")
	fmt.Fprintf(&b, "    netns_mounts_under_state_dir = true\n")
	fmt.Fprintf(&b, "    disable_apparmor = true\n")
	fmt.Fprintf(&b, "    disable_hugetlb_controller = true\n")
	fmt.Fprintf(&b, "    tolerate_missing_hugetlb_controller = true\n")
	fmt.Fprintf(&b, "    max_container_log_line_size = 16384\n")
	fmt.Fprintf(&b, "    stats_collect_period = 10\n")
	fmt.Fprintf(&b, "    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n      bin_dir = %s\n      conf_dir = %s\n      max_conf_num = 1\n", q(c.CNIBinDir), q(c.CNIConfDir))
	fmt.Fprintf(&b, "    [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n      snapshotter = \"overlayfs\"\n      default_runtime_name = \"runc\"\n")
	fmt.Fprintf(&b, "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n        runtime_type = \"io.containerd.runc.v2\"\n")
	fmt.Fprintf(&b, "        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n          SystemdCgroup = false\n          Root = %s\n", q(c.RuncRoot()))
	return b.String()
}

// Start writes the config, ends a containerd left over by an earlier agent on the
// same directory, puts the state dir on its own tmpfs (see MountState) and starts
// containerd; it returns once containerd serves. A goroutine then restarts
// containerd whenever it dies, until ctx ends, when containerd is stopped
// (containers keep running).
func (s *Supervisor) Start(ctx context.Context) error {
	if err := os.WriteFile(s.cfg.ConfigPath(), []byte(s.cfg.ConfigTOML()), 0o644); err != nil {
		return err
	}
	s.stopStale()
	if err := s.cfg.MountState(); errors.Is(err, ErrStateOnDisk) {
		slog.Info("containerd state stays on disk: the directory already holds state", "dir", s.cfg.State())
	} else if err != nil {
		slog.Warn("containerd state stays on disk (slower pod start-up)", "dir", s.cfg.State(), "err", err)
	}
	if err := s.startOnce(); err != nil {
		return err
	}
	if err := s.waitServing(ctx, 30*time.Second); err != nil {
		return err
	}
	go s.supervise(ctx)
	return nil
}

// PID is containerd's current process id (0 when not running).
func (s *Supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

func (s *Supervisor) logWriter() (io.Writer, func(), error) {
	if s.cfg.Log != nil {
		return s.cfg.Log, func() {}, nil
	}
	f, err := os.OpenFile(filepath.Join(s.cfg.Dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func (s *Supervisor) startOnce() error {
	w, closeLog, err := s.logWriter()
	if err != nil {
		return err
	}
	_ = os.Remove(s.cfg.Socket())
	cmd := exec.Command(s.cfg.Binary, "--config", s.cfg.ConfigPath())
	cmd.Stdout, cmd.Stderr = w, w
	// Its own process group: a terminal's Ctrl-C reaches the agent, which then
	// decides what happens to containerd.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cfg.Netns.Start(cmd); err != nil {
		closeLog()
		return fmt.Errorf("start containerd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); closeLog(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited, s.pid = cmd, exited, cmd.Process.Pid
	s.started++
	s.mu.Unlock()
	_ = os.WriteFile(s.cfg.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	slog.Info("containerd started", "pid", cmd.Process.Pid, "socket", s.cfg.Socket(), "netns", s.cfg.Netns.String())
	return nil
}

func (s *Supervisor) waitServing(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	for {
		c, err := net.DialTimeout("unix", s.cfg.Socket(), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("containerd exited during start-up; see %s", filepath.Join(s.cfg.Dir, "containerd.log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd did not serve on %s within %s", s.cfg.Socket(), timeout)
		}
	}
}

func (s *Supervisor) supervise(ctx context.Context) {
	backoff := 500 * time.Millisecond
	for {
		s.mu.Lock()
		exited, cmd := s.exited, s.cmd
		s.mu.Unlock()
		startedAt := time.Now()
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			s.mu.Lock()
			s.pid = 0
			s.mu.Unlock()
			_ = os.Remove(s.cfg.pidFile())
			return
		case <-exited:
		}
		s.mu.Lock()
		s.pid = 0
		s.mu.Unlock()
		if time.Since(startedAt) > time.Minute {
			backoff = 500 * time.Millisecond
		}
		slog.Warn("containerd exited; restarting", "state", cmd.ProcessState.String(), "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
		if err := s.startOnce(); err != nil {
			slog.Error("restart containerd", "err", err)
			// Leave a closed channel so the loop retries after the back-off.
			ch := make(chan struct{})
			close(ch)
			s.mu.Lock()
			s.exited, s.cmd = ch, &exec.Cmd{Process: &os.Process{Pid: -1}}
			s.mu.Unlock()
		}
	}
}

// stopStale ends a containerd that an earlier agent process started on this
// directory (found through its pid file and command line).
func (s *Supervisor) stopStale() {
	pid := StalePID(s.cfg.Dir)
	if pid <= 0 {
		return
	}
	slog.Info("stopping containerd left by an earlier agent", "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100 && alive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 40 && alive(pid); i++ {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// StalePID returns the pid of a containerd running on dir's config, or 0.
func StalePID(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "containerd.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), filepath.Join(dir, "config.toml")) {
		return 0
	}
	return pid
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie is as good as gone.
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

// StateTmpfsOptions are the mount options of the state tmpfs: it holds sockets,
// fifos, bundles and small state files (tens of KiB per pod); the size is a
// ceiling, not a reservation.
const StateTmpfsOptions = "mode=0711,size=256m"

// ErrStateOnDisk: the state dir already holds files on disk, so it stays there.
var ErrStateOnDisk = errors.New("the state dir already holds containerd state on disk")

// MountState puts containerd's state dir (shim bundles, runc state, sockets,
// fifos, network namespace pins) on a tmpfs of its own, as /run is on most
// systems: it is volatile by nature, and every pod creates and deletes dozens of
// files there, which costs far more on some disk file systems (an ext4 without a
// journal searches past every recently deleted inode for each new one). A state
// dir that is already a mount point is kept (an agent restart, containers still
// running); one that already holds files on disk (say, from an earlier agent
// version) is left alone, so that containers tracked there are never hidden.
func (c Config) MountState() error {
	dir := c.State()
	mounted, err := mounts.IsMountPoint(dir)
	if err != nil || mounted {
		return err
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, _ := f.Readdirnames(1)
	f.Close()
	if len(names) > 0 {
		return fmt.Errorf("%s: %w", dir, ErrStateOnDisk)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, StateTmpfsOptions); err != nil {
		return fmt.Errorf("mount a tmpfs on %s: %w", dir, err)
	}
	return nil
}

// UnmountState detaches the state tmpfs and whatever is still mounted below it;
// only for a node that stopped its containerd and every pod for good.
func (c Config) UnmountState() error { return mounts.UnmountUnder(c.State()) }
