package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

const deployV1 = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
      - name: sidecar
        image: busybox:1.36
        command: ["sleep", "3600"]
`

// TestApplyFlow is what users do with manifests: apply creates, a changed manifest
// is applied as a strategic merge patch (containers merged by name), and applying
// the same manifest again changes nothing.
func TestApplyFlow(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	out, errOut, err := kStdin(t, s, deployV1, "-n", ns, "apply", "-f", "-")
	if err != nil || !strings.Contains(out, "deployment.apps/web created") {
		t.Fatalf("first apply: %v %s %s", err, out, errOut)
	}
	gen1 := k(t, s, "-n", ns, "get", "deploy", "web", "-o", "jsonpath={.metadata.generation}")
	v2 := strings.Replace(deployV1, "nginx:1.25", "nginx:1.26", 1)
	out, errOut, err = kStdin(t, s, v2, "-n", ns, "apply", "-f", "-")
	if err != nil || !strings.Contains(out, "deployment.apps/web configured") {
		t.Fatalf("changed apply: %v %s %s", err, out, errOut)
	}
	images := k(t, s, "-n", ns, "get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[*].image}")
	if images != "nginx:1.26 busybox:1.36" {
		t.Fatalf("images after apply: %q", images)
	}
	if gen2 := k(t, s, "-n", ns, "get", "deploy", "web", "-o", "jsonpath={.metadata.generation}"); gen2 == gen1 {
		t.Fatalf("generation did not change on a spec change (%s)", gen2)
	}
	rv := k(t, s, "-n", ns, "get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion}")
	out, errOut, err = kStdin(t, s, v2, "-n", ns, "apply", "-f", "-")
	if err != nil || !strings.Contains(out, "deployment.apps/web unchanged") {
		t.Fatalf("unchanged apply: %v %s %s", err, out, errOut)
	}
	if rv2 := k(t, s, "-n", ns, "get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion}"); rv2 != rv {
		t.Fatalf("unchanged apply wrote the object (%s -> %s)", rv, rv2)
	}
	// Defaults a user sees.
	y := k(t, s, "-n", ns, "get", "deploy", "web", "-o", "yaml")
	for _, want := range []string{"revisionHistoryLimit: 10", "progressDeadlineSeconds: 600", "maxSurge: 25%", "maxUnavailable: 25%",
		"type: RollingUpdate", "restartPolicy: Always", "dnsPolicy: ClusterFirst", "terminationGracePeriodSeconds: 30", "imagePullPolicy: IfNotPresent"} {
		if !strings.Contains(y, want) {
			t.Errorf("deployment yaml lacks %q", want)
		}
	}
	// Scale through the scale subresource.
	k(t, s, "-n", ns, "scale", "deploy", "web", "--replicas=5")
	if got := k(t, s, "-n", ns, "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"); got != "5" {
		t.Fatalf("replicas after scale: %s", got)
	}
	tbl := lines(k(t, s, "-n", ns, "get", "deploy"))
	if !strings.Contains(tbl[0], "READY") || !strings.Contains(tbl[0], "UP-TO-DATE") || !strings.Contains(tbl[0], "AVAILABLE") {
		t.Fatalf("deployment table header: %s", tbl[0])
	}
	wide := lines(k(t, s, "-n", ns, "get", "deploy", "-o", "wide"))
	if !strings.Contains(wide[0], "CONTAINERS") || !strings.Contains(wide[1], "nginx,sidecar") || !strings.Contains(wide[1], "app=web") {
		t.Fatalf("deployment wide table:\n%s", strings.Join(wide, "\n"))
	}
}

func TestServerSideApply(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	out, errOut, err := kStdin(t, s, deployV1, "-n", ns, "apply", "--server-side", "-f", "-")
	if err != nil || !strings.Contains(out, "serverside-applied") {
		t.Fatalf("server-side apply: %v %s %s", err, out, errOut)
	}
	// A second manager changing a field it does not own conflicts.
	v2 := strings.Replace(deployV1, "replicas: 2", "replicas: 3", 1)
	_, errOut, err = kStdin(t, s, v2, "-n", ns, "apply", "--server-side", "--field-manager=other", "-f", "-")
	if err == nil || !strings.Contains(errOut, "conflict") {
		t.Fatalf("conflicting apply: %v %s", err, errOut)
	}
	_, errOut, err = kStdin(t, s, v2, "-n", ns, "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-")
	if err != nil {
		t.Fatalf("forced apply: %v %s", err, errOut)
	}
	if got := k(t, s, "-n", ns, "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"); got != "3" {
		t.Fatalf("replicas after forced apply: %s", got)
	}
	mf := k(t, s, "-n", ns, "get", "deploy", "web", "-o", "jsonpath={.metadata.managedFields[*].manager}", "--show-managed-fields")
	if !strings.Contains(mf, "kubectl") || !strings.Contains(mf, "other") {
		t.Fatalf("managers: %q", mf)
	}
}

func TestCreateGeneratorsUseProtobuf(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	k(t, s, "-n", ns, "create", "deployment", "gen", "--image=nginx", "--replicas=2")
	k(t, s, "-n", ns, "create", "secret", "generic", "sec", "--from-literal=password=s3cret")
	k(t, s, "-n", ns, "create", "serviceaccount", "robot")
	k(t, s, "-n", ns, "create", "job", "once", "--image=busybox", "--", "true")
	k(t, s, "-n", ns, "create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--", "true")
	k(t, s, "-n", ns, "create", "service", "clusterip", "svc", "--tcp=80:8080")
	k(t, s, "-n", ns, "create", "role", "reader", "--verb=get,list", "--resource=pods")
	k(t, s, "-n", ns, "create", "rolebinding", "reader", "--role=reader", "--user=jane")
	k(t, s, "-n", ns, "create", "pdb", "gen", "--selector=app=gen", "--min-available=1")
	k(t, s, "-n", ns, "create", "quota", "q", "--hard=pods=10")
	out := k(t, s, "-n", ns, "get", "all")
	for _, want := range []string{"deployment.apps/gen", "service/svc", "job.batch/once", "cronjob.batch/tick"} {
		if !strings.Contains(out, want) {
			t.Errorf("get all lacks %s:\n%s", want, out)
		}
	}
	if got := k(t, s, "-n", ns, "get", "secret", "sec", "-o", "jsonpath={.data.password}"); got != "czNjcmV0" {
		t.Fatalf("secret data: %q", got)
	}
	svc := k(t, s, "-n", ns, "get", "svc", "svc", "-o", "jsonpath={.spec.clusterIP}")
	if !strings.HasPrefix(svc, "10.") {
		t.Fatalf("service has no cluster IP: %q", svc)
	}
	if got := k(t, s, "-n", ns, "get", "job", "once", "-o", "jsonpath={.spec.template.spec.restartPolicy}"); got != "Never" {
		t.Fatalf("job restartPolicy: %q", got)
	}
}

func TestPodsTableAndDescribe(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	k(t, s, "-n", ns, "run", "nginx", "--image=nginx")
	tbl := lines(k(t, s, "-n", ns, "get", "pods"))
	if tbl[0] != "NAME    READY   STATUS    RESTARTS   AGE" || !strings.HasPrefix(tbl[1], "nginx   0/1     Pending   0") {
		t.Fatalf("pods table:\n%s", strings.Join(tbl, "\n"))
	}
	wide := lines(k(t, s, "-n", ns, "get", "pods", "-o", "wide"))
	for _, col := range []string{"IP", "NODE", "NOMINATED NODE", "READINESS GATES"} {
		if !strings.Contains(wide[0], col) {
			t.Errorf("wide header lacks %s: %s", col, wide[0])
		}
	}
	all := lines(k(t, s, "get", "pods", "-A"))
	if !strings.HasPrefix(all[0], "NAMESPACE") {
		t.Fatalf("-A header: %s", all[0])
	}
	y := k(t, s, "-n", ns, "get", "pod", "nginx", "-o", "yaml")
	for _, want := range []string{"restartPolicy: Always", "dnsPolicy: ClusterFirst", "terminationGracePeriodSeconds: 30",
		"imagePullPolicy: Always", "schedulerName: default-scheduler", "phase: Pending", "qosClass: BestEffort",
		"serviceAccountName: default", "tolerationSeconds: 300"} {
		if !strings.Contains(y, want) {
			t.Errorf("pod yaml lacks %q", want)
		}
	}
	d := k(t, s, "-n", ns, "describe", "pod", "nginx")
	if !strings.Contains(d, "Name:") || !strings.Contains(d, "nginx") || !strings.Contains(d, "Status:") {
		t.Fatalf("describe:\n%s", d)
	}
	if got := k(t, s, "-n", ns, "get", "pods", "-o", "name"); strings.TrimSpace(got) != "pod/nginx" {
		t.Fatalf("-o name: %q", got)
	}
	// An unscheduled pod is deleted at once.
	k(t, s, "-n", ns, "delete", "pod", "nginx", "--timeout=20s")
}

func TestStatusAndSpecAreWrittenSeparately(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	cs := clientset(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k(t, s, "-n", ns, "create", "deployment", "sep", "--image=nginx")
	// The deployment controller writes the object too: start again on conflicts.
	var d *appsv1.Deployment
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cs.AppsV1().Deployments(ns).Get(ctx, "sep", metav1.GetOptions{})
		if err != nil {
			return err
		}
		// Status written through the main resource is ignored.
		cur.Status.Replicas = 42
		d, err = cs.AppsV1().Deployments(ns).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil || d.Status.Replicas == 42 {
		t.Fatalf("main update changed status: %v %d", err, d.Status.Replicas)
	}
	// Spec written through /status is ignored; status is kept.
	var gen int64
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cs.AppsV1().Deployments(ns).Get(ctx, "sep", metav1.GetOptions{})
		if err != nil {
			return err
		}
		gen = cur.Generation
		cur.Status.Replicas = 7
		cur.Spec.Replicas = ptr(int32(9))
		d, err = cs.AppsV1().Deployments(ns).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil || d.Status.Replicas != 7 || *d.Spec.Replicas == 9 || d.Generation != gen {
		t.Fatalf("status update: %v status=%d spec=%d gen=%d->%d", err, d.Status.Replicas, *d.Spec.Replicas, gen, d.Generation)
	}
}

func ptr[T any](v T) *T { return &v }

func TestFinalizersAndGracefulDelete(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	cs := clientset(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k(t, s, "-n", ns, "delete", "cm", "held", "--wait=false")
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "held", metav1.GetOptions{})
	if err != nil || cm.DeletionTimestamp == nil {
		t.Fatalf("object with a finalizer should only be marked: %v %+v", err, cm)
	}
	// New finalizers cannot be added while deleting.
	cm.Finalizers = append(cm.Finalizers, "example.com/more")
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("adding a finalizer while deleting: %v", err)
	}
	// Removing the last finalizer deletes it.
	if _, err := cs.CoreV1().ConfigMaps(ns).Patch(ctx, "held", types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	// Foreground and orphan deletion leave their finalizers for the garbage collector.
	// A dependent that blocks its owner and holds a finalizer of its own keeps the
	// owner waiting, so that the garbage collector cannot finish before the look.
	k(t, s, "-n", ns, "create", "deployment", "fg", "--image=nginx")
	fgUID := k(t, s, "-n", ns, "get", "deployment", "fg", "-o", "jsonpath={.metadata.uid}")
	_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "fg-dependent", Finalizers: []string{"example.com/hold"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "fg", UID: types.UID(fgUID), BlockOwnerDeletion: ptr(true)}},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k(t, s, "-n", ns, "delete", "deployment", "fg", "--cascade=foreground", "--wait=false")
	fin := k(t, s, "-n", ns, "get", "deployment", "fg", "-o", "jsonpath={.metadata.finalizers}")
	if !strings.Contains(fin, "foregroundDeletion") {
		t.Fatalf("foreground delete finalizers: %s", fin)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Patch(ctx, "fg-dependent", types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	// Preconditions: a stale UID is a conflict.
	k(t, s, "-n", ns, "create", "configmap", "pre")
	err = cs.CoreV1().ConfigMaps(ns).Delete(ctx, "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr(types.UID("not-the-uid"))}})
	if !apierrors.IsConflict(err) {
		t.Fatalf("delete with a wrong UID precondition: %v", err)
	}
}

func TestGenerateName(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	m := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: gen-\n"
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		out, errOut, err := kStdin(t, s, m, "-n", ns, "create", "-f", "-", "-o", "name")
		if err != nil {
			t.Fatalf("%v %s", err, errOut)
		}
		name := strings.TrimSpace(out)
		if !strings.HasPrefix(name, "configmap/gen-") || len(name) != len("configmap/gen-")+5 || seen[name] {
			t.Fatalf("generated name %q", name)
		}
		seen[name] = true
	}
}

func TestBodyLimitsAndMediaTypes(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	big := strings.Repeat("x", 4<<20)
	body, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "big"}, "data": map[string]string{"k": big}})
	cs := clientset(t, s)
	err := cs.CoreV1().RESTClient().Post().Namespace(ns).Resource("configmaps").Body(body).SetHeader("Content-Type", "application/json").Do(context.Background()).Error()
	if !apierrors.IsRequestEntityTooLargeError(err) {
		t.Fatalf("4 MiB body: %v", err)
	}
	err = cs.CoreV1().RESTClient().Post().Namespace(ns).Resource("configmaps").Body([]byte("<xml/>")).SetHeader("Content-Type", "application/xml").Do(context.Background()).Error()
	if se, ok := err.(apierrors.APIStatus); !ok || se.Status().Code != 415 {
		t.Fatalf("xml body: %v", err)
	}
	err = cs.CoreV1().RESTClient().Post().Namespace(ns).Resource("configmaps").Body([]byte("{not json")).SetHeader("Content-Type", "application/json").Do(context.Background()).Error()
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("malformed json: %v", err)
	}
	// Nothing was created.
	l, err := cs.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range l.Items {
		if cm.Name == "big" {
			t.Fatal("oversized object was stored")
		}
	}
}

func TestImmutableAndInvalidUpdates(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	cs := clientset(t, s)
	ctx := context.Background()
	k(t, s, "-n", ns, "create", "deployment", "imm", "--image=nginx")
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "imm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
	d.Spec.Template.Labels = map[string]string{"app": "other"}
	// Unconditional (no resourceVersion): the deployment controller writes the
	// object too, and a conflict is not what this test is about.
	d.ResourceVersion = ""
	_, err = cs.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.selector") {
		t.Fatalf("changing an immutable selector: %v", err)
	}
	bad := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "b"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}}}
	_, err = cs.AppsV1().Deployments(ns).Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.template.metadata.labels") {
		t.Fatalf("selector not matching labels: %v", err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx",
		Ports: []corev1.ContainerPort{{ContainerPort: 70000}}}}}}
	_, err = cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.containers[0].ports[0].containerPort") {
		t.Fatalf("bad port: %v", err)
	}
}
