package kubelet

import (
	"context"
	"fmt"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// pullPolicy is the container's policy, defaulted as the API server would.
func pullPolicy(c *corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	name := c.Image
	if i := strings.Index(name, "@"); i >= 0 {
		return corev1.PullIfNotPresent
	}
	slash := strings.LastIndex(name, "/")
	colon := strings.LastIndex(name, ":")
	if colon <= slash || strings.HasSuffix(name, ":latest") {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// ensureImage makes the container's image available as its policy says and
// returns the reference to create the container from. Failures put the
// container in ErrImagePull, then ImagePullBackOff while the back-off lasts.
func (k *Kubelet) ensureImage(ctx context.Context, w *podWorker, pod *corev1.Pod, c *corev1.Container, sbCfg *runtimeapi.PodSandboxConfig) (string, error) {
	ref := refFor(pod, c)
	img, err := k.rt.ImageStatus(ctx, c.Image)
	if err != nil {
		w.waiting[c.Name] = waitInfo{Reason: "ErrImageInspect", Message: err.Error()}
		return "", err
	}
	present := img != nil && img.Id != ""
	policy := pullPolicy(c)
	switch {
	case policy == corev1.PullNever && !present:
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		w.waiting[c.Name] = waitInfo{Reason: "ErrImageNeverPull", Message: msg}
		w.warnOnce(pod, c.Name, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
		return "", fmt.Errorf("%s", msg)
	case present && policy != corev1.PullAlways:
		k.recorder.Eventf(ref, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
		return img.Id, nil
	}
	key := "pull/" + c.Image
	if w.waiting[c.Name].Reason == "ErrImagePull" || w.waiting[c.Name].Reason == "ImagePullBackOff" {
		if left := k.pulls.Remaining(key, k.lastPullFailure(key)); left > 0 {
			msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
			if w.waiting[c.Name].Reason != "ImagePullBackOff" {
				k.recorder.Eventf(ref, corev1.EventTypeNormal, "BackOff", "%s", msg)
			}
			w.waiting[c.Name] = waitInfo{Reason: "ImagePullBackOff", Message: msg}
			return "", errBackoff
		}
	}
	k.recorder.Eventf(ref, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := k.clock.Now()
	pulled, err := k.rt.PullImage(ctx, c.Image, sbCfg)
	if err != nil {
		if present && unreachable(err) {
			// Offline node, image already here: use it rather than fail a pod
			// that asked for Always (as `kubectl run --image=busybox` does).
			k.recorder.Eventf(ref, corev1.EventTypeWarning, "Failed", "Failed to pull image %q (registry unreachable); using the image already on the node", c.Image)
			k.pulls.Reset(key)
			return img.Id, nil
		}
		k.pulls.Next(key)
		k.notePullFailure(key)
		msg := fmt.Sprintf("Failed to pull image %q: %v", c.Image, err)
		w.waiting[c.Name] = waitInfo{Reason: "ErrImagePull", Message: msg}
		k.recorder.Eventf(ref, corev1.EventTypeWarning, "Failed", "%s", msg)
		k.recorder.Eventf(ref, corev1.EventTypeWarning, "Failed", "Error: ErrImagePull")
		return "", errBackoff
	}
	k.pulls.Reset(key)
	k.recorder.Eventf(ref, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", c.Image, k.clock.Since(start).Round(time.Millisecond))
	return pulled, nil
}

// unreachable tells a registry that cannot be reached from a refusal by one.
func unreachable(err error) bool {
	s := strings.ToLower(err.Error())
	for _, m := range []string{"network is unreachable", "no such host", "dial tcp", "i/o timeout", "connection refused", "temporary failure in name resolution", "server misbehaving"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

func (k *Kubelet) notePullFailure(key string) {
	k.mu.Lock()
	if k.pullFailed == nil {
		k.pullFailed = map[string]time.Time{}
	}
	k.pullFailed[key] = k.clock.Now()
	k.mu.Unlock()
}

func (k *Kubelet) lastPullFailure(key string) time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pullFailed[key]
}

// requestToken asks the API for a service account token bound to the pod.
func (k *Kubelet) requestToken(ctx context.Context, ns, sa string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	if sa == "" {
		sa = "default"
	}
	return k.client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
}
