package images

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// PauseImage is the sandbox image every node builds for itself.
const PauseImage = "tug.local/pause:3.10"

// BusyboxRepo is the name the busybox image is imported under; pods that say
// `image: busybox` find it.
const BusyboxRepo = "docker.io/library/busybox"

// BusyboxBinary is where Debian's busybox-static package installs busybox.
const BusyboxBinary = "/bin/busybox"

// FindPause locates the pause binary: the given path, or `pause` next to the
// running executable (where `make build` puts it). With neither, the running
// executable itself serves, started as /pause (see IsPauseInvocation).
func FindPause(given string) (path string, selfHosted bool, err error) {
	if given != "" {
		if _, err := os.Stat(given); err != nil {
			return "", false, fmt.Errorf("pause binary: %w", err)
		}
		return given, false, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", false, err
	}
	if p := filepath.Join(filepath.Dir(exe), "pause"); isFile(p) {
		return p, false, nil
	}
	return exe, true, nil
}

// IsPauseInvocation reports whether the process was started as the pause process
// of a pause image built from the tug binary itself.
func IsPauseInvocation() bool { return len(os.Args) > 0 && os.Args[0] == "/pause" }

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// PauseSpec is the pause image: one static binary at /pause.
func PauseSpec(binary string) ImageSpec {
	return ImageSpec{
		Names:      []string{PauseImage},
		Files:      []File{{Path: "pause", Mode: 0o755, Source: binary}},
		Entrypoint: []string{"/pause"},
	}
}

var busyboxVersion = regexp.MustCompile(`BusyBox v(\d+)\.(\d+)\.(\d+)`)

// BusyboxSpec is the busybox image: the static busybox with a link per applet,
// a root and a nobody user, /tmp, and `sh` as the command.
func BusyboxSpec(binary string) (ImageSpec, error) {
	if binary == "" {
		binary = BusyboxBinary
	}
	if !isFile(binary) {
		return ImageSpec{}, fmt.Errorf("%s is missing: install it with `apt-get install busybox-static` (or `make up`)", binary)
	}
	out, err := exec.Command(binary, "--list-full").Output()
	if err != nil {
		return ImageSpec{}, fmt.Errorf("list busybox applets: %w", err)
	}
	files := []File{
		{Path: "bin/busybox", Mode: 0o755, Source: binary},
		{Path: "etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")},
		{Path: "etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnobody:x:65534:\n")},
		{Path: "tmp", Mode: os.ModeDir | os.ModeSticky | 0o777},
		{Path: "root", Mode: os.ModeDir | 0o700},
		{Path: "home", Mode: os.ModeDir | 0o755},
		{Path: "var/www", Mode: os.ModeDir | 0o755},
		{Path: "proc", Mode: os.ModeDir | 0o555},
		{Path: "sys", Mode: os.ModeDir | 0o555},
		{Path: "dev", Mode: os.ModeDir | 0o755},
	}
	for _, line := range strings.Split(string(out), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || p == "bin/busybox" {
			continue
		}
		files = append(files, File{Path: p, Symlink: "/bin/busybox"})
	}
	names := []string{BusyboxRepo + ":latest"}
	head, _ := exec.Command(binary).CombinedOutput()
	if m := busyboxVersion.FindStringSubmatch(string(head)); m != nil {
		names = append(names, BusyboxRepo+":"+m[1]+"."+m[2], BusyboxRepo+":"+m[1]+"."+m[2]+"."+m[3])
	}
	return ImageSpec{
		Names: names,
		Files: files,
		Cmd:   []string{"sh"},
		Env:   []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	}, nil
}

// Archive names of the built-in images inside a node's images dir.
const (
	PauseArchive   = "tug-pause.tar"
	BusyboxArchive = "tug-busybox.tar"
)

// EnsureBuiltins writes the pause and busybox archives into dir when missing or
// older than their sources. A missing busybox only loses the busybox image.
func EnsureBuiltins(dir, pauseBinary, busyboxBinary string) (warnings []error, err error) {
	bin, self, err := FindPause(pauseBinary)
	if err != nil {
		return nil, err
	}
	spec := PauseSpec(bin)
	if self {
		// The tug binary recognises being started as /pause.
		spec.Files[0].Source = bin
	}
	if err := writeIfStale(filepath.Join(dir, PauseArchive), bin, spec); err != nil {
		return nil, err
	}
	bb, berr := BusyboxSpec(busyboxBinary)
	if berr != nil {
		return []error{berr}, nil
	}
	src := busyboxBinary
	if src == "" {
		src = BusyboxBinary
	}
	if err := writeIfStale(filepath.Join(dir, BusyboxArchive), src, bb); err != nil {
		return nil, err
	}
	return nil, nil
}

func writeIfStale(path, source string, spec ImageSpec) error {
	a, aerr := os.Stat(path)
	s, serr := os.Stat(source)
	if serr != nil {
		return serr
	}
	if aerr == nil && !a.ModTime().Before(s.ModTime()) {
		return nil
	}
	if aerr != nil && !errors.Is(aerr, os.ErrNotExist) {
		return aerr
	}
	return WriteArchiveFile(path, spec)
}
