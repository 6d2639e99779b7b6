package certificates

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// servingApproval decides a node agent's request for its serving certificate
// (signer kubernetes.io/kubelet-serving). The requester must be the node the
// request names, and every name and address in it must be the node's own: its
// name, or an address its Node publishes. A request for a Node that is not
// registered yet, or does not publish those addresses (yet), is retried (an
// error requeues it, with growing delays). ok false leaves the request to a
// person.
func (a *Approver) servingApproval(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) (msg string, ok bool, err error) {
	if err := checkNodeServing(csr, req); err != nil {
		return "", false, nil // the signer reports malformed requests
	}
	if csr.Spec.Username != req.Subject.CommonName || !slices.Contains(csr.Spec.Groups, nodesGroup) {
		slog.Info("serving certificate request left pending: not asked by the node it names", "csr", csr.Name, "user", csr.Spec.Username, "subject", req.Subject.CommonName)
		return "", false, nil
	}
	name := strings.TrimPrefix(req.Subject.CommonName, nodeUserPrefix)
	node, err := a.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", false, fmt.Errorf("serving certificate request %s: node %s is not registered yet", csr.Name, name)
	}
	if err != nil {
		return "", false, err
	}
	if len(node.Status.Addresses) == 0 {
		// Registered a moment ago; its status comes with the next write.
		return "", false, fmt.Errorf("serving certificate request %s: node %s publishes no addresses yet", csr.Name, name)
	}
	if err := ownNames(node, req); err != nil {
		// Retried: a node that restarts on a new address asks before its Node
		// shows the address.
		return "", false, fmt.Errorf("serving certificate request %s not approved yet: %w", csr.Name, err)
	}
	return fmt.Sprintf("node serving certificate approved: %s asks for its own name and addresses", csr.Spec.Username), true, nil
}

// ownNames checks that a serving request names only the node and the
// addresses its Node publishes.
func ownNames(node *corev1.Node, req *x509.CertificateRequest) error {
	names := map[string]bool{node.Name: true}
	var ips []net.IP
	for _, a := range node.Status.Addresses {
		switch a.Type {
		case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
			names[a.Address] = true
		case corev1.NodeInternalIP, corev1.NodeExternalIP:
			if ip := net.ParseIP(a.Address); ip != nil {
				ips = append(ips, ip)
			}
		}
	}
	for _, d := range req.DNSNames {
		if !names[d] {
			return fmt.Errorf("host name %q is not one of node %s's", d, node.Name)
		}
	}
	for _, ip := range req.IPAddresses {
		if !slices.ContainsFunc(ips, ip.Equal) {
			return fmt.Errorf("address %s is not one node %s publishes", ip, node.Name)
		}
	}
	return nil
}
