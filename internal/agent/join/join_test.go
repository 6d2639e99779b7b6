package join

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodHash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseToken(t *testing.T) {
	cases := []struct {
		in      string
		wantErr string
	}{
		{"tug1::" + goodHash + "::s3cret\n", ""},
		{"  tug1::" + strings.ToUpper(goodHash) + "::x  ", ""},
		{"", "empty"},
		{"s3cret", "malformed"},
		{"tug2::" + goodHash + "::s", "malformed"},
		{"tug1::abc::s", "64 hex digits"},
		{"tug1::" + goodHash[:63] + "z::s", "64 hex digits"},
		{"tug1::" + goodHash + "::", "secret is empty"},
		{"tug1::" + goodHash + "::a::b", "malformed"},
	}
	for _, tc := range cases {
		tok, err := ParseToken(tc.in)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("ParseToken(%q): %v", tc.in, err)
				continue
			}
			if tok.CAHash != goodHash || tok.String() != "tug1::"+goodHash+"::"+tok.Secret {
				t.Errorf("ParseToken(%q) = %+v", tc.in, tok)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseToken(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestReadTokenFile(t *testing.T) {
	if _, err := ReadTokenFile(""); err == nil || !strings.Contains(err.Error(), "--token-file") {
		t.Fatalf("missing token file: %v", err)
	}
	if _, err := ReadTokenFile(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("missing file accepted")
	}
	p := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(p, []byte("garbage\n"), 0o600)
	if _, err := ReadTokenFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("bad token: %v", err)
	}
}

// testCA makes a self-signed CA and a leaf it signed.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour * 24), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca *testCA) issue(t *testing.T, cn string, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn, Organization: []string{NodesGroup}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

func TestCheckCA(t *testing.T) {
	ca := newTestCA(t)
	if _, err := CheckCA(ca.certPEM, CertHash(ca.cert)); err != nil {
		t.Fatalf("right hash refused: %v", err)
	}
	if _, err := CheckCA(ca.certPEM, strings.ToUpper(CertHash(ca.cert))); err != nil {
		t.Fatalf("upper-case hash refused: %v", err)
	}
	if _, err := CheckCA(ca.certPEM, goodHash); err == nil || !strings.Contains(err.Error(), "not the one the join token names") {
		t.Fatalf("wrong hash: %v", err)
	}
	if _, err := CheckCA([]byte("hello"), goodHash); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestFetchCA(t *testing.T) {
	ca := newTestCA(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cacerts" || r.Header.Get("Authorization") != "" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		w.Write(ca.certPEM)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := FetchCA(ctx, srv.URL, Token{CAHash: CertHash(ca.cert), Secret: "s"})
	if err != nil || string(got) != string(ca.certPEM) {
		t.Fatalf("FetchCA = %q, %v", got, err)
	}
	other := newTestCA(t)
	if _, err := FetchCA(ctx, srv.URL, Token{CAHash: CertHash(other.cert), Secret: "s"}); err == nil || !strings.Contains(err.Error(), "not the one the join token names") {
		t.Fatalf("FetchCA with another cluster's token: %v", err)
	}
}

func TestSaveLoad(t *testing.T) {
	ca := newTestCA(t)
	hash := CertHash(ca.cert)
	dir := t.TempDir()
	certPEM, keyPEM := ca.issue(t, "system:node:n1", time.Now().Add(48*time.Hour))
	c := &Credential{Server: "https://127.0.0.1:1", NodeName: "n1", CAPEM: ca.certPEM, CertPEM: certPEM, KeyPEM: keyPEM}
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{KubeconfigFile, keyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v mode %v, want 0600", f, err, st.Mode().Perm())
		}
	}
	got, err := Load(dir, c.Server, "n1", hash)
	if err != nil || got == nil || string(got.CertPEM) != string(certPEM) {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	if got.NotAfter.IsZero() {
		t.Fatal("NotAfter not set")
	}
	cases := []struct {
		name, server, node, hash string
	}{
		{"another server", "https://127.0.0.1:2", "n1", hash},
		{"another node", c.Server, "n2", hash},
		{"another CA", c.Server, "n1", goodHash},
	}
	for _, tc := range cases {
		if got, err := Load(dir, tc.server, tc.node, tc.hash); err == nil || got != nil {
			t.Errorf("%s: Load = %v, %v; want refusal", tc.name, got, err)
		}
	}
	if got, err := Load(t.TempDir(), c.Server, "n1", hash); got != nil || err != nil {
		t.Fatalf("empty dir: %v %v", got, err)
	}
	// An expired certificate is not reused.
	oldCert, oldKey := ca.issue(t, "system:node:n1", time.Now().Add(-time.Minute))
	expired := &Credential{Server: c.Server, NodeName: "n1", CAPEM: ca.certPEM, CertPEM: oldCert, KeyPEM: oldKey}
	if err := expired.Save(dir); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(dir, c.Server, "n1", hash); err == nil || got != nil {
		t.Fatalf("expired: %v %v", got, err)
	}
	// A still-valid certificate is reused without a token.
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	reused, err := Join(context.Background(), Config{Server: c.Server, NodeName: "n1", Dir: dir})
	if err != nil || string(reused.CertPEM) != string(certPEM) {
		t.Fatalf("Join without token over a saved credential: %v", err)
	}
	if _, err := Join(context.Background(), Config{Server: c.Server, NodeName: "n1", Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no join token") {
		t.Fatalf("Join without token or credential: %v", err)
	}
}

func TestCheckIssued(t *testing.T) {
	ca := newTestCA(t)
	certPEM, keyPEM := ca.issue(t, "system:node:n1", time.Now().Add(time.Hour))
	_, otherKey := ca.issue(t, "system:node:n1", time.Now().Add(time.Hour))
	foreign := newTestCA(t)
	cases := []struct {
		name string
		c    Credential
		node string
		ok   bool
	}{
		{"good", Credential{CAPEM: ca.certPEM, CertPEM: certPEM, KeyPEM: keyPEM}, "n1", true},
		{"other name", Credential{CAPEM: ca.certPEM, CertPEM: certPEM, KeyPEM: keyPEM}, "n2", false},
		{"other key", Credential{CAPEM: ca.certPEM, CertPEM: certPEM, KeyPEM: otherKey}, "n1", false},
		{"other CA", Credential{CAPEM: foreign.certPEM, CertPEM: certPEM, KeyPEM: keyPEM}, "n1", false},
	}
	for _, tc := range cases {
		if err := checkIssued(&tc.c, tc.node); (err == nil) != tc.ok {
			t.Errorf("%s: checkIssued = %v", tc.name, err)
		}
	}
}
