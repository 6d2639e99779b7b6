package kubelet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
)

// Annotations of static and mirror pods.
const (
	annoConfigSource = "kubernetes.io/config.source"
	annoConfigHash   = "kubernetes.io/config.hash"
	annoConfigMirror = "kubernetes.io/config.mirror"
	annoConfigSeen   = "kubernetes.io/config.seen"
)

func isMirrorPod(p *corev1.Pod) bool {
	_, ok := p.Annotations[annoConfigMirror]
	return ok
}

// staticPods runs the pods of the manifests dir. They run without the API;
// each has a mirror pod in the API that shows it and carries its status. A
// deleted mirror comes back; a changed manifest replaces the pod.
type staticPods struct {
	k *Kubelet

	mu      sync.Mutex
	pods    map[types.UID]*corev1.Pod
	mirrors map[string]*corev1.Pod // by namespace/name
	poke    chan struct{}
}

func newStaticPods(k *Kubelet) *staticPods {
	return &staticPods{k: k, pods: map[types.UID]*corev1.Pod{}, mirrors: map[string]*corev1.Pod{}, poke: make(chan struct{}, 1)}
}

func (s *staticPods) uids() []types.UID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []types.UID
	for uid := range s.pods {
		out = append(out, uid)
	}
	return out
}

func (s *staticPods) run(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		s.scan(ctx)
		s.ensureMirrors(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.poke:
		}
	}
}

// scan reads the manifests and starts, replaces or removes static pods.
func (s *staticPods) scan(ctx context.Context) {
	k := s.k
	found := map[types.UID]*corev1.Pod{}
	entries, _ := os.ReadDir(k.cfg.ManifestsDir)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".json")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(k.cfg.ManifestsDir, name))
		if err != nil {
			continue
		}
		pod, err := s.decode(b)
		if err != nil {
			slog.Warn("static pod manifest", "file", name, "err", err)
			continue
		}
		found[pod.UID] = pod
	}
	s.mu.Lock()
	var added, removed []*corev1.Pod
	for uid, p := range found {
		if _, ok := s.pods[uid]; !ok {
			added = append(added, p)
		}
	}
	for uid, p := range s.pods {
		if _, ok := found[uid]; !ok {
			removed = append(removed, p)
		}
	}
	s.pods = found
	s.mu.Unlock()
	for _, p := range removed {
		slog.Info("static pod removed", "pod", podKey(p))
		k.updateWorker(p, true)
	}
	for _, p := range added {
		slog.Info("static pod", "pod", podKey(p))
		k.mu.Lock()
		w, ok := k.workers[p.UID]
		if !ok {
			w = newPodWorker(k, p)
			w.static = true
			k.workers[p.UID] = w
			go w.run()
		}
		k.mu.Unlock()
		w.update(p, false)
	}
}

// decode reads a manifest into the pod the node runs: named after the node,
// bound to it, with a uid from its content so that an edit replaces the pod.
func (s *staticPods) decode(b []byte) (*corev1.Pod, error) {
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(b, nil, &corev1.Pod{})
	if err != nil {
		return nil, err
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, errNotPod(obj)
	}
	k := s.k
	sum := sha256.Sum256(append(append([]byte{}, b...), k.cfg.NodeName...))
	hash := hex.EncodeToString(sum[:16])
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceDefault
	}
	pod.Name = pod.Name + "-" + strings.ToLower(k.cfg.NodeName)
	pod.UID = types.UID(hash)
	pod.Spec.NodeName = k.cfg.NodeName
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[annoConfigSource] = "file"
	pod.Annotations[annoConfigHash] = hash
	pod.Annotations[annoConfigSeen] = k.clock.Now().UTC().Format(time.RFC3339Nano)
	defaultStaticPod(pod)
	return pod, nil
}

type notPodError struct{ obj runtime.Object }

func (e notPodError) Error() string {
	return "manifest holds a " + e.obj.GetObjectKind().GroupVersionKind().Kind + ", not a Pod"
}

func errNotPod(obj runtime.Object) error { return notPodError{obj} }

// defaultStaticPod fills in what the API server would, since static pods never
// pass through it.
func defaultStaticPod(p *corev1.Pod) {
	sp := &p.Spec
	if sp.RestartPolicy == "" {
		sp.RestartPolicy = corev1.RestartPolicyAlways
	}
	if sp.DNSPolicy == "" {
		sp.DNSPolicy = corev1.DNSClusterFirst
	}
	if sp.TerminationGracePeriodSeconds == nil {
		g := int64(30)
		sp.TerminationGracePeriodSeconds = &g
	}
	if sp.SchedulerName == "" {
		sp.SchedulerName = corev1.DefaultSchedulerName
	}
	if sp.SecurityContext == nil {
		sp.SecurityContext = &corev1.PodSecurityContext{}
	}
	// Static pods run whatever happens to the node.
	sp.Tolerations = append(sp.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute})
	for _, list := range [][]corev1.Container{sp.InitContainers, sp.Containers} {
		for i := range list {
			c := &list[i]
			if c.TerminationMessagePath == "" {
				c.TerminationMessagePath = corev1.TerminationMessagePathDefault
			}
			if c.TerminationMessagePolicy == "" {
				c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
			}
			if c.ImagePullPolicy == "" {
				c.ImagePullPolicy = pullPolicy(c)
			}
			for j := range c.Ports {
				if c.Ports[j].Protocol == "" {
					c.Ports[j].Protocol = corev1.ProtocolTCP
				}
			}
		}
	}
}

// ensureMirrors creates the mirror pod of every static pod that lacks one, and
// replaces mirrors of an older manifest.
func (s *staticPods) ensureMirrors(ctx context.Context) {
	k := s.k
	s.mu.Lock()
	var pods []*corev1.Pod
	for _, p := range s.pods {
		pods = append(pods, p)
	}
	mirrors := map[string]*corev1.Pod{}
	for key, m := range s.mirrors {
		mirrors[key] = m
	}
	s.mu.Unlock()
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	keep := map[string]bool{}
	for _, p := range pods {
		key := podKey(p)
		keep[key] = true
		m := mirrors[key]
		if m != nil && m.Annotations[annoConfigMirror] == string(p.UID) && m.DeletionTimestamp == nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if m != nil {
			zero := int64(0)
			_ = k.client.CoreV1().Pods(m.Namespace).Delete(cctx, m.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &m.UID}})
		}
		mirror := p.DeepCopy()
		mirror.UID = ""
		mirror.ResourceVersion = ""
		mirror.Status = corev1.PodStatus{}
		mirror.Annotations[annoConfigMirror] = string(p.UID)
		if n := k.node.Load(); n != nil {
			mirror.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID, Controller: ptrTrue()}}
		}
		created, err := k.client.CoreV1().Pods(p.Namespace).Create(cctx, mirror, metav1.CreateOptions{})
		cancel()
		if err != nil && !apierrors.IsAlreadyExists(err) {
			slog.Warn("create mirror pod", "pod", key, "err", err)
			continue
		}
		if created != nil {
			s.mu.Lock()
			s.mirrors[key] = created
			s.mu.Unlock()
			s.wake(p.UID)
		}
	}
	// Mirrors whose manifest is gone.
	for key, m := range mirrors {
		if keep[key] || m.Spec.NodeName != k.cfg.NodeName {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		zero := int64(0)
		err := k.client.CoreV1().Pods(m.Namespace).Delete(cctx, m.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		cancel()
		if err == nil || apierrors.IsNotFound(err) {
			s.mu.Lock()
			delete(s.mirrors, key)
			s.mu.Unlock()
		}
	}
}

func ptrTrue() *bool { t := true; return &t }

func (s *staticPods) mirrorChanged(p *corev1.Pod) {
	s.mu.Lock()
	s.mirrors[podKey(p)] = p
	uid := types.UID(p.Annotations[annoConfigMirror])
	s.mu.Unlock()
	if p.DeletionTimestamp != nil {
		// Deleting a mirror does not stop a static pod: it is recreated.
		s.nudge()
	}
	_ = uid
}

func (s *staticPods) mirrorRemoved(p *corev1.Pod) {
	s.mu.Lock()
	if m, ok := s.mirrors[podKey(p)]; ok && m.UID == p.UID {
		delete(s.mirrors, podKey(p))
	}
	s.mu.Unlock()
	s.nudge()
}

func (s *staticPods) nudge() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// mirrorFor returns the static pod's mirror, if the API has it.
func (s *staticPods) mirrorFor(p *corev1.Pod) *corev1.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mirrors[podKey(p)]
	if m == nil || m.Annotations[annoConfigMirror] != string(p.UID) || m.DeletionTimestamp != nil {
		return nil
	}
	return m
}

func (s *staticPods) wake(uid types.UID) {
	s.k.mu.Lock()
	w := s.k.workers[uid]
	s.k.mu.Unlock()
	if w != nil {
		w.kick()
	}
}
