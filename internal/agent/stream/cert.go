package stream

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ServingCert is the node's serving certificate, signed by the cluster CA
// through a CertificateSigningRequest to the kubernetes.io/kubelet-serving
// signer, so that the API server can check whom it talks to. It is kept under
// Dir and renewed before it ends. Until one is issued, the node serves with a
// self-signed certificate, which the API server refuses.
type ServingCert struct {
	Client   kubernetes.Interface
	NodeName string
	IPs      []net.IP
	// Dir holds serving.crt and serving.key.
	Dir string
	// CAPEM is the cluster CA; a saved certificate it did not sign is replaced.
	CAPEM []byte

	cur      atomic.Pointer[tls.Certificate]
	fallback atomic.Pointer[tls.Certificate]
}

func (c *ServingCert) certPath() string { return filepath.Join(c.Dir, "serving.crt") }
func (c *ServingCert) keyPath() string  { return filepath.Join(c.Dir, "serving.key") }

// GetCertificate is the server's tls.Config.GetCertificate.
func (c *ServingCert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := c.cur.Load(); cert != nil {
		return cert, nil
	}
	if cert := c.fallback.Load(); cert != nil {
		return cert, nil
	}
	cert, err := selfSigned(c.NodeName, c.IPs)
	if err != nil {
		return nil, err
	}
	c.fallback.Store(&cert)
	return &cert, nil
}

// Ready reports whether a CA-signed certificate is in use.
func (c *ServingCert) Ready() bool { return c.cur.Load() != nil }

// Run loads the saved certificate or asks for one, and asks again when two
// thirds of its life have passed, until ctx ends.
func (c *ServingCert) Run(ctx context.Context) {
	if cert, leaf, err := c.load(); err == nil {
		c.cur.Store(cert)
		slog.Info("node serving certificate loaded", "node", c.NodeName, "expires", leaf.NotAfter.Format(time.RFC3339))
		if !c.wait(ctx, renewAt(leaf)) {
			return
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		slog.Info("node serving certificate replaced", "node", c.NodeName, "reason", err)
	}
	backoff := time.Second
	for ctx.Err() == nil {
		leaf, err := c.request(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			slog.Warn("node serving certificate", "node", c.NodeName, "err", err, "retry-in", backoff)
			if !c.wait(ctx, time.Now().Add(backoff)) {
				return
			}
			backoff = min(2*backoff, 5*time.Minute)
			continue
		}
		backoff = time.Second
		slog.Info("node serving certificate issued", "node", c.NodeName, "expires", leaf.NotAfter.Format(time.RFC3339))
		if !c.wait(ctx, renewAt(leaf)) {
			return
		}
	}
}

func (c *ServingCert) wait(ctx context.Context, until time.Time) bool {
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func renewAt(leaf *x509.Certificate) time.Time {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotBefore.Add(life * 2 / 3)
}

// load reads the saved certificate and checks it still fits: signed by the
// cluster CA, for this node's name and addresses, not near its end.
func (c *ServingCert) load() (*tls.Certificate, *x509.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.certPath(), c.keyPath())
	if err != nil {
		return nil, nil, err
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	if err := c.fits(leaf); err != nil {
		return nil, nil, err
	}
	if time.Now().After(renewAt(leaf)) {
		return nil, nil, fmt.Errorf("it ends on %s", leaf.NotAfter.Format(time.RFC3339))
	}
	cert.Leaf = leaf
	return &cert, leaf, nil
}

func (c *ServingCert) fits(leaf *x509.Certificate) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.CAPEM) {
		return errors.New("no cluster CA to check it against")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("not signed by the cluster CA: %w", err)
	}
	if err := leaf.VerifyHostname(c.NodeName); err != nil {
		return err
	}
	for _, ip := range c.IPs {
		if err := leaf.VerifyHostname(ip.String()); err != nil {
			return err
		}
	}
	return nil
}

// request asks the cluster for a certificate, waits until it is issued, and
// saves it.
func (c *ServingCert) request(ctx context.Context) (*x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: "system:node:" + c.NodeName, Organization: []string{"system:nodes"}},
		DNSNames:    []string{c.NodeName},
		IPAddresses: c.IPs,
	}, key)
	if err != nil {
		return nil, err
	}
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "csr-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeletServingSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth},
		},
	}
	created, err := c.Client.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create certificate signing request: %w", err)
	}
	certPEM, err := c.waitIssued(ctx, created.Name)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("issued certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, err
	}
	if err := c.fits(leaf); err != nil {
		return nil, fmt.Errorf("issued certificate: %w", err)
	}
	cert.Leaf = leaf
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := writeFile(c.keyPath(), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(c.certPath(), certPEM, 0o644); err != nil {
		return nil, err
	}
	c.cur.Store(&cert)
	return leaf, nil
}

// waitIssued polls the request until the signer answers or it is refused.
func (c *ServingCert) waitIssued(ctx context.Context, name string) ([]byte, error) {
	deadline := time.Now().Add(10 * time.Minute)
	delay := 100 * time.Millisecond
	for time.Now().Before(deadline) {
		csr, err := c.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("certificate signing request %s was deleted", name)
		}
		if err == nil {
			if len(csr.Status.Certificate) > 0 {
				return csr.Status.Certificate, nil
			}
			for _, cond := range csr.Status.Conditions {
				if (cond.Type == certificatesv1.CertificateDenied || cond.Type == certificatesv1.CertificateFailed) && cond.Status != corev1.ConditionFalse {
					return nil, fmt.Errorf("certificate signing request %s %s: %s", name, cond.Type, cond.Message)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
	return nil, fmt.Errorf("certificate signing request %s was not answered in 10 minutes", name)
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// selfSigned is the stand-in certificate served until the signed one comes.
func selfSigned(name string, ips []net.IP) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{name},
		IPAddresses:  slices.Clone(ips),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
