package kubelet

import (
	"errors"
	"os"
	"path/filepath"
)

// RemoveCgroups removes a cgroup and everything below it from every hierarchy
// (the runtime removes containers' cgroups, not the pod's or node's above them).
// Only empty cgroups can go; busy ones are reported. With parent, the parent goes
// too when empty.
func RemoveCgroups(path string, parent bool) error {
	if path == "" || path == "/" {
		return nil
	}
	hier, _ := filepath.Glob("/sys/fs/cgroup/*")
	hier = append(hier, "/sys/fs/cgroup")
	var errs []error
	for _, h := range hier {
		base := filepath.Join(h, path)
		if _, err := os.Stat(base); err != nil {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil && !os.IsNotExist(err) {
				errs = append(errs, err)
			}
		}
		if parent {
			_ = os.Remove(filepath.Dir(base))
		}
	}
	return errors.Join(errs...)
}
