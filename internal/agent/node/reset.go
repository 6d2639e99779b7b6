package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tug/internal/agent/containerd"
	"tug/internal/agent/kubelet"
	"tug/internal/agent/mounts"
	"tug/internal/agent/network"
)

// Reset removes everything a node left running or mounted on this machine,
// whatever state it was left in (an agent killed, containerd killed): its
// containers (every process in its cgroups), containerd and its shims, mounts
// under its data dir, its cgroups and its network namespace. The data dir
// itself stays. cgroupRoot is the node's (default /tug/NODENAME).
func Reset(dataDir, netns, cgroupRoot string) error {
	var errs []error
	dataDir, _ = filepath.Abs(dataDir)
	cdir := ContainerdDir(dataDir)
	// containerd first, so that it restarts nothing.
	if pid := containerd.StalePID(cdir); pid > 0 {
		killWait(pid, syscall.SIGKILL)
	}
	// Every container process, found through the node's cgroups.
	for i := 0; i < 5; i++ {
		pids := cgroupPids(cgroupRoot)
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Shims of this containerd (they name its socket on their command line).
	sock := containerd.Config{Dir: cdir}.Socket()
	for _, p := range processesWith(sock) {
		killWait(p, syscall.SIGKILL)
	}
	if err := mounts.UnmountUnder(dataDir); err != nil {
		errs = append(errs, err)
	}
	if err := kubelet.RemoveCgroups(cgroupRoot, true); err != nil {
		errs = append(errs, err)
	}
	if netns != "" {
		if err := (network.NodeLink{Netns: netns}).Delete(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func killWait(pid int, sig syscall.Signal) {
	_ = syscall.Kill(pid, sig)
	for i := 0; i < 50; i++ {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cgroupPids lists the processes in a cgroup tree (any hierarchy that has it).
func cgroupPids(root string) []int {
	if root == "" || root == "/" {
		return nil
	}
	seen := map[int]bool{}
	hier, _ := filepath.Glob("/sys/fs/cgroup/*")
	hier = append(hier, "/sys/fs/cgroup")
	for _, h := range hier {
		_ = filepath.WalkDir(filepath.Join(h, root), func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(f); err == nil {
					seen[n] = true
				}
			}
			return nil
		})
	}
	var out []int
	for p := range seen {
		out = append(out, p)
	}
	return out
}

// processesWith lists processes whose command line contains s.
func processesWith(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), s) {
			out = append(out, pid)
		}
	}
	return out
}
