package certificates

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"tug/internal/controller"
)

type reqSpec struct {
	cn     string
	orgs   []string
	dns    []string
	ips    []string
	emails []string
}

func makeRequest(t *testing.T, r reqSpec) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: r.cn, Organization: r.orgs}, DNSNames: r.dns, EmailAddresses: r.emails}
	for _, ip := range r.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

var (
	dsCA = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	node = reqSpec{cn: "system:node:n1", orgs: []string{"system:nodes"}}
)

func csrOf(t *testing.T, name, signer, user string, groups []string, usages []certificatesv1.KeyUsage, r reqSpec) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: makeRequest(t, r), SignerName: signer, Usages: usages, Username: user, Groups: groups,
		},
	}
}

func TestApprovalKind(t *testing.T) {
	boot := []string{"system:bootstrappers", "system:authenticated"}
	nodes := []string{"system:nodes", "system:authenticated"}
	cases := []struct {
		name   string
		signer string
		user   string
		groups []string
		usages []certificatesv1.KeyUsage
		req    reqSpec
		want   string
		ok     bool
	}{
		{"bootstrapper asks for a node", certificatesv1.KubeAPIServerClientKubeletSignerName, "system:bootstrap:tug", boot, dsCA, node, "nodeclient", true},
		{"node renews itself", certificatesv1.KubeAPIServerClientKubeletSignerName, "system:node:n1", nodes, dsCA, node, "selfnodeclient", true},
		{"node asks for another node", certificatesv1.KubeAPIServerClientKubeletSignerName, "system:node:n2", nodes, dsCA, node, "nodeclient", true},
		{"key encipherment allowed", certificatesv1.KubeAPIServerClientKubeletSignerName, "u", boot,
			[]certificatesv1.KeyUsage{certificatesv1.UsageKeyEncipherment, certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, node, "nodeclient", true},
		{"other signer", certificatesv1.KubeAPIServerClientSignerName, "u", boot, dsCA, node, "", false},
		{"wrong common name", certificatesv1.KubeAPIServerClientKubeletSignerName, "u", boot, dsCA, reqSpec{cn: "n1", orgs: []string{"system:nodes"}}, "", false},
		{"empty node name", certificatesv1.KubeAPIServerClientKubeletSignerName, "u", boot, dsCA, reqSpec{cn: "system:node:", orgs: []string{"system:nodes"}}, "", false},
		{"extra organization", certificatesv1.KubeAPIServerClientKubeletSignerName, "u", boot, dsCA, reqSpec{cn: "system:node:n1", orgs: []string{"system:nodes", "system:masters"}}, "", false},
		{"masters only", certificatesv1.KubeAPIServerClientKubeletSignerName, "u", boot, dsCA, reqSpec{cn: "system:node:n1", orgs: []string{"system:masters"}}, "", false},
		{"with a DNS name", certificatesv1.KubeAPIServerClientKubeletSignerName, "u", boot, dsCA, reqSpec{cn: "system:node:n1", orgs: []string{"system:nodes"}, dns: []string{"x"}}, "", false},
		{"with an IP", certificatesv1.KubeAPIServerClientKubeletSignerName, "u", boot, dsCA, reqSpec{cn: "system:node:n1", orgs: []string{"system:nodes"}, ips: []string{"10.0.0.1"}}, "", false},
		{"server auth usage", certificatesv1.KubeAPIServerClientKubeletSignerName, "u", boot,
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth, certificatesv1.UsageServerAuth}, node, "", false},
		{"no client auth", certificatesv1.KubeAPIServerClientKubeletSignerName, "u", boot,
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature}, node, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			csr := csrOf(t, "c", tc.signer, tc.user, tc.groups, tc.usages, tc.req)
			r, err := parseRequest(csr)
			if err != nil {
				t.Fatal(err)
			}
			kind, ok := approvalKind(csr, r)
			if kind != tc.want || ok != tc.ok {
				t.Fatalf("approvalKind = %q, %v; want %q, %v", kind, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestSignerRules(t *testing.T) {
	serving := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	cases := []struct {
		name   string
		signer string
		usages []certificatesv1.KeyUsage
		req    reqSpec
		ok     bool
	}{
		{"node client", certificatesv1.KubeAPIServerClientKubeletSignerName, dsCA, node, true},
		{"node client with SAN", certificatesv1.KubeAPIServerClientKubeletSignerName, dsCA, reqSpec{cn: "system:node:n1", orgs: []string{"system:nodes"}, emails: []string{"a@b"}}, false},
		{"user client", certificatesv1.KubeAPIServerClientSignerName, dsCA, reqSpec{cn: "jane", orgs: []string{"dev"}}, true},
		{"user client without name", certificatesv1.KubeAPIServerClientSignerName, dsCA, reqSpec{}, false},
		{"user client asking to serve", certificatesv1.KubeAPIServerClientSignerName, serving, reqSpec{cn: "jane"}, false},
		{"node serving", certificatesv1.KubeletServingSignerName, serving, reqSpec{cn: "system:node:n1", orgs: []string{"system:nodes"}, dns: []string{"n1"}, ips: []string{"10.0.0.5"}}, true},
		{"node serving without names", certificatesv1.KubeletServingSignerName, serving, node, false},
		{"node serving for a user", certificatesv1.KubeletServingSignerName, serving, reqSpec{cn: "jane", dns: []string{"n1"}}, false},
		{"node serving as client", certificatesv1.KubeletServingSignerName, dsCA, reqSpec{cn: "system:node:n1", orgs: []string{"system:nodes"}, dns: []string{"n1"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			csr := csrOf(t, "c", tc.signer, "u", nil, tc.usages, tc.req)
			r, err := parseRequest(csr)
			if err != nil {
				t.Fatal(err)
			}
			err = signerRules[tc.signer](csr, r)
			if (err == nil) != tc.ok {
				t.Fatalf("check = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// harness runs both controllers' reconciles over a fake client.
type harness struct {
	client   *fake.Clientset
	ctx      *controller.Context
	approver *Approver
	signer   *Signer
	signed   []controller.CertificateRequest
	sars     []authorizationv1.SubjectAccessReviewSpec
}

func newHarness(t *testing.T, allow func(authorizationv1.SubjectAccessReviewSpec) bool, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{client: fake.NewSimpleClientset(objs...)}
	h.client.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		h.sars = append(h.sars, sar.Spec)
		sar.Status.Allowed = allow(sar.Spec)
		return true, sar, nil
	})
	opts := controller.Options{Signer: func(r controller.CertificateRequest) ([]byte, error) {
		h.signed = append(h.signed, r)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("cert for " + r.CommonName)}), nil
	}}
	h.ctx = controller.NewTestContext(h.client, clocktesting.NewFakeClock(time.Now()), opts, record.NewFakeRecorder(10))
	h.approver = NewApprover(h.ctx)
	h.signer = NewSigner(h.ctx)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h.ctx.Informers.Start(ctx.Done())
	h.ctx.Informers.WaitForCacheSync(ctx.Done())
	return h
}

// step runs approver then signer for name, waiting for the informer to see writes.
func (h *harness) step(t *testing.T, name string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	ctx := context.Background()
	if err := h.approver.reconcile(ctx, name); err != nil {
		t.Fatalf("approve: %v", err)
	}
	cur, _ := h.client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	waitLister(t, h, cur)
	if err := h.signer.reconcile(ctx, name); err != nil {
		t.Fatalf("sign: %v", err)
	}
	out, err := h.client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitLister waits until the informer holds want (the fake client keeps no
// resource versions, so the objects are compared).
func waitLister(t *testing.T, h *harness, want *certificatesv1.CertificateSigningRequest) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := h.approver.lister.Get(want.Name); err == nil && equality.Semantic.DeepEqual(c, want) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("lister never saw the latest %s", want.Name)
}

func condition(csr *certificatesv1.CertificateSigningRequest, ty certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequestCondition {
	for i := range csr.Status.Conditions {
		if csr.Status.Conditions[i].Type == ty {
			return &csr.Status.Conditions[i]
		}
	}
	return nil
}

func TestApproveAndSign(t *testing.T) {
	// RBAC as the default policy has it: bootstrappers may ask for node client
	// certificates, nodes only for their own renewal.
	allow := func(s authorizationv1.SubjectAccessReviewSpec) bool {
		for _, g := range s.Groups {
			if g == "system:bootstrappers" && s.ResourceAttributes.Subresource == "nodeclient" {
				return true
			}
			if g == "system:nodes" && s.ResourceAttributes.Subresource == "selfnodeclient" {
				return true
			}
		}
		return false
	}
	boot := []string{"system:bootstrappers", "system:authenticated"}
	cases := []struct {
		name     string
		csr      *certificatesv1.CertificateSigningRequest
		approved bool
		signed   bool
		failed   bool
	}{
		{"join through the token", csrOf(t, "a", certificatesv1.KubeAPIServerClientKubeletSignerName, "system:bootstrap:tug", boot, dsCA, node), true, true, false},
		{"node renews itself", csrOf(t, "b", certificatesv1.KubeAPIServerClientKubeletSignerName, "system:node:n1", []string{"system:nodes"}, dsCA, node), true, true, false},
		{"node asks for another node", csrOf(t, "c", certificatesv1.KubeAPIServerClientKubeletSignerName, "system:node:n2", []string{"system:nodes"}, dsCA, node), false, false, false},
		{"anyone else", csrOf(t, "d", certificatesv1.KubeAPIServerClientKubeletSignerName, "jane", []string{"system:authenticated"}, dsCA, node), false, false, false},
		{"user certificate is left to a person", csrOf(t, "e", certificatesv1.KubeAPIServerClientSignerName, "jane", boot, dsCA, reqSpec{cn: "jane"}), false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, allow, tc.csr)
			out := h.step(t, tc.csr.Name)
			if got := condition(out, certificatesv1.CertificateApproved) != nil; got != tc.approved {
				t.Fatalf("approved = %v, want %v (conditions %+v)", got, tc.approved, out.Status.Conditions)
			}
			if got := len(out.Status.Certificate) > 0; got != tc.signed {
				t.Fatalf("signed = %v, want %v", got, tc.signed)
			}
			if tc.signed {
				r := h.signed[0]
				if r.CommonName != "system:node:n1" || len(r.Organizations) != 1 || r.Organizations[0] != "system:nodes" || !r.Client || r.Server || r.Validity != defaultValidity || r.PublicKey == nil {
					t.Fatalf("issued %+v", r)
				}
			}
		})
	}
}

func TestSignerHonoursDecisions(t *testing.T) {
	approvedCond := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}
	deniedCond := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue}
	never := func(authorizationv1.SubjectAccessReviewSpec) bool { return false }

	t.Run("approved by hand, bad subject fails", func(t *testing.T) {
		csr := csrOf(t, "x", certificatesv1.KubeAPIServerClientKubeletSignerName, "jane", nil, dsCA, reqSpec{cn: "admin", orgs: []string{"system:masters"}})
		csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{approvedCond}
		h := newHarness(t, never, csr)
		out := h.step(t, "x")
		if c := condition(out, certificatesv1.CertificateFailed); c == nil || c.Reason != "SignerValidationFailure" {
			t.Fatalf("want Failed/SignerValidationFailure, got %+v", out.Status.Conditions)
		}
		if len(out.Status.Certificate) > 0 || len(h.signed) > 0 {
			t.Fatal("signed a request the signer must refuse")
		}
	})
	t.Run("denied is never signed", func(t *testing.T) {
		csr := csrOf(t, "y", certificatesv1.KubeAPIServerClientKubeletSignerName, "system:bootstrap:tug", []string{"system:bootstrappers"}, dsCA, node)
		csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{deniedCond}
		h := newHarness(t, func(authorizationv1.SubjectAccessReviewSpec) bool { return true }, csr)
		out := h.step(t, "y")
		if len(out.Status.Certificate) > 0 || condition(out, certificatesv1.CertificateApproved) != nil || len(h.sars) > 0 {
			t.Fatalf("denied request changed: %+v", out.Status)
		}
	})
	t.Run("user certificate approved by hand, short lifetime", func(t *testing.T) {
		csr := csrOf(t, "z", certificatesv1.KubeAPIServerClientSignerName, "jane", nil, dsCA, reqSpec{cn: "jane", orgs: []string{"dev"}})
		secs := int32(3600)
		csr.Spec.ExpirationSeconds = &secs
		csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{approvedCond}
		h := newHarness(t, never, csr)
		out := h.step(t, "z")
		if len(out.Status.Certificate) == 0 || len(h.signed) != 1 || h.signed[0].Validity != time.Hour || h.signed[0].CommonName != "jane" {
			t.Fatalf("want a one-hour certificate for jane, got %+v", h.signed)
		}
	})
	t.Run("other signers are left alone", func(t *testing.T) {
		csr := csrOf(t, "w", "example.com/custom", "jane", nil, dsCA, reqSpec{cn: "jane"})
		csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{approvedCond}
		h := newHarness(t, never, csr)
		out := h.step(t, "w")
		if len(out.Status.Certificate) > 0 || len(out.Status.Conditions) != 1 {
			t.Fatalf("custom signer request changed: %+v", out.Status)
		}
	})
}
