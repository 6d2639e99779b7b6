package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// TestNode runs real pods on one real node (tug agent --netns with containerd,
// runc and the CNI bridge): most checks in parallel, then those that disturb the
// node (agent restart, runtime outage) one after another.
func TestNode(t *testing.T) {
	c := startNodeCluster(t)
	t.Run("pods", func(t *testing.T) {
		t.Run("BusyboxRunsWithIPAndServesHTTP", func(t *testing.T) { t.Parallel(); testBusyboxHTTP(t, c) })
		t.Run("EnvAndVolumes", func(t *testing.T) { t.Parallel(); testEnvAndVolumes(t, c) })
		t.Run("InitContainersRunInOrder", func(t *testing.T) { t.Parallel(); testInitOrder(t, c) })
		t.Run("SecurityContext", func(t *testing.T) { t.Parallel(); testSecurityContext(t, c) })
		t.Run("OOMKilled", func(t *testing.T) { t.Parallel(); testOOMKilled(t, c) })
		t.Run("CrashLoopBackOff", func(t *testing.T) { t.Parallel(); testCrashLoop(t, c) })
		t.Run("Readiness", func(t *testing.T) { t.Parallel(); testReadiness(t, c) })
		t.Run("LivenessRestarts", func(t *testing.T) { t.Parallel(); testLiveness(t, c) })
		t.Run("GracefulDelete", func(t *testing.T) { t.Parallel(); testGracefulDelete(t, c) })
		t.Run("MissingImage", func(t *testing.T) { t.Parallel(); testMissingImage(t, c) })
		t.Run("StaticPodMirror", func(t *testing.T) { t.Parallel(); testStaticPod(t, c) })
		t.Run("Stats", func(t *testing.T) { t.Parallel(); testStats(t, c) })
		t.Run("DebugContainer", func(t *testing.T) { t.Parallel(); testDebugContainer(t, c) })
	})
	t.Run("AgentRestartKeepsContainers", func(t *testing.T) { testAgentRestart(t, c) })
	t.Run("RuntimeDownMakesNodeNotReady", func(t *testing.T) { testRuntimeDown(t, c) })
}

func testBusyboxHTTP(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  nodeName: NODE
  containers:
  - name: httpd
    image: busybox
    command: [sh, -c, 'echo hello-from-web > /var/www/index.html; exec httpd -f -p 8080 -h /var/www']
    ports: [{containerPort: 8080, name: http, hostPort: 18080}]
    readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
`)
	p := c.waitPod(t, ns, "web", 60*time.Second, "running and ready", func(p *corev1.Pod) bool { return running(p) && podReady(p) })
	// hostPort: the node's address forwards to the pod (the host reaches the
	// node over the bridge).
	eventually(t, 20*time.Second, func() error {
		hc := &http.Client{Timeout: 3 * time.Second}
		resp, err := hc.Get(fmt.Sprintf("http://%s:18080/", c.a.IP))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), "hello-from-web") {
			return fmt.Errorf("hostPort answered %q", b)
		}
		return nil
	})
	if p.Status.PodIP == "" || !strings.HasPrefix(p.Status.PodIP, "10.") {
		t.Fatalf("pod IP %q", p.Status.PodIP)
	}
	if p.Status.HostIP != c.a.IP {
		t.Errorf("hostIP %q, want the node's %s", p.Status.HostIP, c.a.IP)
	}
	cs := p.Status.ContainerStatuses[0]
	if !strings.HasPrefix(cs.ContainerID, "containerd://") || cs.ImageID == "" || cs.Image != "docker.io/library/busybox:latest" {
		t.Errorf("container status: id %q imageID %q image %q", cs.ContainerID, cs.ImageID, cs.Image)
	}
	if p.Status.QOSClass != corev1.PodQOSBestEffort || p.Status.StartTime == nil {
		t.Errorf("qosClass %q startTime %v", p.Status.QOSClass, p.Status.StartTime)
	}
	wide := k(t, c.s, "get", "pods", "-n", ns, "-o", "wide")
	if !strings.Contains(wide, p.Status.PodIP) || !strings.Contains(wide, c.a.Name) || !strings.Contains(wide, "Running") {
		t.Errorf("kubectl get pods -o wide:\n%s", wide)
	}
	// Another pod fetches the page over the pod network; its exit code says
	// whether it got it.
	c.apply(t, ns, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: NODE
  restartPolicy: Never
  containers:
  - name: wget
    image: busybox
    command: [sh, -c, 'timeout 10 wget -q -O - http://%s:8080/ | grep -q hello-from-web']
`, p.Status.PodIP))
	cp := c.waitPod(t, ns, "client", 60*time.Second, "finished", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if cp.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("the client pod could not fetch the page: %+v", cp.Status.ContainerStatuses)
	}
}

func testEnvAndVolumes(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	out := t.TempDir()
	c.apply(t, ns, fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {greeting: hello, file.txt: from-configmap}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: envvol, labels: {app: envvol}}
spec:
  nodeName: NODE
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    workingDir: /tmp
    command: [sh, -c]
    args:
    - |
      echo "G=$GREETING P=$PASSWORD N=$MY_NAME NS=$MY_NS IP=$MY_IP MEM=$MEM_LIMIT X=$EXPANDED F=$FROM_greeting PWD=$(pwd)" > /out/env.txt
      cat /cfg/file.txt > /out/cfg.txt
      cat /sec/password > /out/sec.txt
      cat /dw/labels > /out/labels.txt
      echo mem > /mem/x && cat /mem/x > /out/mem.txt
      grep -c ' /mem ' /proc/mounts > /out/memmount.txt
      echo sub > /sub/x
      cat /etc/hosts > /out/hosts.txt
      echo all-done > /dev/termination-log
      exit 3
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: sec, key: password}}}
    - {name: MY_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: MY_NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: MY_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: MEM_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: EXPANDED, value: "$(GREETING)-world"}
    envFrom:
    - {prefix: FROM_, configMapRef: {name: cfg}}
    resources: {limits: {memory: 64Mi, cpu: 200m}}
    volumeMounts:
    - {name: out, mountPath: /out}
    - {name: cfg, mountPath: /cfg}
    - {name: sec, mountPath: /sec}
    - {name: dw, mountPath: /dw}
    - {name: mem, mountPath: /mem}
    - {name: out, mountPath: /sub, subPath: subdir}
  volumes:
  - {name: out, hostPath: {path: %s}}
  - {name: cfg, configMap: {name: cfg}}
  - {name: sec, secret: {secretName: sec}}
  - {name: dw, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}
  - {name: mem, emptyDir: {medium: Memory}}
`, out))
	p := c.waitPod(t, ns, "envvol", 60*time.Second, "failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 3 || term.Reason != "Error" || term.Message != "all-done\n" {
		t.Fatalf("terminated state %+v", term)
	}
	env := readFile(t, filepath.Join(out, "env.txt"), 5*time.Second)
	// envFrom keys come prefixed.
	want := fmt.Sprintf("G=hello P=s3cret N=envvol NS=%s IP=%s MEM=64 X=hello-world F=hello PWD=/tmp", ns, p.Status.PodIP)
	if strings.TrimSpace(env) != want {
		t.Errorf("env: %q, want %q", strings.TrimSpace(env), want)
	}
	for file, want := range map[string]string{"cfg.txt": "from-configmap", "sec.txt": "s3cret", "labels.txt": `app="envvol"`, "mem.txt": "mem", "memmount.txt": "1", "subdir/x": "sub"} {
		if got := strings.TrimSpace(readFile(t, filepath.Join(out, file), 5*time.Second)); got != want {
			t.Errorf("%s: %q, want %q", file, got, want)
		}
	}
	if hosts := readFile(t, filepath.Join(out, "hosts.txt"), 5*time.Second); !strings.Contains(hosts, p.Status.PodIP+"\tenvvol") {
		t.Errorf("/etc/hosts lacks the pod's own entry:\n%s", hosts)
	}
}

func testInitOrder(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	out := t.TempDir()
	c.apply(t, ns, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: inits}
spec:
  nodeName: NODE
  restartPolicy: Never
  initContainers:
  - {name: first, image: busybox, command: [sh, -c, 'sleep 1; echo first >> /out/order'], volumeMounts: [{name: out, mountPath: /out}]}
  - {name: second, image: busybox, command: [sh, -c, 'echo second >> /out/order'], volumeMounts: [{name: out, mountPath: /out}]}
  containers:
  - {name: main, image: busybox, command: [sh, -c, 'echo main >> /out/order'], volumeMounts: [{name: out, mountPath: /out}]}
  volumes:
  - {name: out, hostPath: {path: %s}}
`, out))
	p := c.waitPod(t, ns, "inits", 60*time.Second, "finished", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("phase %s: %+v", p.Status.Phase, p.Status.InitContainerStatuses)
	}
	for _, s := range p.Status.InitContainerStatuses {
		if s.State.Terminated == nil || s.State.Terminated.Reason != "Completed" {
			t.Errorf("init container %s: %+v", s.Name, s.State)
		}
	}
	if got := readFile(t, filepath.Join(out, "order"), 5*time.Second); got != "first\nsecond\nmain\n" {
		t.Errorf("order %q", got)
	}
}

func testSecurityContext(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: secure}
spec:
  nodeName: NODE
  restartPolicy: Never
  securityContext: {runAsUser: 1000, runAsGroup: 3000}
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'echo "$(id -u) $(id -g)" > /dev/termination-log; if touch /rootfs-write 2>/dev/null; then exit 1; fi; exit 0']
    securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`)
	p := c.waitPod(t, ns, "secure", 60*time.Second, "finished", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	term := p.Status.ContainerStatuses[0].State.Terminated
	if p.Status.Phase != corev1.PodSucceeded || term == nil || term.Message != "1000 3000\n" {
		t.Fatalf("phase %s, terminated %+v: want uid 1000 gid 3000 and a read-only root", p.Status.Phase, term)
	}
}

func testOOMKilled(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  nodeName: NODE
  restartPolicy: Never
  containers:
  - name: hog
    image: busybox
    command: [sh, -c, 'x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done']
    resources: {limits: {memory: 24Mi}}
`)
	p := c.waitPod(t, ns, "hog", 60*time.Second, "OOM-killed", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Terminated != nil
	})
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Fatalf("terminated %+v, want OOMKilled with 137", term)
	}
	if get := k(t, c.s, "get", "pod", "-n", ns, "hog"); !strings.Contains(get, "OOMKilled") {
		t.Errorf("kubectl get pod shows:\n%s", get)
	}
}

func testCrashLoop(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  nodeName: NODE
  containers:
  - {name: crash, image: busybox, command: [sh, -c, 'echo dying; exit 2']}
`)
	p := c.waitPod(t, ns, "crash", 60*time.Second, "in CrashLoopBackOff", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) > 0 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CrashLoopBackOff"
	})
	cs := p.Status.ContainerStatuses[0]
	if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 2 || cs.RestartCount < 1 {
		t.Errorf("last state %+v restarts %d", cs.LastTerminationState, cs.RestartCount)
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("phase %s, want Running while restarting", p.Status.Phase)
	}
	// The back-off grows: 10s, then 20s.
	c.waitPod(t, ns, "crash", 60*time.Second, "backing off 20s", func(p *corev1.Pod) bool {
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && strings.Contains(w.Message, "back-off 20s")
	})
	if get := k(t, c.s, "get", "pod", "-n", ns, "crash"); !strings.Contains(get, "CrashLoopBackOff") {
		t.Errorf("kubectl get pod shows:\n%s", get)
	}
}

func testReadiness(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  nodeName: NODE
  containers:
  - name: c
    image: busybox
    command: [sleep, "3600"]
    readinessProbe: {exec: {command: ["false"]}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: later}
spec:
  nodeName: NODE
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'sleep 3; touch /tmp/ready; exec sleep 3600']
    readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 1}
`)
	c.waitPod(t, ns, "later", 60*time.Second, "ready", podReady)
	p := c.pod(t, ns, "never")
	if !running(p) || podReady(p) || p.Status.ContainerStatuses[0].Ready {
		t.Fatalf("the never-ready pod: phase %s ready %v", p.Status.Phase, podReady(p))
	}
	if get := k(t, c.s, "get", "pod", "-n", ns, "never"); !strings.Contains(get, "0/1") || !strings.Contains(get, "Running") {
		t.Errorf("kubectl get pod shows:\n%s", get)
	}
}

func testLiveness(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: sick}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: [sleep, "3600"]
    livenessProbe: {tcpSocket: {port: 9999}, periodSeconds: 1, failureThreshold: 2}
`)
	c.waitPod(t, ns, "sick", 60*time.Second, "restarted by its liveness probe", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	ev := k(t, c.s, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=sick")
	if !strings.Contains(ev, "Unhealthy") || !strings.Contains(ev, "failed liveness probe") {
		t.Errorf("events:\n%s", ev)
	}
}

func testGracefulDelete(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	out := t.TempDir()
	c.apply(t, ns, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: graceful}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 20
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'trap "echo got-term > /out/term; exit 0" TERM; while true; do sleep 0.2; done']
    lifecycle:
      preStop: {exec: {command: [sh, -c, 'echo pre-stop > /out/prestop']}}
    volumeMounts: [{name: out, mountPath: /out}]
  volumes:
  - {name: out, hostPath: {path: %s}}
`, out))
	p := c.waitPod(t, ns, "graceful", 60*time.Second, "running", running)
	start := time.Now()
	k(t, c.s, "delete", "pod", "-n", ns, "graceful", "--timeout=60s")
	took := time.Since(start)
	if got := readFile(t, filepath.Join(out, "prestop"), 5*time.Second); got != "pre-stop\n" {
		t.Errorf("preStop wrote %q", got)
	}
	if got := readFile(t, filepath.Join(out, "term"), 5*time.Second); got != "got-term\n" {
		t.Errorf("the container saw %q", got)
	}
	if took > 15*time.Second {
		t.Errorf("delete took %s although the container exits on SIGTERM", took)
	}
	eventually(t, 20*time.Second, func() error {
		if cs := c.containersOf(t, string(p.UID)); len(cs) > 0 {
			return fmt.Errorf("%d containers of the deleted pod remain", len(cs))
		}
		return nil
	})
}

func testMissingImage(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  nodeName: NODE
  containers:
  - {name: c, image: registry.invalid/nothing:1.0}
`)
	c.waitPod(t, ns, "noimage", 60*time.Second, "in ImagePullBackOff", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) > 0 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "ImagePullBackOff"
	})
	desc := k(t, c.s, "describe", "pod", "-n", ns, "noimage")
	for _, want := range []string{"ImagePullBackOff", "Failed to pull image \"registry.invalid/nothing:1.0\"", "ErrImagePull", "Back-off pulling image"} {
		if !strings.Contains(desc, want) {
			t.Errorf("kubectl describe pod lacks %q:\n%s", want, desc)
		}
	}
}

func testStaticPod(t *testing.T, c *nodeCluster) {
	manifests := filepath.Join(c.a.DataDir(), "manifests")
	if err := os.WriteFile(filepath.Join(manifests, "static-web.yaml"), []byte(`
apiVersion: v1
kind: Pod
metadata: {name: static-web, namespace: default}
spec:
  containers:
  - {name: web, image: busybox, command: [sleep, "3600"]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	name := "static-web-" + c.a.Name
	t.Cleanup(func() { _ = os.Remove(filepath.Join(manifests, "static-web.yaml")) })
	p := c.waitPod(t, "default", name, 60*time.Second, "running", running)
	if p.Annotations["kubernetes.io/config.mirror"] == "" || p.Spec.NodeName != c.a.Name {
		t.Fatalf("mirror pod annotations %v node %q", p.Annotations, p.Spec.NodeName)
	}
	// Killing the container: the agent restarts it.
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.runtime(t).StopContainer(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	c.waitPod(t, "default", name, 60*time.Second, "restarted", func(p *corev1.Pod) bool {
		return running(p) && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	// Deleting the mirror pod does not stop the static pod: the mirror returns.
	k(t, c.s, "delete", "pod", "-n", "default", name, "--wait=false")
	c.waitPod(t, "default", name, 60*time.Second, "mirrored again", func(np *corev1.Pod) bool { return np.UID != p.UID && running(np) })
	// Removing the manifest removes the pod and its mirror.
	_ = os.Remove(filepath.Join(manifests, "static-web.yaml"))
	eventually(t, 60*time.Second, func() error {
		if _, _, err := c.s.Kubectl("get", "pod", "-n", "default", name); err == nil {
			return fmt.Errorf("mirror pod %s still exists", name)
		}
		return nil
	})
}

func testStats(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: busy}
spec:
  nodeName: NODE
  containers:
  - {name: c, image: busybox, command: [sh, -c, 'x=1; while true; do x=$((x+1)); done']}
`)
	c.waitPod(t, ns, "busy", 60*time.Second, "running", running)
	// The node's HTTPS port answers clients with a cluster certificate.
	client := nodeClient(t, c)
	port := k(t, c.s, "get", "node", c.a.Name, "-o", "jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}")
	base := fmt.Sprintf("https://%s:%s", c.a.IP, port)
	eventually(t, 30*time.Second, func() error {
		resp, err := client.Get(base + "/stats/summary")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var sum struct {
			Node struct {
				NodeName string `json:"nodeName"`
			} `json:"node"`
			Pods []struct {
				PodRef struct{ Name, Namespace string } `json:"podRef"`
				CPU    struct {
					UsageCoreNanoSeconds uint64 `json:"usageCoreNanoSeconds"`
				} `json:"cpu"`
				Memory struct {
					WorkingSetBytes uint64 `json:"workingSetBytes"`
				} `json:"memory"`
			} `json:"pods"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&sum); err != nil {
			return err
		}
		if sum.Node.NodeName != c.a.Name {
			return fmt.Errorf("summary names node %q", sum.Node.NodeName)
		}
		for _, p := range sum.Pods {
			if p.PodRef.Name == "busy" && p.PodRef.Namespace == ns {
				if p.CPU.UsageCoreNanoSeconds == 0 || p.Memory.WorkingSetBytes == 0 {
					return fmt.Errorf("pod stats %+v", p)
				}
				return nil
			}
		}
		return fmt.Errorf("pod busy not in the summary")
	})
	resp, err := client.Get(base + "/metrics/resource")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf(`container_cpu_usage_seconds_total{container="c",namespace=%q,pod="busy"}`, ns); !strings.Contains(string(b), want) {
		t.Errorf("/metrics/resource lacks %s:\n%s", want, b)
	}
	// Without a client certificate the node refuses.
	anon := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := anon.Get(base + "/stats/summary"); err == nil {
		resp.Body.Close()
		t.Errorf("anonymous request answered %s", resp.Status)
	}
}

// nodeClient speaks to the node's HTTPS port with the admin certificate.
func nodeClient(t *testing.T, c *nodeCluster) *http.Client {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cfg.CAData)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true},
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
}

func testAgentRestart(t *testing.T, c *nodeCluster) {
	ns := namespace(t, c.s)
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: keeper}
spec:
  nodeName: NODE
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: goner}
spec:
  nodeName: NODE
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
`)
	keeper := c.waitPod(t, ns, "keeper", 60*time.Second, "running", running)
	goner := c.waitPod(t, ns, "goner", 60*time.Second, "running", running)
	c.a.Stop()
	// Deleted while no agent runs: its containers must go when the agent is back.
	k(t, c.s, "delete", "pod", "-n", ns, "goner", "--grace-period=0", "--force")
	if err := c.a.Restart(c.s); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	p := c.waitPod(t, ns, "keeper", 30*time.Second, "running", running)
	before, after := keeper.Status.ContainerStatuses[0], p.Status.ContainerStatuses[0]
	if after.ContainerID != before.ContainerID || after.RestartCount != 0 {
		t.Errorf("container %s (restarts %d) after the agent restart, was %s", after.ContainerID, after.RestartCount, before.ContainerID)
	}
	if n := len(c.containersOf(t, string(keeper.UID))); n != 1 {
		t.Errorf("%d containers for the kept pod, want exactly 1 (nothing started twice)", n)
	}
	eventually(t, 30*time.Second, func() error {
		if cs := c.containersOf(t, string(goner.UID)); len(cs) > 0 {
			return fmt.Errorf("%d containers of the pod deleted meanwhile remain", len(cs))
		}
		return nil
	})
}

func testRuntimeDown(t *testing.T, c *nodeCluster) {
	ready := func(want string) func() error {
		return func() error {
			out, _, err := c.s.Kubectl("get", "node", c.a.Name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}`)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(out, want) {
				return fmt.Errorf("node Ready: %s", out)
			}
			return nil
		}
	}
	pid := c.a.ContainerdPID()
	if pid == 0 {
		t.Fatal("no containerd pid")
	}
	// A frozen runtime answers nothing: the node goes NotReady, and Ready again
	// once it thaws.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	defer func() {
		if !thawed {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	eventually(t, 30*time.Second, ready("False"))
	msg := k(t, c.s, "get", "node", c.a.Name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].message}`)
	if !strings.Contains(msg, "runtime") {
		t.Errorf("NotReady message %q does not name the runtime", msg)
	}
	_ = syscall.Kill(pid, syscall.SIGCONT)
	thawed = true
	eventually(t, 30*time.Second, ready("True"))
	// A killed runtime is restarted by the agent.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if p := c.a.ContainerdPID(); p == 0 || p == pid {
			return fmt.Errorf("containerd not restarted (pid %d)", p)
		}
		return nil
	})
	eventually(t, 30*time.Second, ready("True"))
	// And pods still start.
	ns := namespace(t, c.s)
	c.apply(t, ns, `
apiVersion: v1
kind: Pod
metadata: {name: after}
spec:
  nodeName: NODE
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
`)
	c.waitPod(t, ns, "after", 60*time.Second, "running", running)
}
