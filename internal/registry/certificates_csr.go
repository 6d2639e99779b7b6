package registry

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RequestingUser is who sent a request, as a CertificateSigningRequest records it.
type RequestingUser struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// RequestUserInfo returns the user a request's context carries. The authentication
// package sets it at start (it imports this package, so this package cannot ask it).
var RequestUserInfo func(ctx context.Context) (RequestingUser, bool)

// LegacyUnknownSigner may not be requested through certificates.k8s.io/v1.
const LegacyUnknownSigner = "kubernetes.io/legacy-unknown"

// minCSRDuration is the shortest certificate lifetime a request may ask for.
const minCSRDuration = 600

// CertificateSigningRequests are cluster-scoped; the server sets spec.username,
// uid, groups and extra from the requester, and spec never changes after create.
// Approval (the Approved/Denied conditions) goes through the /approval subresource,
// which the API server serves; status writes keep the approval conditions as stored.
func init() {
	register(&Resource{
		Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests", Kind: "CertificateSigningRequest",
		ShortNames: []string{"csr"},
		New:        func() runtime.Object { return &certificatesv1.CertificateSigningRequest{} },
		NewList:    func() runtime.Object { return &certificatesv1.CertificateSigningRequestList{} },
		Status:     true,
		Subresources: map[string]*SubresourceRules{"approval": {
			Prepare: func(_ context.Context, obj, old runtime.Object) {
				PrepareCSRApproval(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest), time.Now())
			},
			Validate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				return ValidateCSRApproval(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest))
			},
		}},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"spec.signerName": obj.(*certificatesv1.CertificateSigningRequest).Spec.SignerName}
		},
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				csr := obj.(*certificatesv1.CertificateSigningRequest)
				for i := range csr.Status.Conditions {
					if csr.Status.Conditions[i].Status == "" {
						csr.Status.Conditions[i].Status = corev1.ConditionTrue
					}
				}
			},
			PrepareForCreate: func(ctx context.Context, obj runtime.Object) {
				csr := obj.(*certificatesv1.CertificateSigningRequest)
				s := &csr.Spec
				s.Username, s.UID, s.Groups, s.Extra = "", "", nil, nil
				if RequestUserInfo == nil {
					return
				}
				if u, ok := RequestUserInfo(ctx); ok {
					s.Username, s.UID, s.Groups = u.Name, u.UID, append([]string(nil), u.Groups...)
					if len(u.Extra) > 0 {
						s.Extra = map[string]certificatesv1.ExtraValue{}
						for k, v := range u.Extra {
							s.Extra[k] = append(certificatesv1.ExtraValue(nil), v...)
						}
					}
				}
			},
			PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
				obj.(*certificatesv1.CertificateSigningRequest).Spec = *old.(*certificatesv1.CertificateSigningRequest).Spec.DeepCopy()
			},
			PrepareForStatusUpdate: func(_ context.Context, obj, old runtime.Object) {
				n, o := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
				n.Status.Conditions = KeepApprovalConditions(n.Status.Conditions, o.Status.Conditions)
				StampCSRConditions(n, o, time.Now())
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateCSR(obj.(*certificatesv1.CertificateSigningRequest))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				return validateCSRStatus(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest))
			},
		},
		Columns: []metav1.TableColumnDefinition{
			extNameColumn("certificate signing request"),
			extAgeColumn("certificate signing request"),
			{Name: "SignerName", Type: "string", Description: "The signer asked to issue the certificate."},
			{Name: "Requestor", Type: "string", Description: "The user who made the request."},
			{Name: "RequestedDuration", Type: "string", Description: "Lifetime asked for the certificate."},
			{Name: "Condition", Type: "string", Description: "Pending, Approved or Denied, then Failed and Issued."},
		},
		Row: func(obj runtime.Object) []interface{} {
			csr := obj.(*certificatesv1.CertificateSigningRequest)
			dur := "<none>"
			if e := csr.Spec.ExpirationSeconds; e != nil {
				dur = duration.HumanDuration(time.Duration(*e) * time.Second)
			}
			return []interface{}{csr.Name, Age(csr.CreationTimestamp), csr.Spec.SignerName, csr.Spec.Username, dur, CSRConditionText(csr)}
		},
	})
}

func isApprovalCondition(t certificatesv1.RequestConditionType) bool {
	return t == certificatesv1.CertificateApproved || t == certificatesv1.CertificateDenied
}

// KeepApprovalConditions returns the conditions of a status write with the
// Approved/Denied ones taken from the stored object: those change only through
// /approval. The approval subresource does the reverse.
func KeepApprovalConditions(in, stored []certificatesv1.CertificateSigningRequestCondition) []certificatesv1.CertificateSigningRequestCondition {
	var out []certificatesv1.CertificateSigningRequestCondition
	for _, c := range in {
		if !isApprovalCondition(c.Type) {
			out = append(out, c)
		}
	}
	for _, c := range stored {
		if isApprovalCondition(c.Type) {
			out = append(out, c)
		}
	}
	return out
}

// StampCSRConditions sets the update and transition times a writer left out.
func StampCSRConditions(csr, old *certificatesv1.CertificateSigningRequest, now time.Time) {
	t := metav1.NewTime(now.Truncate(time.Second))
	for i := range csr.Status.Conditions {
		c := &csr.Status.Conditions[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = t
		}
		if !c.LastTransitionTime.IsZero() {
			continue
		}
		c.LastTransitionTime = t
		if old == nil {
			continue
		}
		for _, oc := range old.Status.Conditions {
			if oc.Type == c.Type && oc.Status == c.Status && !oc.LastTransitionTime.IsZero() {
				c.LastTransitionTime = oc.LastTransitionTime
			}
		}
	}
}

// CSRConditionText summarises a request as kubectl shows it: "Pending", "Approved",
// "Denied", followed by ",Failed" and ",Issued" when they apply.
func CSRConditionText(csr *certificatesv1.CertificateSigningRequest) string {
	var approved, denied, failed bool
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	s := "Pending"
	switch {
	case denied:
		s = "Denied"
	case approved:
		s = "Approved"
	}
	if failed {
		s += ",Failed"
	}
	if len(csr.Status.Certificate) > 0 {
		s += ",Issued"
	}
	return s
}

var csrUsages = sets.New(
	certificatesv1.UsageSigning, certificatesv1.UsageDigitalSignature, certificatesv1.UsageContentCommitment,
	certificatesv1.UsageKeyEncipherment, certificatesv1.UsageKeyAgreement, certificatesv1.UsageDataEncipherment,
	certificatesv1.UsageCertSign, certificatesv1.UsageCRLSign, certificatesv1.UsageEncipherOnly, certificatesv1.UsageDecipherOnly,
	certificatesv1.UsageAny, certificatesv1.UsageServerAuth, certificatesv1.UsageClientAuth, certificatesv1.UsageCodeSigning,
	certificatesv1.UsageEmailProtection, certificatesv1.UsageSMIME, certificatesv1.UsageIPsecEndSystem, certificatesv1.UsageIPsecTunnel,
	certificatesv1.UsageIPsecUser, certificatesv1.UsageTimestamping, certificatesv1.UsageOCSPSigning, certificatesv1.UsageMicrosoftSGC,
	certificatesv1.UsageNetscapeSGC,
)

func validateCSR(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
	s := &csr.Spec
	p := field.NewPath("spec")
	var errs field.ErrorList
	rp := p.Child("request")
	if len(s.Request) == 0 {
		errs = append(errs, field.Required(rp, ""))
	} else if err := checkCSRRequest(s.Request); err != nil {
		errs = append(errs, field.Invalid(rp, "", err.Error()))
	}
	sp := p.Child("signerName")
	switch {
	case s.SignerName == "":
		errs = append(errs, field.Required(sp, ""))
	case s.SignerName == LegacyUnknownSigner:
		errs = append(errs, field.Invalid(sp, s.SignerName, "the legacy signer may not be requested through certificates.k8s.io/v1"))
	case len(s.SignerName) > 571:
		errs = append(errs, field.TooLong(sp, "", 571))
	default:
		errs = append(errs, validation.IsDomainPrefixedPath(sp, s.SignerName)...)
	}
	up := p.Child("usages")
	if len(s.Usages) == 0 {
		errs = append(errs, field.Required(up, ""))
	}
	seen := sets.New[certificatesv1.KeyUsage]()
	for i, u := range s.Usages {
		if !csrUsages.Has(u) {
			errs = append(errs, field.NotSupported(up.Index(i), u, sets.List(csrUsages)))
		}
		if seen.Has(u) {
			errs = append(errs, field.Duplicate(up.Index(i), u))
		}
		seen.Insert(u)
	}
	if e := s.ExpirationSeconds; e != nil && *e < minCSRDuration {
		errs = append(errs, field.Invalid(p.Child("expirationSeconds"), *e, fmt.Sprintf("may not specify a duration less than %d seconds (10 minutes)", minCSRDuration)))
	}
	return errs
}

// checkCSRRequest checks a PEM-encoded PKCS#10 request and its signature.
func checkCSRRequest(b []byte) error {
	block, _ := pem.Decode(b)
	if block == nil || (block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST") {
		return fmt.Errorf("must be a PEM block of type CERTIFICATE REQUEST")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return fmt.Errorf("cannot parse the certificate request: %v", err)
	}
	if err := req.CheckSignature(); err != nil {
		return fmt.Errorf("the certificate request signature does not verify: %v", err)
	}
	return nil
}

func validateCSRStatus(n, o *certificatesv1.CertificateSigningRequest) field.ErrorList {
	p := field.NewPath("status")
	var errs field.ErrorList
	seen := map[certificatesv1.RequestConditionType]bool{}
	for i, c := range n.Status.Conditions {
		cp := p.Child("conditions").Index(i)
		if c.Type == "" {
			errs = append(errs, field.Required(cp.Child("type"), ""))
		}
		switch c.Status {
		case corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown:
		default:
			errs = append(errs, field.NotSupported(cp.Child("status"), c.Status,
				[]string{string(corev1.ConditionFalse), string(corev1.ConditionTrue), string(corev1.ConditionUnknown)}))
		}
		switch c.Type {
		case certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			if seen[c.Type] {
				errs = append(errs, field.Duplicate(cp.Child("type"), c.Type))
			}
			seen[c.Type] = true
		}
	}
	if seen[certificatesv1.CertificateApproved] && seen[certificatesv1.CertificateDenied] {
		errs = append(errs, field.Invalid(p.Child("conditions"), field.OmitValueType{}, "Approved and Denied conditions are mutually exclusive"))
	}
	cp := p.Child("certificate")
	if len(n.Status.Certificate) > 0 {
		if err := checkCertificateChain(n.Status.Certificate); err != nil {
			errs = append(errs, field.Invalid(cp, "<certificate data>", err.Error()))
		}
		if len(o.Status.Certificate) > 0 && string(o.Status.Certificate) != string(n.Status.Certificate) {
			errs = append(errs, field.Forbidden(cp, "updates may not modify existing certificate content"))
		}
		if seen[certificatesv1.CertificateDenied] || seen[certificatesv1.CertificateFailed] {
			errs = append(errs, field.Forbidden(cp, "may not be set on a denied or failed request"))
		}
	} else if len(o.Status.Certificate) > 0 {
		errs = append(errs, field.Forbidden(cp, "updates may not remove existing certificate content"))
	}
	return errs
}

// checkCertificateChain accepts only PEM CERTIFICATE blocks that parse.
func checkCertificateChain(b []byte) error {
	n := 0
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("only CERTIFICATE PEM blocks are allowed, found %q", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("cannot parse certificate %d: %v", n, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("must contain at least one CERTIFICATE PEM block")
	}
	return nil
}

// PrepareCSRApproval readies a write to the /approval subresource: only the
// Approved and Denied conditions come from the request; spec, the certificate and
// the other conditions stay as stored.
func PrepareCSRApproval(csr, old *certificatesv1.CertificateSigningRequest, now time.Time) {
	csr.Spec = *old.Spec.DeepCopy()
	csr.Status.Certificate = old.Status.Certificate
	csr.Status.Conditions = KeepApprovalConditions(old.Status.Conditions, csr.Status.Conditions)
	for i := range csr.Status.Conditions {
		if csr.Status.Conditions[i].Status == "" {
			csr.Status.Conditions[i].Status = corev1.ConditionTrue
		}
	}
	StampCSRConditions(csr, old, now)
}

// ValidateCSRApproval checks a write to /approval: the conditions must be valid and
// a decision once made cannot be taken back.
func ValidateCSRApproval(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	errs := validateCSRStatus(csr, old)
	for _, oc := range old.Status.Conditions {
		if !isApprovalCondition(oc.Type) {
			continue
		}
		kept := false
		for _, c := range csr.Status.Conditions {
			kept = kept || c.Type == oc.Type
		}
		if !kept {
			errs = append(errs, field.Forbidden(field.NewPath("status", "conditions"), fmt.Sprintf("the %s condition may not be removed", oc.Type)))
		}
	}
	return errs
}
