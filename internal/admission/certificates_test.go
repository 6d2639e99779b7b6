package admission

import (
	"context"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"tug/internal/auth"
	"tug/internal/registry"
)

type allowNames map[string]bool // "verb name" → allowed

func (a allowNames) Authorize(_ context.Context, at auth.Attributes) (auth.Decision, error) {
	return auth.Decision{Allowed: a[at.Verb+" "+at.Name]}, nil
}

func TestCSRSigners(t *testing.T) {
	csrRes := &registry.Resource{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests"}
	old := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "example.com/foo"}}
	approved := old.DeepCopy()
	approved.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
	signed := old.DeepCopy()
	signed.Status.Certificate = []byte("cert")
	cases := []struct {
		name  string
		sub   string
		obj   *certificatesv1.CertificateSigningRequest
		authz allowNames
		ok    bool
	}{
		{"approve without permission", "approval", approved, allowNames{}, false},
		{"approve with the signer", "approval", approved, allowNames{"approve example.com/foo": true}, true},
		{"approve with the domain", "approval", approved, allowNames{"approve example.com/*": true}, true},
		{"approval write that decides nothing", "approval", old.DeepCopy(), allowNames{}, true},
		{"sign without permission", "status", signed, allowNames{"approve example.com/foo": true}, false},
		{"sign with permission", "status", signed, allowNames{"sign example.com/foo": true}, true},
		{"status write without a certificate change", "status", approved, allowNames{}, true},
	}
	for _, c := range cases {
		err := CSRSigners{Authorizer: c.authz}.Admit(context.Background(), &Request{
			Operation: Update, Resource: csrRes, Subresource: c.sub, Object: c.obj, OldObject: old, User: &auth.User{Name: "u"},
		})
		if c.ok != (err == nil) || (err != nil && !apierrors.IsForbidden(err)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
