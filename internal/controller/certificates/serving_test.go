package certificates

import (
	"context"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestServingApproval: a node's serving certificate is approved when the node
// asks for its own name and the addresses its Node publishes, and issued for
// server use with those names.
func TestServingApproval(t *testing.T) {
	serving := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}
	nodes := []string{"system:nodes", "system:authenticated"}
	n1 := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}, {Type: corev1.NodeHostName, Address: "n1.local"}}}}
	fresh := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	own := reqSpec{cn: "system:node:n1", orgs: []string{"system:nodes"}, dns: []string{"n1", "n1.local"}, ips: []string{"10.0.0.5"}}
	never := func(authorizationv1.SubjectAccessReviewSpec) bool { return false }
	cases := []struct {
		name     string
		csr      *certificatesv1.CertificateSigningRequest
		node     *corev1.Node
		approved bool
		retry    bool
	}{
		{"own name and address", csrOf(t, "a", certificatesv1.KubeletServingSignerName, "system:node:n1", nodes, serving, own), n1, true, false},
		{"another node's address", csrOf(t, "b", certificatesv1.KubeletServingSignerName, "system:node:n1", nodes, serving,
			reqSpec{cn: "system:node:n1", orgs: []string{"system:nodes"}, dns: []string{"n1"}, ips: []string{"10.0.0.6"}}), n1, false, true},
		{"a name that is not the node's", csrOf(t, "c", certificatesv1.KubeletServingSignerName, "system:node:n1", nodes, serving,
			reqSpec{cn: "system:node:n1", orgs: []string{"system:nodes"}, dns: []string{"kubernetes.default"}}), n1, false, true},
		{"asked by another node", csrOf(t, "d", certificatesv1.KubeletServingSignerName, "system:node:n2", nodes, serving, own), n1, false, false},
		{"asked by a user", csrOf(t, "e", certificatesv1.KubeletServingSignerName, "system:node:n1", []string{"system:authenticated"}, serving, own), n1, false, false},
		{"node not registered yet", csrOf(t, "f", certificatesv1.KubeletServingSignerName, "system:node:n1", nodes, serving, own), nil, false, true},
		{"node without addresses yet", csrOf(t, "g", certificatesv1.KubeletServingSignerName, "system:node:n1", nodes, serving, own), fresh, false, true},
		{"client usage", csrOf(t, "h", certificatesv1.KubeletServingSignerName, "system:node:n1", nodes, dsCA, own), n1, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := []runtime.Object{tc.csr}
			if tc.node != nil {
				objs = append(objs, tc.node)
			}
			h := newHarness(t, never, objs...)
			err := h.approver.reconcile(context.Background(), tc.csr.Name)
			if (err != nil) != tc.retry {
				t.Fatalf("reconcile error %v, want a retry: %v", err, tc.retry)
			}
			if tc.retry {
				return
			}
			out := h.step(t, tc.csr.Name)
			if got := condition(out, certificatesv1.CertificateApproved) != nil; got != tc.approved {
				t.Fatalf("approved = %v, want %v (conditions %+v)", got, tc.approved, out.Status.Conditions)
			}
			if !tc.approved {
				return
			}
			if len(h.signed) != 1 {
				t.Fatalf("signed %d certificates", len(h.signed))
			}
			r := h.signed[0]
			if !r.Server || r.Client || r.CommonName != "system:node:n1" || len(r.Hosts) != 3 {
				t.Errorf("issued %+v", r)
			}
		})
	}
}
