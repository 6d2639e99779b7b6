// Package images gives a node its images without a registry: it builds the pause
// and busybox images from files on the host, writes them as OCI image archives,
// and imports every archive in the node's images dir into the runtime.
package images

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"
)

// epoch is the modification time of every built file, so that a rebuilt image has
// the same digest and a re-import changes nothing.
var epoch = time.Unix(1700000000, 0).UTC()

// File is one entry of a layer.
type File struct {
	Path string // without a leading slash
	Mode os.FileMode
	// Exactly one of these describes the entry (none: a directory).
	Data     []byte
	Source   string // a host file copied in
	Symlink  string
	Hardlink string // an earlier entry of the same layer
}

// ImageSpec describes a one-layer image.
type ImageSpec struct {
	// Names are full references, like docker.io/library/busybox:latest.
	Names      []string
	Files      []File
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    map[string]string `json:"platform,omitempty"`
}

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar"
	annoName      = "io.containerd.image.name"
	annoRef       = "org.opencontainers.image.ref.name"
)

// layerTar writes the files as an uncompressed tar, directories of every path
// included, in a stable order.
func layerTar(files []File) ([]byte, error) {
	dirs := map[string]bool{}
	var entries []File
	for _, f := range files {
		for d := filepath.Dir(f.Path); d != "." && d != "/"; d = filepath.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				entries = append(entries, File{Path: d, Mode: os.ModeDir | 0o755})
			}
		}
		if f.Mode.IsDir() {
			dirs[f.Path] = true
		}
		entries = append(entries, f)
	}
	// Parents before children, hard link targets before links.
	sort.SliceStable(entries, func(i, j int) bool {
		ei, ej := entries[i], entries[j]
		if (ei.Hardlink == "") != (ej.Hardlink == "") {
			return ei.Hardlink == ""
		}
		return ei.Path < ej.Path
	})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, f := range entries {
		if seen[f.Path] {
			continue
		}
		seen[f.Path] = true
		h := &tar.Header{Name: f.Path, ModTime: epoch, Mode: int64(f.Mode.Perm()), Format: tar.FormatPAX}
		if f.Mode&os.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		var body []byte
		switch {
		case f.Mode.IsDir() || (f.Data == nil && f.Source == "" && f.Symlink == "" && f.Hardlink == ""):
			h.Typeflag, h.Name = tar.TypeDir, f.Path+"/"
		case f.Symlink != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.Symlink, 0o777
		case f.Hardlink != "":
			h.Typeflag, h.Linkname = tar.TypeLink, f.Hardlink
		default:
			body = f.Data
			if f.Source != "" {
				b, err := os.ReadFile(f.Source)
				if err != nil {
					return nil, err
				}
				body = b
			}
			h.Typeflag, h.Size = tar.TypeReg, int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if body != nil {
			if _, err := tw.Write(body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// WriteArchive writes spec as an OCI image archive (oci-layout, index.json with
// one entry per name, blobs) to w.
func WriteArchive(w io.Writer, spec ImageSpec) error {
	layer, err := layerTar(spec.Files)
	if err != nil {
		return err
	}
	layerDigest := digestOf(layer)
	cfg := map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      epoch.Format(time.RFC3339),
		"config": map[string]any{
			"Entrypoint": spec.Entrypoint,
			"Cmd":        spec.Cmd,
			"Env":        spec.Env,
			"WorkingDir": spec.WorkingDir,
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDigest}},
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	manifest := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaManifest,
		"config":        descriptor{MediaType: mediaConfig, Digest: digestOf(cfgJSON), Size: int64(len(cfgJSON))},
		"layers":        []descriptor{{MediaType: mediaLayer, Digest: layerDigest, Size: int64(len(layer))}},
	}
	manJSON, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	var mans []descriptor
	for _, n := range spec.Names {
		mans = append(mans, descriptor{
			MediaType: mediaManifest, Digest: digestOf(manJSON), Size: int64(len(manJSON)),
			Annotations: map[string]string{annoName: n, annoRef: refName(n)},
			Platform:    map[string]string{"architecture": runtime.GOARCH, "os": "linux"},
		})
	}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mediaIndex, "manifests": mans})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	put := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
		return err
	}
	for _, b := range [][]byte{layer, cfgJSON, manJSON} {
		if err := put("blobs/sha256/"+digestOf(b)[len("sha256:"):], b); err != nil {
			return err
		}
	}
	if err := put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := put("index.json", index); err != nil {
		return err
	}
	return tw.Close()
}

// refName is the tag part of a reference (what an OCI layout calls the ref name).
func refName(ref string) string {
	for i := len(ref) - 1; i >= 0; i-- {
		switch ref[i] {
		case ':':
			return ref[i+1:]
		case '/':
			return "latest"
		}
	}
	return "latest"
}

// WriteArchiveFile writes the archive to path atomically.
func WriteArchiveFile(path string, spec ImageSpec) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := WriteArchive(f, spec); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
