package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"golang.org/x/sys/unix"
)

// volumeSources is what volumes read from the API.
type volumeSources struct {
	configMap func(ns, name string) (*corev1.ConfigMap, error)
	secret    func(ns, name string) (*corev1.Secret, error)
	// token asks for a service account token (TokenRequest); nil when the
	// agent cannot.
	token func(ctx context.Context, ns, sa string, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)
	// allocatable is the node's, for downward API limits a container does not set.
	allocatable corev1.ResourceList
}

// podDirs are a pod's places on the node.
type podDirs struct{ root string }

func (d podDirs) volumes() string { return filepath.Join(d.root, "volumes") }
func (d podDirs) volume(kind, name string) string {
	return filepath.Join(d.root, "volumes", kind, name)
}
func (d podDirs) hosts() string                { return filepath.Join(d.root, "etc-hosts") }
func (d podDirs) container(name string) string { return filepath.Join(d.root, "containers", name) }
func (d podDirs) terminationLog(name string, attempt uint32) string {
	return filepath.Join(d.container(name), fmt.Sprintf("%d-termination-log", attempt))
}

// setupVolumes makes every volume of the pod ready on the node and returns each
// volume's host path. It is idempotent and refreshes the content of configMap,
// secret, downward API and projected volumes.
func setupVolumes(ctx context.Context, pod *corev1.Pod, dirs podDirs, src volumeSources) (map[string]string, error) {
	if err := os.MkdirAll(dirs.volumes(), 0o750); err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		p, err := setupVolume(ctx, pod, v, dirs, src)
		if err != nil {
			return nil, fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err)
		}
		paths[v.Name] = p
	}
	return paths, nil
}

func setupVolume(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, dirs podDirs, src volumeSources) (string, error) {
	switch {
	case v.EmptyDir != nil:
		p := dirs.volume("empty-dir", v.Name)
		if err := os.MkdirAll(p, 0o777); err != nil {
			return "", err
		}
		_ = os.Chmod(p, 0o777)
		if v.EmptyDir.Medium == corev1.StorageMediumMemory {
			if err := ensureTmpfs(p, v.EmptyDir.SizeLimit, src.allocatable); err != nil {
				return "", err
			}
		}
		return p, nil
	case v.HostPath != nil:
		return v.HostPath.Path, setupHostPath(v.HostPath)
	case v.ConfigMap != nil:
		files, err := configMapFiles(pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, defaultMode(v.ConfigMap.DefaultMode), src)
		if err != nil {
			return "", err
		}
		p := dirs.volume("configmap", v.Name)
		return p, writeAtomic(p, files)
	case v.Secret != nil:
		files, err := secretFiles(pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, defaultMode(v.Secret.DefaultMode), src)
		if err != nil {
			return "", err
		}
		p := dirs.volume("secret", v.Name)
		return p, writeAtomic(p, files)
	case v.DownwardAPI != nil:
		files, err := downwardFiles(pod, v.DownwardAPI.Items, defaultMode(v.DownwardAPI.DefaultMode), src)
		if err != nil {
			return "", err
		}
		p := dirs.volume("downward-api", v.Name)
		return p, writeAtomic(p, files)
	case v.Projected != nil:
		files, err := projectedFiles(ctx, pod, v.Projected, src)
		if err != nil {
			return "", err
		}
		p := dirs.volume("projected", v.Name)
		return p, writeAtomic(p, files)
	case v.PersistentVolumeClaim != nil:
		return "", fmt.Errorf("persistent volume claims are not supported by this node yet")
	}
	return "", fmt.Errorf("this volume type is not supported by this node")
}

func defaultMode(m *int32) os.FileMode {
	if m == nil {
		return 0o644
	}
	return os.FileMode(*m)
}

func setupHostPath(h *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	st, err := os.Stat(h.Path)
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if err != nil {
			return os.MkdirAll(h.Path, 0o755)
		}
		if !st.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", h.Path)
		}
	case corev1.HostPathDirectory:
		if err != nil || !st.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", h.Path)
		}
	case corev1.HostPathFileOrCreate:
		if err != nil {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", h.Path)
		}
	case corev1.HostPathFile:
		if err != nil || !st.Mode().IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", h.Path)
		}
	case corev1.HostPathSocket:
		if err != nil || st.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a socket file", h.Path)
		}
	case corev1.HostPathCharDev:
		if err != nil || st.Mode()&os.ModeCharDevice == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a character device", h.Path)
		}
	case corev1.HostPathBlockDev:
		if err != nil || st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a block device", h.Path)
		}
	}
	return nil
}

// ensureTmpfs mounts a tmpfs on p unless one is there, sized by the limit or the
// node's allocatable memory.
func ensureTmpfs(p string, limit *resource.Quantity, allocatable corev1.ResourceList) error {
	if isMountPoint(p) {
		return nil
	}
	size := int64(0)
	if limit != nil && !limit.IsZero() {
		size = limit.Value()
	} else if m, ok := allocatable[corev1.ResourceMemory]; ok {
		size = m.Value()
	}
	opts := "mode=0777"
	if size > 0 {
		opts += ",size=" + strconv.FormatInt(size, 10)
	}
	if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", p, err)
	}
	return nil
}

func isMountPoint(p string) bool {
	var a, b unix.Stat_t
	if unix.Lstat(p, &a) != nil || unix.Lstat(filepath.Dir(p), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

// volumeFile is one file of a generated volume.
type volumeFile struct {
	data []byte
	mode os.FileMode
}

func keyToPaths(keys []string, items []corev1.KeyToPath, mode os.FileMode, what string) (map[string]string, map[string]os.FileMode, error) {
	paths := map[string]string{}
	modes := map[string]os.FileMode{}
	if len(items) == 0 {
		for _, k := range keys {
			paths[k] = k
			modes[k] = mode
		}
		return paths, modes, nil
	}
	have := map[string]bool{}
	for _, k := range keys {
		have[k] = true
	}
	for _, it := range items {
		if !have[it.Key] {
			return nil, nil, fmt.Errorf("configuration error: key %q not found in %s", it.Key, what)
		}
		paths[it.Path] = it.Key
		m := mode
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		modes[it.Path] = m
	}
	return paths, modes, nil
}

func configMapFiles(ns, name string, items []corev1.KeyToPath, optional *bool, mode os.FileMode, src volumeSources) (map[string]volumeFile, error) {
	files := map[string]volumeFile{}
	cm, err := src.configMap(ns, name)
	if err != nil {
		if optional != nil && *optional {
			return files, nil
		}
		return nil, fmt.Errorf("configmap %q not found", name)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return mapFiles(data, items, mode, "ConfigMap "+ns+"/"+name)
}

func secretFiles(ns, name string, items []corev1.KeyToPath, optional *bool, mode os.FileMode, src volumeSources) (map[string]volumeFile, error) {
	files := map[string]volumeFile{}
	s, err := src.secret(ns, name)
	if err != nil {
		if optional != nil && *optional {
			return files, nil
		}
		return nil, fmt.Errorf("secret %q not found", name)
	}
	return mapFiles(s.Data, items, mode, "Secret "+ns+"/"+name)
}

func mapFiles(data map[string][]byte, items []corev1.KeyToPath, mode os.FileMode, what string) (map[string]volumeFile, error) {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	paths, modes, err := keyToPaths(keys, items, mode, what)
	if err != nil {
		return nil, err
	}
	files := map[string]volumeFile{}
	for p, k := range paths {
		files[p] = volumeFile{data: data[k], mode: modes[p]}
	}
	return files, nil
}

func downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, mode os.FileMode, src volumeSources) (map[string]volumeFile, error) {
	files := map[string]volumeFile{}
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = podField(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			c := findContainer(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return nil, fmt.Errorf("container %q not found for resourceFieldRef", it.ResourceFieldRef.ContainerName)
			}
			v, err = resourceField(pod, c, it.ResourceFieldRef, src.allocatable)
		}
		if err != nil {
			return nil, err
		}
		m := mode
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		files[it.Path] = volumeFile{data: []byte(v), mode: m}
	}
	return files, nil
}

func projectedFiles(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource, src volumeSources) (map[string]volumeFile, error) {
	mode := defaultMode(p.DefaultMode)
	files := map[string]volumeFile{}
	add := func(m map[string]volumeFile) {
		for k, v := range m {
			files[k] = v
		}
	}
	for _, s := range p.Sources {
		switch {
		case s.ConfigMap != nil:
			m, err := configMapFiles(pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, mode, src)
			if err != nil {
				return nil, err
			}
			add(m)
		case s.Secret != nil:
			m, err := secretFiles(pod.Namespace, s.Secret.Name, s.Secret.Items, s.Secret.Optional, mode, src)
			if err != nil {
				return nil, err
			}
			add(m)
		case s.DownwardAPI != nil:
			m, err := downwardFiles(pod, s.DownwardAPI.Items, mode, src)
			if err != nil {
				return nil, err
			}
			add(m)
		case s.ServiceAccountToken != nil:
			if src.token == nil {
				return nil, errors.New("service account tokens are not available on this node")
			}
			exp := int64(3600)
			if s.ServiceAccountToken.ExpirationSeconds != nil {
				exp = *s.ServiceAccountToken.ExpirationSeconds
			}
			var aud []string
			if s.ServiceAccountToken.Audience != "" {
				aud = []string{s.ServiceAccountToken.Audience}
			}
			tr, err := src.token(ctx, pod.Namespace, pod.Spec.ServiceAccountName, &authenticationv1.TokenRequest{
				Spec: authenticationv1.TokenRequestSpec{
					Audiences: aud, ExpirationSeconds: &exp,
					BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
				},
			})
			if err != nil {
				return nil, fmt.Errorf("failed to fetch token: %w", err)
			}
			m := mode
			if p.DefaultMode == nil {
				m = 0o600
			}
			files[s.ServiceAccountToken.Path] = volumeFile{data: []byte(tr.Status.Token), mode: m}
		case s.ClusterTrustBundle != nil:
			return nil, errors.New("cluster trust bundles are not supported by this node")
		}
	}
	return files, nil
}

// writeAtomic gives dir exactly the files, replacing the old set in one step:
// the files live in a timestamped directory that the ..data link points at, and
// each top-level name is a link through ..data, so a reader never sees half an
// update.
func writeAtomic(dir string, files map[string]volumeFile) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if same(dir, files) {
		return nil
	}
	ts := filepath.Join(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05.000000000"))
	if err := os.MkdirAll(ts, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		f := files[p]
		full := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			return err
		}
		_ = os.Chmod(full, f.mode)
	}
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(ts), tmpLink); err != nil {
		return err
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	top := map[string]bool{}
	for _, p := range names {
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	for t := range top {
		link := filepath.Join(dir, t)
		if cur, err := os.Readlink(link); err == nil && cur == filepath.Join("..data", t) {
			continue
		}
		_ = os.RemoveAll(link)
		if err := os.Symlink(filepath.Join("..data", t), link); err != nil {
			return err
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "..") {
			if n != "..data" && n != filepath.Base(ts) && (old == "" || n == old) {
				_ = os.RemoveAll(filepath.Join(dir, n))
			}
			continue
		}
		if !top[n] {
			_ = os.RemoveAll(filepath.Join(dir, n))
		}
	}
	return nil
}

// same reports whether dir already holds exactly these files.
func same(dir string, files map[string]volumeFile) bool {
	data := filepath.Join(dir, "..data")
	if _, err := os.Stat(data); err != nil {
		return false
	}
	count := 0
	err := filepath.Walk(data+"/", func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(data, p)
		f, ok := files[rel]
		if !ok || info.Mode().Perm() != f.mode.Perm() {
			return errors.New("differs")
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != string(f.data) {
			return errors.New("differs")
		}
		count++
		return nil
	})
	return err == nil && count == len(files)
}

// teardownVolumes unmounts what the pod mounted and removes its directory.
func teardownVolumes(dirs podDirs) error {
	var errs []error
	_ = filepath.Walk(dirs.volumes(), func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() && p != dirs.volumes() && isMountPoint(p) {
			if e := unix.Unmount(p, unix.MNT_DETACH); e != nil {
				errs = append(errs, fmt.Errorf("unmount %s: %w", p, e))
			}
			return filepath.SkipDir
		}
		return nil
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return os.RemoveAll(dirs.root)
}
