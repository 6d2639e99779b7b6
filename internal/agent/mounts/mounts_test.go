package mounts

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, mountinfo string
		want            []string
	}{
		{"plain", "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n22 27 0:21 / /proc rw,relatime - proc proc rw\n", []string{"/", "/proc"}},
		{"escaped space and backslash", `90 27 0:50 / /data/my\040node/containerd/state rw - tmpfs tmpfs rw` + "\n" + `91 27 0:51 / /a\134b rw - tmpfs tmpfs rw`, []string{"/data/my node/containerd/state", `/a\b`}},
		{"escaped space", `90 27 0:50 / /a\040b rw - tmpfs tmpfs rw`, []string{"/a b"}},
		{"short and empty lines", "\n1 2\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parse(tc.mountinfo)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIsMountPoint(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want bool
	}{{"/", true}, {"/proc", true}, {"/proc/", true}, {t.TempDir(), false}} {
		got, err := IsMountPoint(tc.dir)
		if err != nil || got != tc.want {
			t.Errorf("IsMountPoint(%q) = %v, %v; want %v", tc.dir, got, err, tc.want)
		}
	}
}
