package images

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteArchive(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := ImageSpec{
		Names:      []string{"docker.io/library/demo:latest", "docker.io/library/demo:1.0"},
		Files:      []File{{Path: "bin/prog", Mode: 0o755, Source: bin}, {Path: "bin/sh", Symlink: "/bin/prog"}, {Path: "tmp", Mode: os.ModeDir | os.ModeSticky | 0o777}},
		Entrypoint: []string{"/bin/prog"},
	}
	var a, b bytes.Buffer
	if err := WriteArchive(&a, spec); err != nil {
		t.Fatal(err)
	}
	if err := WriteArchive(&b, spec); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two builds of the same image differ (digests would change on every start)")
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&a)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		files[h.Name] = body
	}
	var index struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 2 || index.Manifests[0].Annotations["io.containerd.image.name"] != "docker.io/library/demo:latest" || index.Manifests[1].Annotations["org.opencontainers.image.ref.name"] != "1.0" {
		t.Fatalf("index %+v", index)
	}
	if string(files["oci-layout"]) == "" {
		t.Error("no oci-layout")
	}
	// Every blob is stored under its digest.
	for name, body := range files {
		if dir, file := filepath.Split(name); dir == "blobs/sha256/" && file != "" {
			sum := sha256.Sum256(body)
			if hex.EncodeToString(sum[:]) != file {
				t.Errorf("blob %s has digest %x", file, sum)
			}
		}
	}
}

func TestRefName(t *testing.T) {
	for in, want := range map[string]string{"a/b:1.2": "1.2", "host:5000/a": "latest", "a": "latest"} {
		if got := refName(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestBusyboxSpec(t *testing.T) {
	if _, err := os.Stat(BusyboxBinary); err != nil {
		t.Skip("busybox-static not installed")
	}
	spec, err := BusyboxSpec("")
	if err != nil {
		t.Fatal(err)
	}
	links := 0
	for _, f := range spec.Files {
		if f.Symlink == "/bin/busybox" {
			links++
		}
	}
	if links < 100 || spec.Names[0] != BusyboxRepo+":latest" || len(spec.Names) < 2 {
		t.Errorf("%d applet links, names %v", links, spec.Names)
	}
}

func TestArchivesOrder(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"zz.tar", "tug-pause.tar", "aa.tar", "notes.txt"} {
		_ = os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	got, err := Archives(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, filepath.Base(g))
	}
	if len(names) != 3 || names[0] != "tug-pause.tar" || names[1] != "aa.tar" {
		t.Errorf("order %v", names)
	}
}
