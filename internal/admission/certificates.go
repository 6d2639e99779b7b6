package admission

import (
	"context"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/auth"
)

// CSRSigners checks writes to a CertificateSigningRequest's decisions and
// certificate: approving or denying (the approval subresource) needs the approve verb
// on the signer, writing status.certificate needs the sign verb, both on the
// certificates.k8s.io "signers" resource named after the signer (or its domain/*).
type CSRSigners struct{ Authorizer auth.Authorizer }

// Admit implements Plugin.
func (p CSRSigners) Admit(ctx context.Context, r *Request) error {
	if r.Operation != Update || r.Resource.Group != certificatesv1.GroupName || r.Resource.Resource != "certificatesigningrequests" {
		return nil
	}
	csr, ok := r.Object.(*certificatesv1.CertificateSigningRequest)
	old, ok2 := r.OldObject.(*certificatesv1.CertificateSigningRequest)
	if !ok || !ok2 {
		return nil
	}
	var verb string
	switch r.Subresource {
	case "approval":
		if decisions(csr) == decisions(old) {
			return nil
		}
		verb = "approve"
	case "status":
		if string(csr.Status.Certificate) == string(old.Status.Certificate) {
			return nil
		}
		verb = "sign"
	default:
		return nil
	}
	signer := csr.Spec.SignerName
	names := []string{signer}
	if i := strings.Index(signer, "/"); i > 0 {
		names = append(names, signer[:i]+"/*")
	}
	for _, name := range names {
		d, err := p.Authorizer.Authorize(ctx, auth.Attributes{User: r.User, Verb: verb, IsResource: true,
			APIGroup: certificatesv1.GroupName, Resource: "signers", Name: name})
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		if d.Allowed {
			return nil
		}
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: certificatesv1.GroupName, Resource: "certificatesigningrequests"}, r.Name,
		fmt.Errorf("user not permitted to %s requests with signerName %q", verb, signer))
}

func decisions(csr *certificatesv1.CertificateSigningRequest) string {
	var b strings.Builder
	for _, c := range csr.Status.Conditions {
		if c.Type == certificatesv1.CertificateApproved || c.Type == certificatesv1.CertificateDenied {
			fmt.Fprintf(&b, "%s=%s;", c.Type, c.Status)
		}
	}
	return b.String()
}
