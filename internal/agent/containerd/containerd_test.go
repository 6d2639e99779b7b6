package containerd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tug/internal/agent/mounts"
)

func TestConfigTOML(t *testing.T) {
	c := Config{Dir: "/data/containerd", SandboxImage: "tug.local/pause:3.10", CNIConfDir: "/data/cni/net.d", CNIBinDir: "/usr/lib/cni"}
	toml := c.ConfigTOML()
	for _, want := range []string{
		`root = "/data/containerd/root"`,
		`state = "/data/containerd/state"`,
		`address = "/data/containerd/containerd.sock"`,
		`sandbox_image = "tug.local/pause:3.10"`,
		// Without CAP_SYS_RESOURCE runc cannot lower oom_score_adj.
		`restrict_oom_score_adj = true`,
		`netns_mounts_under_state_dir = true`,
		`conf_dir = "/data/cni/net.d"`,
		`SystemdCgroup = false`,
		`Root = "/data/containerd/state/runc"`,
	} {
		if !strings.Contains(toml, want) {
			t.Errorf("config lacks %s:\n%s", want, toml)
		}
	}
	if strings.Contains(toml, "/var/lib/containerd") || strings.Contains(toml, "/run/containerd") {
		t.Error("config points outside the data dir")
	}
}

func TestStalePIDIgnoresOtherProcesses(t *testing.T) {
	if pid := StalePID(t.TempDir()); pid != 0 {
		t.Errorf("pid %d without a pid file", pid)
	}
}

func TestMountStateLeavesStateOnDiskAlone(t *testing.T) {
	c := Config{Dir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(c.State(), "runc"), 0o711); err != nil {
		t.Fatal(err)
	}
	err := c.MountState()
	if !errors.Is(err, ErrStateOnDisk) {
		t.Fatalf("MountState over existing state: %v", err)
	}
	if m, _ := mounts.IsMountPoint(c.State()); m {
		t.Error("a tmpfs hides the state on disk")
	}
}

func TestMountStateTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	c := Config{Dir: t.TempDir()}
	t.Cleanup(func() { _ = c.UnmountState() })
	if err := c.MountState(); err != nil {
		t.Fatal(err)
	}
	if m, _ := mounts.IsMountPoint(c.State()); !m {
		t.Fatal("state is not a mount point")
	}
	// A restarted agent finds the tmpfs with its files and keeps it.
	if err := os.WriteFile(filepath.Join(c.State(), "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.MountState(); err != nil {
		t.Fatalf("second MountState: %v", err)
	}
	points, _ := mounts.Points()
	n := 0
	for _, p := range points {
		if p == c.State() {
			n++
		}
	}
	if n != 1 {
		t.Errorf("state mounted %d times", n)
	}
	if _, err := os.Stat(filepath.Join(c.State(), "f")); err != nil {
		t.Errorf("file on the tmpfs lost: %v", err)
	}
	if err := c.UnmountState(); err != nil {
		t.Fatal(err)
	}
	if m, _ := mounts.IsMountPoint(c.State()); m {
		t.Error("still mounted after UnmountState")
	}
}
