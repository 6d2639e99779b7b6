package join

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Names of the node identity.
const (
	NodeUserPrefix = "system:node:"
	NodesGroup     = "system:nodes"
	// NodeClientSigner signs node client certificates.
	NodeClientSigner = certificatesv1.KubeAPIServerClientKubeletSignerName
)

// Files under a node's directory.
const (
	KubeconfigFile = "kubeconfig"
	caFile         = "pki/ca.crt"
	certFile       = "pki/client.crt"
	keyFile        = "pki/client.key"
)

// Config says how to join one node.
type Config struct {
	// Server is the API server URL.
	Server string
	// Token is the join token (used only when the node has no valid credential).
	Token Token
	// CAPEM is the cluster CA, already checked against Token (FetchCA); nil fetches it.
	CAPEM []byte
	// NodeName is the node's name.
	NodeName string
	// Dir holds the node's credential: DIR/kubeconfig and DIR/pki/.
	Dir string
	// Timeout bounds the wait for the certificate (default 2 minutes).
	Timeout time.Duration
	// RenewBefore renews a reused certificate that ends sooner than this (default 30 days).
	RenewBefore time.Duration
	// Tune adjusts the rest.Config of every client built here (content type, rates).
	Tune func(*rest.Config)
}

// Credential is a node's identity: the client certificate and key, and the CA.
type Credential struct {
	Server   string
	NodeName string
	CAPEM    []byte
	CertPEM  []byte
	KeyPEM   []byte
	NotAfter time.Time
}

// RESTConfig builds a client configuration that speaks as the node.
func (c *Credential) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            c.Server,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAPEM, CertData: c.CertPEM, KeyData: c.KeyPEM},
		UserAgent:       "tug-agent/" + c.NodeName,
	}
}

// Join returns the node's credential, joining the cluster if the node has none
// (or a stale one) under cfg.Dir.
func Join(ctx context.Context, cfg Config) (*Credential, error) {
	if cfg.NodeName == "" {
		return nil, errors.New("a node name is required")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.RenewBefore == 0 {
		cfg.RenewBefore = 30 * 24 * time.Hour
	}
	existing, err := Load(cfg.Dir, cfg.Server, cfg.NodeName, cfg.Token.CAHash)
	if err != nil {
		slog.Info("node credential not reusable; joining", "node", cfg.NodeName, "reason", err)
	}
	if existing != nil && time.Until(existing.NotAfter) > cfg.RenewBefore {
		return existing, nil
	}
	if cfg.Token.Secret == "" {
		if existing != nil {
			return existing, nil
		}
		return nil, errors.New("no join token: pass --token-file (the server writes it to DATA/node-token)")
	}
	caPEM := cfg.CAPEM
	if caPEM == nil {
		if caPEM, err = FetchCA(ctx, cfg.Server, cfg.Token); err != nil {
			return nil, err
		}
	} else if _, err := CheckCA(caPEM, cfg.Token.CAHash); err != nil {
		return nil, err
	}
	// A certificate near its end is renewed by the node itself; only a node without
	// one uses the join token.
	var rc *rest.Config
	if existing != nil {
		rc = existing.RESTConfig()
	} else {
		rc = &rest.Config{Host: cfg.Server, TLSClientConfig: rest.TLSClientConfig{CAData: caPEM}, BearerToken: cfg.Token.String(), UserAgent: "tug-agent/join"}
	}
	if cfg.Tune != nil {
		cfg.Tune(rc)
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	cred, err := requestCertificate(ctx, client, cfg.NodeName, cfg.Timeout)
	if err != nil {
		if existing != nil && time.Now().Before(existing.NotAfter) {
			slog.Warn("certificate renewal failed; using the current one", "node", cfg.NodeName, "err", err)
			return existing, nil
		}
		return nil, err
	}
	cred.Server, cred.CAPEM = cfg.Server, caPEM
	if err := checkIssued(cred, cfg.NodeName); err != nil {
		return nil, err
	}
	if err := cred.Save(cfg.Dir); err != nil {
		return nil, err
	}
	return cred, nil
}

// requestCertificate creates a CSR for the node and waits until it is signed.
func requestCertificate(ctx context.Context, client kubernetes.Interface, node string, timeout time.Duration) (*Credential, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: NodeUserPrefix + node, Organization: []string{NodesGroup}},
	}, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "node-csr-" + node + "-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: NodeClientSigner,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	created, err := client.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{})
	if err != nil {
		return nil, explainJoinError(err)
	}
	certPEM, err := waitForCertificate(ctx, client, created)
	if err != nil {
		return nil, err
	}
	return &Credential{
		NodeName: node,
		CertPEM:  certPEM,
		KeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// explainJoinError turns the server's refusal into advice.
func explainJoinError(err error) error {
	switch {
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the server does not accept the join token (%v): check --token-file against DATA/node-token on the server", err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("the join token may not request node certificates: %w", err)
	}
	return fmt.Errorf("request a node certificate: %w", err)
}

// waitForCertificate watches one CSR until it carries a certificate, or is denied
// or failed.
func waitForCertificate(ctx context.Context, client kubernetes.Interface, csr *certificatesv1.CertificateSigningRequest) ([]byte, error) {
	name := csr.Name
	check := func(c *certificatesv1.CertificateSigningRequest) ([]byte, error) {
		for _, cond := range c.Status.Conditions {
			if cond.Type == certificatesv1.CertificateDenied || cond.Type == certificatesv1.CertificateFailed {
				return nil, fmt.Errorf("certificate request %s was %s: %s %s", name, cond.Type, cond.Reason, cond.Message)
			}
		}
		if len(c.Status.Certificate) > 0 {
			return c.Status.Certificate, nil
		}
		return nil, nil
	}
	rv := csr.ResourceVersion
	for {
		w, err := client.CertificatesV1().CertificateSigningRequests().Watch(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: rv,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, timeoutError(name)
			}
			// Fall back to a fresh read, then watch again.
			time.Sleep(500 * time.Millisecond)
			c, gerr := client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
			if gerr != nil {
				continue
			}
			if cert, cerr := check(c); cert != nil || cerr != nil {
				return cert, cerr
			}
			rv = c.ResourceVersion
			continue
		}
		cert, err := func() ([]byte, error) {
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil, timeoutError(name)
				case ev, ok := <-w.ResultChan():
					if !ok {
						return nil, nil
					}
					switch ev.Type {
					case watch.Deleted:
						return nil, fmt.Errorf("certificate request %s was deleted before it was signed", name)
					case watch.Error:
						rv = ""
						return nil, nil
					}
					c, ok := ev.Object.(*certificatesv1.CertificateSigningRequest)
					if !ok {
						continue
					}
					rv = c.ResourceVersion
					if cert, err := check(c); cert != nil || err != nil {
						return cert, err
					}
				}
			}
		}()
		if cert != nil || err != nil {
			return cert, err
		}
		if ctx.Err() != nil {
			return nil, timeoutError(name)
		}
		if rv == "" {
			c, gerr := client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
			if gerr == nil {
				if cert, cerr := check(c); cert != nil || cerr != nil {
					return cert, cerr
				}
				rv = c.ResourceVersion
			}
		}
	}
}

func timeoutError(name string) error {
	return fmt.Errorf("certificate request %s was not approved and signed in time: is the server's CSR approver running? (kubectl get csr %s)", name, name)
}

// checkIssued makes sure the server certified our key under the node's name.
func checkIssued(c *Credential, node string) error {
	leaf, err := parseCert(c.CertPEM)
	if err != nil {
		return fmt.Errorf("the issued certificate: %w", err)
	}
	key, err := parseKey(c.KeyPEM)
	if err != nil {
		return err
	}
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return errors.New("the issued certificate is not for this node's key")
	}
	if leaf.Subject.CommonName != NodeUserPrefix+node {
		return fmt.Errorf("the issued certificate names %q, not %q", leaf.Subject.CommonName, NodeUserPrefix+node)
	}
	ca, err := parseCert(c.CAPEM)
	if err != nil {
		return err
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("the issued certificate is not signed by the cluster CA: %w", err)
	}
	c.NotAfter = leaf.NotAfter
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := a.(equaler); ok {
		return e.Equal(b)
	}
	return reflect.DeepEqual(a, b)
}

func parseCert(p []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(p)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseKey(p []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(p)
	if block == nil {
		return nil, errors.New("no PEM private key")
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("private key cannot sign")
	}
	return s, nil
}

// Save writes the credential under dir: pki/ca.crt, pki/client.crt, pki/client.key
// (0600) and a kubeconfig (0600) that points at them.
func (c *Credential) Save(dir string) error {
	if dir == "" {
		return nil
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{caFile, c.CAPEM, 0o644}, {keyFile, c.KeyPEM, 0o600}, {certFile, c.CertPEM, 0o644},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.path), f.data, f.mode); err != nil {
			return fmt.Errorf("save the node credential: %w", err)
		}
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["tug"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthority: filepath.Join(dir, caFile)}
	kc.AuthInfos[c.NodeName] = &clientcmdapi.AuthInfo{ClientCertificate: filepath.Join(dir, certFile), ClientKey: filepath.Join(dir, keyFile)}
	kc.Contexts["tug"] = &clientcmdapi.Context{Cluster: "tug", AuthInfo: c.NodeName}
	kc.CurrentContext = "tug"
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, KubeconfigFile), data, 0o600)
}

// Load reads a saved credential and checks that it still fits: the same server,
// the node's name, signed by the CA the token names, not expired.
func Load(dir, server, node, caHash string) (*Credential, error) {
	if dir == "" {
		return nil, nil
	}
	kcPath := filepath.Join(dir, KubeconfigFile)
	kc, err := clientcmd.LoadFromFile(kcPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if cl := kc.Clusters["tug"]; cl == nil || cl.Server != server {
		return nil, errors.New("saved for another server URL")
	}
	read := func(p string) []byte {
		if err != nil {
			return nil
		}
		var b []byte
		b, err = os.ReadFile(filepath.Join(dir, p))
		return b
	}
	c := &Credential{Server: server, NodeName: node, CAPEM: read(caFile), CertPEM: read(certFile), KeyPEM: read(keyFile)}
	if err != nil {
		return nil, err
	}
	if caHash != "" {
		if _, err := CheckCA(c.CAPEM, caHash); err != nil {
			return nil, errors.New("saved for another cluster CA")
		}
	}
	if err := checkIssued(c, node); err != nil {
		return nil, err
	}
	if !time.Now().Before(c.NotAfter) {
		return nil, errors.New("the certificate has expired")
	}
	return c, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
