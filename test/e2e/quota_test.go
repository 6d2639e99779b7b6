package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// LimitRange defaults and bounds, then a ResourceQuota counted in describe and
// enforced on the pod over its limit; deleting a pod frees its room.
func TestLimitRangeAndQuota(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	lr := `apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec:
  limits:
  - type: Container
    default: {cpu: 300m, memory: 128Mi}
    defaultRequest: {cpu: 200m, memory: 64Mi}
    max: {memory: 1Gi}
`
	if out, errOut, err := kStdin(t, s, lr, "-n", ns, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply limitrange: %v\n%s%s", err, out, errOut)
	}
	k(t, s, "-n", ns, "run", "plain", "--image=busybox", "--restart=Never")
	got := k(t, s, "-n", ns, "get", "pod", "plain", "-o",
		"jsonpath={.spec.containers[0].resources.requests.cpu} {.spec.containers[0].resources.limits.memory} {.status.qosClass}")
	if got != "200m 128Mi Burstable" {
		t.Fatalf("defaulted resources: %q, want 200m 128Mi Burstable", got)
	}
	big := `{"spec":{"containers":[{"name":"big","image":"busybox","resources":{"limits":{"memory":"2Gi"}}}]}}`
	errOut := kFail(t, s, "-n", ns, "run", "big", "--image=busybox", "--restart=Never", "--overrides="+big)
	if !strings.Contains(errOut, `pods "big" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi`) {
		t.Fatalf("too large pod: %s", errOut)
	}

	k(t, s, "-n", ns, "create", "quota", "q1", "--hard=pods=2,requests.cpu=1")
	k(t, s, "-n", ns, "run", "second", "--image=busybox", "--restart=Never")
	used := regexp.MustCompile(`pods\s+2\s+2\s+requests\.cpu\s+400m\s+1`)
	eventually(t, 20*time.Second, func() error {
		out := k(t, s, "-n", ns, "describe", "quota", "q1")
		if !used.MatchString(out) {
			return fmt.Errorf("describe quota:\n%s", out)
		}
		return nil
	})
	errOut = kFail(t, s, "-n", ns, "run", "third", "--image=busybox", "--restart=Never")
	if !strings.Contains(errOut, `pods "third" is forbidden: exceeded quota: q1, requested: pods=1, used: pods=2, limited: pods=2`) {
		t.Fatalf("third pod: %s", errOut)
	}
	k(t, s, "-n", ns, "delete", "pod", "plain", "--wait=false")
	k(t, s, "-n", ns, "run", "third", "--image=busybox", "--restart=Never")
	eventually(t, 20*time.Second, func() error {
		out := k(t, s, "-n", ns, "get", "quota", "q1", "--no-headers")
		if !strings.Contains(out, "pods: 2/2, requests.cpu: 400m/1") {
			return fmt.Errorf("get quota: %s", out)
		}
		return nil
	})
}
