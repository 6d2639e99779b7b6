package containerd

import (
	"strings"
	"testing"
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
