package images

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Namespace is containerd's namespace for everything the CRI plugin manages.
const Namespace = "k8s.io"

// Importer loads image archives into a containerd through its own client (ctr,
// shipped with Debian's containerd package): CRI has no import call.
type Importer struct {
	// Socket is containerd's gRPC socket.
	Socket string
	// Ctr is the ctr executable (default: ctr from PATH).
	Ctr string
}

// Import loads one archive (OCI layout or docker-archive) and unpacks it.
func (im Importer) Import(ctx context.Context, file string) error {
	ctr := im.Ctr
	if ctr == "" {
		p, err := exec.LookPath("ctr")
		if err != nil {
			return fmt.Errorf("ctr (from the containerd package) is needed to import %s: %w", file, err)
		}
		ctr = p
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ctr, "--address", im.Socket, "--namespace", Namespace, "images", "import", "--snapshotter", "overlayfs", file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("import %s: %v: %s", file, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Archives lists the image archives (*.tar) in dir, built-in ones first.
func Archives(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil {
		return nil, err
	}
	sort.Slice(m, func(i, j int) bool {
		bi, bj := strings.HasPrefix(filepath.Base(m[i]), "tug-"), strings.HasPrefix(filepath.Base(m[j]), "tug-")
		if bi != bj {
			return bi
		}
		return m[i] < m[j]
	})
	return m, nil
}

// ImportDir imports every archive in dir whose content changed since it was last
// imported (a stamp file per archive remembers size and time), so restarts are
// quick. Failures are reported per archive and do not stop the others.
func (im Importer) ImportDir(ctx context.Context, dir string) error {
	files, err := Archives(dir)
	if err != nil {
		return err
	}
	var errs []string
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			continue
		}
		stamp := filepath.Join(dir, ".imported", filepath.Base(f))
		want := fmt.Sprintf("%d %d", st.Size(), st.ModTime().UnixNano())
		if b, err := os.ReadFile(stamp); err == nil && string(b) == want {
			continue
		}
		start := time.Now()
		if err := im.Import(ctx, f); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		slog.Info("image archive imported", "file", f, "took", time.Since(start).Round(time.Millisecond))
		_ = os.MkdirAll(filepath.Dir(stamp), 0o755)
		_ = os.WriteFile(stamp, []byte(want), 0o644)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// CopyInto copies an archive into the images dir (so the node imports it again
// after a reset) and returns its new path.
func CopyInto(dir, file string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, filepath.Base(file))
	if abs, _ := filepath.Abs(file); abs == dst {
		return dst, nil
	}
	in, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	return dst, os.Rename(tmp, dst)
}
