// Package certificates approves and signs CertificateSigningRequests for the
// built-in signers. Node agents join by asking for a client certificate as
// system:node:NAME; the approver grants it when the requester may ask for one
// (a bootstrapper holding the join token, or the node renewing itself), and the
// signer issues it with the cluster CA.
package certificates

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
)

const (
	nodeUserPrefix = "system:node:"
	nodesGroup     = "system:nodes"
)

// parseRequest decodes the PKCS#10 request of a CSR.
func parseRequest(csr *certificatesv1.CertificateSigningRequest) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil || block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, errors.New("spec.request holds no PEM certificate request")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	return req, req.CheckSignature()
}

// hasSANs reports whether the request asks for any subject alternative name.
func hasSANs(r *x509.CertificateRequest) bool {
	return len(r.DNSNames) > 0 || len(r.IPAddresses) > 0 || len(r.EmailAddresses) > 0 || len(r.URIs) > 0
}

// usagesWithin reports whether every usage is allowed and every required one is there.
func usagesWithin(usages []certificatesv1.KeyUsage, allowed []certificatesv1.KeyUsage, required ...certificatesv1.KeyUsage) bool {
	for _, u := range usages {
		if !slices.Contains(allowed, u) {
			return false
		}
	}
	for _, r := range required {
		if !slices.Contains(usages, r) {
			return false
		}
	}
	return true
}

var nodeClientUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth}

// checkNodeClient checks that a request is exactly a node client certificate:
// user system:node:<name> in group system:nodes, client usages, no other names.
func checkNodeClient(csr *certificatesv1.CertificateSigningRequest, r *x509.CertificateRequest) error {
	node, ok := strings.CutPrefix(r.Subject.CommonName, nodeUserPrefix)
	if !ok || node == "" {
		return fmt.Errorf("the subject's common name must be %s<node name>, not %q", nodeUserPrefix, r.Subject.CommonName)
	}
	if !slices.Equal(r.Subject.Organization, []string{nodesGroup}) {
		return fmt.Errorf("the subject's organization must be exactly [%s], not %v", nodesGroup, r.Subject.Organization)
	}
	if hasSANs(r) {
		return errors.New("a node client certificate names no hosts, addresses, emails or URIs")
	}
	if !usagesWithin(csr.Spec.Usages, nodeClientUsages, certificatesv1.UsageClientAuth) {
		return fmt.Errorf("usages must be client auth with digital signature or key encipherment, not %v", csr.Spec.Usages)
	}
	return nil
}

var clientUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth}

// checkClient checks a general client certificate request (kube-apiserver-client).
func checkClient(csr *certificatesv1.CertificateSigningRequest, r *x509.CertificateRequest) error {
	if !usagesWithin(csr.Spec.Usages, clientUsages, certificatesv1.UsageClientAuth) {
		return fmt.Errorf("usages must be client auth with digital signature or key encipherment, not %v", csr.Spec.Usages)
	}
	if r.Subject.CommonName == "" {
		return errors.New("the subject needs a common name (the user name)")
	}
	if hasSANs(r) {
		return errors.New("a client certificate names no hosts, addresses, emails or URIs")
	}
	return nil
}

var servingUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}

// checkNodeServing checks a node agent's serving certificate request.
func checkNodeServing(csr *certificatesv1.CertificateSigningRequest, r *x509.CertificateRequest) error {
	if node, ok := strings.CutPrefix(r.Subject.CommonName, nodeUserPrefix); !ok || node == "" {
		return fmt.Errorf("the subject's common name must be %s<node name>, not %q", nodeUserPrefix, r.Subject.CommonName)
	}
	if !slices.Equal(r.Subject.Organization, []string{nodesGroup}) {
		return fmt.Errorf("the subject's organization must be exactly [%s]", nodesGroup)
	}
	if len(r.EmailAddresses) > 0 || len(r.URIs) > 0 {
		return errors.New("a node serving certificate names only hosts and addresses")
	}
	if len(r.DNSNames) == 0 && len(r.IPAddresses) == 0 {
		return errors.New("a node serving certificate needs at least one host name or address")
	}
	if !usagesWithin(csr.Spec.Usages, servingUsages, certificatesv1.UsageServerAuth) {
		return fmt.Errorf("usages must be server auth with digital signature or key encipherment, not %v", csr.Spec.Usages)
	}
	return nil
}

// signerRules are the checks of the built-in signers this package issues for.
var signerRules = map[string]func(*certificatesv1.CertificateSigningRequest, *x509.CertificateRequest) error{
	certificatesv1.KubeAPIServerClientKubeletSignerName: checkNodeClient,
	certificatesv1.KubeAPIServerClientSignerName:        checkClient,
	certificatesv1.KubeletServingSignerName:             checkNodeServing,
}

// decided reports whether a request was approved or denied already.
func decided(csr *certificatesv1.CertificateSigningRequest) (approved, denied bool) {
	for _, c := range csr.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Status != "" {
			continue
		}
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		}
	}
	return approved, denied
}

func failed(csr *certificatesv1.CertificateSigningRequest) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == certificatesv1.CertificateFailed {
			return true
		}
	}
	return false
}

// approvalKind says which permission the requester needs for a node client
// request: "selfnodeclient" when a node renews its own certificate, otherwise
// "nodeclient" (a new node, through the join token). ok is false when the request
// is not one the approver handles.
func approvalKind(csr *certificatesv1.CertificateSigningRequest, r *x509.CertificateRequest) (kind string, ok bool) {
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName {
		return "", false
	}
	if checkNodeClient(csr, r) != nil {
		return "", false
	}
	if csr.Spec.Username == r.Subject.CommonName && slices.Contains(csr.Spec.Groups, nodesGroup) {
		return "selfnodeclient", true
	}
	return "nodeclient", true
}
