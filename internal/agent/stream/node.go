package stream

import (
	"context"
	"crypto/tls"
	"net"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Node is what a real node gives its streaming server.
type Node struct {
	Name string
	IP   net.IP
	// Client speaks as the node (pods, certificate requests).
	Client kubernetes.Interface
	// CAPEM is the cluster CA.
	CAPEM   []byte
	Runtime Runtime
	// Dial connects inside the node's network namespace.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// CertDir keeps the serving certificate.
	CertDir string
}

// Start adds the streaming endpoints to the node's server and keeps the node's
// serving certificate until ctx ends. It returns the GetCertificate of the
// node's TLS configuration.
func Start(ctx context.Context, mux Mux, n Node) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s := New(Config{
		NodeName: n.Name,
		Runtime:  n.Runtime,
		Dial:     n.Dial,
		Pod: func(ctx context.Context, ns, name string) (*corev1.Pod, error) {
			return n.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		},
	})
	s.Register(mux)
	var ips []net.IP
	if n.IP != nil {
		ips = []net.IP{n.IP}
	}
	cert := &ServingCert{Client: n.Client, NodeName: n.Name, IPs: ips, Dir: n.CertDir, CAPEM: n.CAPEM}
	go cert.Run(ctx)
	return cert.GetCertificate
}
