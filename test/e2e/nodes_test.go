package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Node agents in these tests are hollow: they join like real nodes (token, CSR,
// own certificate) and play their pods, but run no containers, so they need no
// network namespace; they only talk to the API server on loopback.

// agentProc is a `tug agent` process, stopped by its PID when the test ends.
type agentProc struct {
	cmd  *exec.Cmd
	log  string
	dir  string
	done chan struct{}
}

func agentArgs(s *Server, dir string, args []string) []string {
	return append([]string{"agent", "--server", s.URL, "--data-dir", dir}, args...)
}

// nodeTokenFile is the server's join token.
func nodeTokenFile(s *Server) string { return filepath.Join(s.Dir, "data", "node-token") }

// startAgent starts an agent with its data in dir.
func startAgent(t *testing.T, s *Server, dir string, args ...string) *agentProc {
	t.Helper()
	a := &agentProc{dir: dir, log: filepath.Join(t.TempDir(), "agent.log"), done: make(chan struct{})}
	f, err := os.Create(a.log)
	if err != nil {
		t.Fatal(err)
	}
	a.cmd = exec.Command(tugBin, agentArgs(s, dir, args)...)
	a.cmd.Stdout, a.cmd.Stderr = f, f
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	go func() { _ = a.cmd.Wait(); f.Close(); close(a.done) }()
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			b, _ := os.ReadFile(a.log)
			l := strings.Split(string(b), "\n")
			if len(l) > 80 {
				l = l[len(l)-80:]
			}
			t.Logf("agent log (last lines):\n%s", strings.Join(l, "\n"))
		}
	})
	return a
}

// stop ends the agent (SIGTERM, then SIGKILL after 10s) and waits for it.
func (a *agentProc) stop() {
	select {
	case <-a.done:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// runAgent runs an agent to completion (it must exit by itself, e.g. --join-only).
func runAgent(t *testing.T, s *Server, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tugBin, agentArgs(s, dir, args)...).CombinedOutput()
	return string(out), err
}

// kubectlAs runs kubectl with another kubeconfig (a node's own).
func kubectlAs(s *Server, kubeconfig string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, err := s.KubectlCtx(ctx, nil, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	if err != nil {
		return errOut, err
	}
	return out, nil
}

// nodeReadiness maps the hollow nodes to their Ready status.
func nodeReadiness(t *testing.T, s *Server) map[string]string {
	t.Helper()
	out := k(t, s, "get", "nodes", "-l", "node.tug.io/hollow=true", "-o",
		`jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
	m := map[string]string{}
	for _, l := range lines(out) {
		name, st, _ := strings.Cut(l, "=")
		m[name] = st
	}
	return m
}

func waitNodesReady(t *testing.T, s *Server, n int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() error {
		m := nodeReadiness(t, s)
		ready := 0
		for _, st := range m {
			if st == "True" {
				ready++
			}
		}
		if ready != n {
			return fmt.Errorf("%d of %d hollow nodes Ready: %v", ready, n, m)
		}
		return nil
	})
}

func TestNodeJoin(t *testing.T) {
	s := newServer(t)
	tok, err := os.ReadFile(nodeTokenFile(s))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.TrimSpace(string(tok)), "::")
	if len(parts) != 3 || parts[0] != "tug1" || len(parts[1]) != 64 {
		t.Fatalf("node token %q is not tug1::<ca-hash>::<secret>", tok)
	}
	write := func(content string) string {
		p := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("RefusedWithoutTheRightToken", func(t *testing.T) {
		cases := []struct {
			name string
			args []string
			want string
		}{
			{"wrong secret", []string{"--token-file", write("tug1::" + parts[1] + "::not-the-secret")}, "does not accept the join token"},
			{"another cluster's CA", []string{"--token-file", write("tug1::" + strings.Repeat("ab", 32) + "::" + parts[2])}, "is not the one the join token names"},
			{"garbage", []string{"--token-file", write("hello")}, "malformed"},
			{"missing file", []string{"--token-file", filepath.Join(t.TempDir(), "nope")}, "read the join token"},
			{"no token", nil, "no join token"},
		}
		for _, tc := range cases {
			out, err := runAgent(t, s, t.TempDir(), append(tc.args, "--name", "intruder", "--join-only")...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("%s: err=%v, output %q, want it to contain %q", tc.name, err, out, tc.want)
			}
		}
		if out := k(t, s, "get", "nodes", "-o", "name"); strings.TrimSpace(out) != "" {
			t.Fatalf("refused joins created nodes: %s", out)
		}
		if out := k(t, s, "get", "csr", "-o", "name"); strings.TrimSpace(out) != "" {
			t.Fatalf("refused joins created certificate requests: %s", out)
		}
	})

	dir := t.TempDir()
	t.Run("JoinsWithItsOwnIdentity", func(t *testing.T) {
		start := time.Now()
		a := startAgent(t, s, dir, "--token-file", nodeTokenFile(s), "--hollow", "2", "--name-prefix", "edge")
		waitNodesReady(t, s, 2, 60*time.Second)
		t.Logf("2 nodes joined and Ready in %s", time.Since(start).Round(time.Millisecond))
		if out := k(t, s, "get", "nodes", "edge-0", "edge-1", "--no-headers"); len(lines(out)) != 2 || !strings.Contains(out, " Ready ") {
			t.Fatalf("kubectl get nodes:\n%s", out)
		}
		csrs := k(t, s, "get", "csr", "--no-headers")
		if len(lines(csrs)) != 2 || strings.Count(csrs, "Approved,Issued") != 2 || strings.Count(csrs, "system:bootstrap:tug") != 2 ||
			!strings.Contains(csrs, "kubernetes.io/kube-apiserver-client-kubelet") {
			t.Fatalf("certificate requests:\n%s", csrs)
		}

		kc := filepath.Join(dir, "hollow", "edge-0", "kubeconfig")
		for _, f := range []string{kc, filepath.Join(dir, "hollow", "edge-0", "pki", "client.key")} {
			st, err := os.Stat(f)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("%s: %v, mode %v (want 0600)", f, err, st.Mode().Perm())
			}
		}
		if who, err := kubectlAs(s, kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); err != nil || who != "system:node:edge-0" {
			t.Fatalf("the node speaks as %q (%v), want system:node:edge-0", who, err)
		}
		// Its own node and lease: yes. Another node's, or other kinds: no.
		if out, err := kubectlAs(s, kc, "label", "node", "edge-0", "rack=r1"); err != nil {
			t.Fatalf("a node may label itself: %v %s", err, out)
		}
		refused := []struct {
			args []string
			want string
		}{
			{[]string{"label", "node", "edge-1", "rack=r1"}, `node "edge-0" may not modify node "edge-1"`},
			{[]string{"taint", "node", "edge-0", "k=v:NoSchedule"}, "may not modify its taints"},
			{[]string{"-n", "kube-node-lease", "delete", "lease", "edge-1"}, `node "edge-0" may only write its own lease`},
			{[]string{"-n", "default", "create", "configmap", "x"}, "forbidden"},
			{[]string{"delete", "node", "edge-1"}, "forbidden"},
		}
		for _, r := range refused {
			out, err := kubectlAs(s, kc, r.args...)
			if err == nil || !strings.Contains(out, r.want) {
				t.Errorf("kubectl %s as edge-0: err=%v %q, want a refusal containing %q", strings.Join(r.args, " "), err, out, r.want)
			}
		}
		if got := k(t, s, "get", "node", "edge-1", "-o", "jsonpath={.metadata.labels.rack}"); got != "" {
			t.Fatalf("edge-1 was labelled by edge-0: %q", got)
		}
		checkNodeReads(t, s, kc, "edge-0", "edge-1")
		a.stop()
	})

	t.Run("RestartReusesTheCertificate", func(t *testing.T) {
		// No token this time: the saved certificates are enough, and the nodes
		// heartbeat again.
		before := leaseRenewals(t, s)
		a := startAgent(t, s, dir, "--hollow", "2", "--name-prefix", "edge")
		eventually(t, 60*time.Second, func() error {
			select {
			case <-a.done:
				b, _ := os.ReadFile(a.log)
				t.Fatalf("the restarted agent exited:\n%s", b)
			default:
			}
			now := leaseRenewals(t, s)
			for _, n := range []string{"edge-0", "edge-1"} {
				if now[n] == before[n] {
					return fmt.Errorf("lease %s not renewed since the restart", n)
				}
			}
			return nil
		})
		waitNodesReady(t, s, 2, 60*time.Second)
		if n := len(lines(k(t, s, "get", "csr", "--no-headers"))); n != 2 {
			t.Fatalf("%d certificate requests after a restart, want the original 2", n)
		}
	})
}

// leaseRenewals returns each hollow node lease's renewTime.
func leaseRenewals(t *testing.T, s *Server) map[string]string {
	t.Helper()
	out := k(t, s, "-n", "kube-node-lease", "get", "leases", "-o", `jsonpath={range .items[*]}{.metadata.name}={.spec.renewTime}{"\n"}{end}`)
	m := map[string]string{}
	for _, l := range lines(out) {
		name, rt, _ := strings.Cut(l, "=")
		m[name] = rt
	}
	return m
}

func TestHollowNodesHeartbeat(t *testing.T) {
	const n = 30
	s := newServer(t)
	start := time.Now()
	startAgent(t, s, t.TempDir(), "--token-file", nodeTokenFile(s), "--hollow", fmt.Sprint(n), "--name-prefix", "h", "--hollow-heartbeat-interval", "2s")
	waitNodesReady(t, s, n, 120*time.Second)
	t.Logf("%d hollow nodes joined and Ready in %s", n, time.Since(start).Round(time.Millisecond))

	// Every node has its own pod CIDR.
	cidrs := lines(k(t, s, "get", "nodes", "-o", `jsonpath={range .items[*]}{.spec.podCIDR}{"\n"}{end}`))
	seen := map[string]bool{}
	for _, c := range cidrs {
		if !strings.HasPrefix(c, "10.244.") || !strings.HasSuffix(c, "/24") || seen[c] {
			t.Fatalf("pod CIDRs: %v", cidrs)
		}
		seen[c] = true
	}
	if len(seen) != n {
		t.Fatalf("%d pod CIDRs for %d nodes", len(seen), n)
	}

	// Leases are renewed: every renewTime moves on.
	var first map[string]string
	eventually(t, 30*time.Second, func() error {
		first = leaseRenewals(t, s)
		if len(first) != n {
			return fmt.Errorf("%d leases", len(first))
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		now := leaseRenewals(t, s)
		var stale []string
		for name, rt := range first {
			if now[name] == rt {
				stale = append(stale, name)
			}
		}
		if len(stale) > 0 {
			sort.Strings(stale)
			return fmt.Errorf("leases not renewed yet: %v", stale)
		}
		return nil
	})

	// Pods run with an address from their node's range; one that does not restart
	// completes.
	ns := namespace(t, s)
	createIn(t, s, ns, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox:1.36}]
`, `apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  restartPolicy: Never
  containers: [{name: c, image: busybox:1.36}]
`)
	eventually(t, 60*time.Second, func() error {
		out := k(t, s, "-n", ns, "get", "pods", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.status.phase} {.status.podIP} {.spec.nodeName}{"\n"}{end}`)
		running := 0
		for _, l := range lines(out) {
			f := strings.Fields(l)
			if len(f) != 3 || f[0] != "Running" {
				continue
			}
			cidr := k(t, s, "get", "node", f[2], "-o", "jsonpath={.spec.podCIDR}")
			if !strings.HasPrefix(f[1], strings.TrimSuffix(cidr, "0/24")) {
				return fmt.Errorf("pod IP %s outside its node's range %s", f[1], cidr)
			}
			running++
		}
		if running != 5 {
			return fmt.Errorf("%d of 5 pods running:\n%s", running, out)
		}
		return nil
	})
	eventually(t, 60*time.Second, func() error {
		if out := k(t, s, "-n", ns, "get", "pod", "once", "--no-headers"); !strings.Contains(out, "Completed") {
			return fmt.Errorf("pod once: %s", out)
		}
		return nil
	})
}

func TestNodeFailureAndDrain(t *testing.T) {
	s := newServer(t, "--node-monitor-grace-period", "6s")
	dir := t.TempDir()
	startAgent(t, s, dir, "--token-file", nodeTokenFile(s), "--hollow", "4", "--name-prefix", "w", "--hollow-heartbeat-interval", "2s")
	waitNodesReady(t, s, 4, 60*time.Second)
	ns := namespace(t, s)
	// Four replicas, at most one per node, each tolerating an unreachable node for 2s.
	createIn(t, s, ns, `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 3
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      terminationGracePeriodSeconds: 5
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: app}}
            topologyKey: kubernetes.io/hostname
      containers: [{name: c, image: busybox:1.36}]
`)
	// podsByNode returns the running app pods: node -> pod.
	podsByNode := func() map[string]string {
		out := k(t, s, "-n", ns, "get", "pods", "-l", "app=app", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} {.metadata.deletionTimestamp}{"\n"}{end}`)
		m := map[string]string{}
		for _, l := range lines(out) {
			f := strings.Fields(l)
			if len(f) == 3 && f[2] == "Running" {
				m[f[1]] = f[0]
			}
		}
		return m
	}
	waitRunning := func(want int) map[string]string {
		var m map[string]string
		eventually(t, 60*time.Second, func() error {
			m = podsByNode()
			if len(m) != want {
				return fmt.Errorf("%d app pods running, want %d: %v", len(m), want, m)
			}
			return nil
		})
		return m
	}
	before := waitRunning(3)
	var victim string
	for node := range before {
		victim = node
		break
	}
	victimPod := before[victim]

	t.Run("SilentNodeIsMarkedAndItsPodsEvicted", func(t *testing.T) {
		silence := filepath.Join(dir, "hollow", victim, "silence")
		if err := os.WriteFile(silence, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, func() error {
			out := k(t, s, "get", "node", victim, "--no-headers")
			if !strings.Contains(out, "NotReady") {
				return fmt.Errorf("node: %s", out)
			}
			return nil
		})
		taints := k(t, s, "get", "node", victim, "-o", `jsonpath={range .spec.taints[*]}{.key}:{.effect}{" "}{end}`)
		if !strings.Contains(taints, "node.kubernetes.io/unreachable:NoExecute") || !strings.Contains(taints, "node.kubernetes.io/unreachable:NoSchedule") {
			t.Fatalf("taints of the silent node: %q", taints)
		}
		desc := k(t, s, "describe", "node", victim)
		if !strings.Contains(desc, "NodeStatusUnknown") || !strings.Contains(desc, "Kubelet stopped posting node status.") {
			t.Fatalf("describe node does not show the Unknown condition:\n%s", desc)
		}
		// The pod goes (its 2s toleration runs out) and a replacement runs elsewhere.
		eventually(t, 60*time.Second, func() error {
			if _, _, err := s.Kubectl("-n", ns, "get", "pod", victimPod); err == nil {
				return fmt.Errorf("pod %s still exists", victimPod)
			}
			m := podsByNode()
			if len(m) != 3 || m[victim] != "" {
				return fmt.Errorf("running: %v", m)
			}
			return nil
		})
		ev := k(t, s, "-n", ns, "get", "events", "--field-selector", "reason=TaintManagerEviction", "-o", "jsonpath={.items[*].involvedObject.name}")
		if !strings.Contains(ev, victimPod) {
			t.Fatalf("no TaintManagerEviction event for %s: %q", victimPod, ev)
		}
		// Back again: Ready, untainted.
		if err := os.Remove(silence); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, func() error {
			if st := nodeReadiness(t, s)[victim]; st != "True" {
				return fmt.Errorf("node %s Ready=%s", victim, st)
			}
			if taints := k(t, s, "get", "node", victim, "-o", "jsonpath={.spec.taints}"); taints != "" {
				return fmt.Errorf("taints still there: %s", taints)
			}
			return nil
		})
	})

	t.Run("DrainHonoursDisruptionBudgetsAndMovesPods", func(t *testing.T) {
		running := waitRunning(3)
		var target string
		for node := range running {
			target = node
			break
		}
		// A DaemonSet pod on the node stays; --ignore-daemonsets lets drain go on.
		createIn(t, s, ns, `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: ds}}
  template:
    metadata: {labels: {app: ds}}
    spec:
      tolerations: [{operator: Exists}]
      containers: [{name: c, image: busybox:1.36}]
`)
		// The DaemonSet controller puts a pod on the node; without one, the test
		// makes that pod itself.
		dsPod := ""
		dsDeadline := time.Now().Add(15 * time.Second)
		for dsPod == "" && time.Now().Before(dsDeadline) {
			out := k(t, s, "-n", ns, "get", "pods", "-l", "app=ds", "--field-selector", "spec.nodeName="+target, "-o", "jsonpath={.items[*].metadata.name}")
			if f := strings.Fields(out); len(f) > 0 {
				dsPod = f[0]
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if dsPod == "" {
			dsUID := k(t, s, "-n", ns, "get", "ds", "agent", "-o", "jsonpath={.metadata.uid}")
			dsPod = "ds-on-target"
			createIn(t, s, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: ds-on-target
  labels: {app: ds}
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: agent, uid: %s, controller: true}]
spec:
  nodeName: %s
  tolerations: [{operator: Exists}]
  containers: [{name: c, image: busybox:1.36}]
`, dsUID, target))
		}

		// A budget that allows no disruption blocks the drain. Its status is what
		// the disruption controller would compute (3 healthy, 3 needed), written
		// here too in case that controller does not run.
		createIn(t, s, ns, `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: app}
spec:
  minAvailable: 3
  selector: {matchLabels: {app: app}}
`)
		setBudget := func(allowed int) {
			k(t, s, "-n", ns, "patch", "pdb", "app", "--subresource=status", "--type=merge", "-p",
				fmt.Sprintf(`{"status":{"observedGeneration":%s,"disruptionsAllowed":%d,"currentHealthy":3,"desiredHealthy":%d,"expectedPods":3}}`,
					k(t, s, "-n", ns, "get", "pdb", "app", "-o", "jsonpath={.metadata.generation}"), allowed, 3-allowed))
		}
		setBudget(0)
		out, errOut, err := s.Kubectl("drain", target, "--ignore-daemonsets", "--timeout", "6s")
		if err == nil || !strings.Contains(out+errOut, "disruption budget") {
			t.Fatalf("drain with a budget allowing nothing: err=%v\n%s%s", err, out, errOut)
		}
		if _, _, err := s.Kubectl("-n", ns, "get", "pod", running[target]); err != nil {
			t.Fatalf("the budget did not protect pod %s: %v", running[target], err)
		}
		if out := k(t, s, "get", "node", target, "--no-headers"); !strings.Contains(out, "SchedulingDisabled") {
			t.Fatalf("drain did not cordon the node: %s", out)
		}

		// With room for one disruption the drain goes through; the pod moves.
		k(t, s, "-n", ns, "patch", "pdb", "app", "--type=merge", "-p", `{"spec":{"minAvailable":2}}`)
		setBudget(1)
		out, errOut, err = s.Kubectl("drain", target, "--ignore-daemonsets", "--timeout", "60s")
		if err != nil || !strings.Contains(out, "evicted") || !strings.Contains(out+errOut, "drained") {
			t.Fatalf("drain: %v\n%s%s", err, out, errOut)
		}
		if !strings.Contains(out+errOut, "ignoring DaemonSet-managed Pods") || !strings.Contains(out+errOut, dsPod) {
			t.Fatalf("drain did not say it left the DaemonSet pod %s:\n%s%s", dsPod, out, errOut)
		}
		if _, _, err := s.Kubectl("-n", ns, "get", "pod", dsPod); err != nil {
			t.Fatalf("the DaemonSet pod %s was evicted", dsPod)
		}
		after := waitRunning(3)
		if after[target] != "" {
			t.Fatalf("a pod still runs on the drained node: %v", after)
		}
		// Uncordon: the node takes pods again.
		k(t, s, "uncordon", target)
		if out := k(t, s, "get", "node", target, "--no-headers"); strings.Contains(out, "SchedulingDisabled") {
			t.Fatalf("uncordon: %s", out)
		}
	})
}

// TestUserCertificateSigned: a client certificate request for a user stays
// Pending until a person approves it, then the cluster CA signs it and the
// certificate works as that user.
func TestUserCertificateSigned(t *testing.T) {
	s := shared
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "jane", Organization: []string{"devs"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("jane-%d", time.Now().UnixNano()%100000)
	req := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	createIn(t, s, "default", fmt.Sprintf(`apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: %s}
spec:
  request: %s
  signerName: kubernetes.io/kube-apiserver-client
  expirationSeconds: 3600
  usages: [client auth, digital signature]
`, name, req))
	t.Cleanup(func() { _, _, _ = s.Kubectl("delete", "csr", name) })
	time.Sleep(time.Second)
	if out := k(t, s, "get", "csr", name, "--no-headers"); !strings.Contains(out, "Pending") {
		t.Fatalf("a user certificate request was decided without a person: %s", out)
	}
	k(t, s, "certificate", "approve", name)
	var certPEM []byte
	eventually(t, 30*time.Second, func() error {
		b64 := k(t, s, "get", "csr", name, "-o", "jsonpath={.status.certificate}")
		if b64 == "" {
			return fmt.Errorf("not issued yet: %s", k(t, s, "get", "csr", name, "--no-headers"))
		}
		certPEM, err = base64.StdEncoding.DecodeString(b64)
		return err
	})
	if out := k(t, s, "get", "csr", name, "--no-headers"); !strings.Contains(out, "Approved,Issued") {
		t.Fatalf("csr: %s", out)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "jane" || cert.NotAfter.Sub(cert.NotBefore) > 2*time.Hour+time.Minute {
		t.Fatalf("issued certificate: CN %q, valid %s", cert.Subject.CommonName, cert.NotAfter.Sub(cert.NotBefore))
	}
	// The certificate speaks as jane.
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "jane.crt"), filepath.Join(dir, "jane.key")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	kc := filepath.Join(dir, "kubeconfig")
	kcText := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %s, certificate-authority: %s}}]
users: [{name: jane, user: {client-certificate: %s, client-key: %s}}]
contexts: [{name: c, context: {cluster: c, user: jane}}]
current-context: c
`, s.URL, filepath.Join(s.Dir, "data", "pki", "ca.crt"), certFile, keyFile)
	if err := os.WriteFile(kc, []byte(kcText), 0o600); err != nil {
		t.Fatal(err)
	}
	if who, err := kubectlAs(s, kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); err != nil || who != "jane" {
		t.Fatalf("the signed certificate speaks as %q (%v)", who, err)
	}
}
