// Package mounts reads this mount namespace's mount table and detaches mounts
// below a directory: what the node agent needs to clean up after itself.
package mounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Points returns the mount points of this mount namespace.
func Points() ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parse(string(b)), nil
}

// parse returns the mount points of a mountinfo table (the fifth field, with
// the kernel's octal escapes for space, tab, newline and backslash undone).
func parse(mountinfo string) []string {
	var out []string
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		out = append(out, unescape.Replace(f[4]))
	}
	return out
}

var unescape = strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)

// IsMountPoint reports whether dir is a mount point in this mount namespace.
func IsMountPoint(dir string) (bool, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false, err
	}
	points, err := Points()
	if err != nil {
		return false, err
	}
	for _, p := range points {
		if p == dir {
			return true, nil
		}
	}
	return false, nil
}

// UnmountUnder detaches dir (if it is a mount point) and every mount below it,
// deepest first.
func UnmountUnder(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	points, err := Points()
	if err != nil {
		return err
	}
	var below []string
	for _, p := range points {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			below = append(below, p)
		}
	}
	sort.Slice(below, func(i, j int) bool { return len(below[i]) > len(below[j]) })
	var errs []error
	for _, p := range below {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
