package node

import (
	"os"
	"testing"
)

func TestLoopbackURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://127.0.0.1:6443": true, "https://localhost:6443": true, "https://[::1]:6443": true,
		"https://10.200.0.1:6443": false, "https://example.test": false,
	} {
		if got := loopbackURL(u); got != want {
			t.Errorf("%s: %v, want %v", u, got, want)
		}
	}
}

func TestHostIP(t *testing.T) {
	if ip, err := hostIP("10.1.2.3"); err != nil || ip.String() != "10.1.2.3" {
		t.Errorf("given address: %v %v", ip, err)
	}
	if _, err := hostIP("nope"); err == nil {
		t.Error("a bad address was accepted")
	}
}

func TestProcessesWithSkipsSelf(t *testing.T) {
	for _, pid := range processesWith(os.Args[0]) {
		if pid == os.Getpid() {
			t.Error("own process listed")
		}
	}
}

func TestCgroupPidsEmptyRoot(t *testing.T) {
	if p := cgroupPids("/"); p != nil {
		t.Errorf("the root cgroup must never be swept: %v", p)
	}
	if p := cgroupPids("/tug-no-such-node-cgroup"); len(p) != 0 {
		t.Errorf("%v", p)
	}
}
