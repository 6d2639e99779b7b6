// Package join gives a node its own identity on the cluster. The join token is
// used once: it tells the agent which certificate authority to trust (by hash)
// and lets it ask, through the certificates API, for a client certificate that
// names the node. From then on the node speaks only as system:node:NAME.
package join

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// tokenPrefix names the token format: tug1::<sha256 of the CA certificate, hex>::<secret>.
const tokenPrefix = "tug1"

// Token is a parsed join token.
type Token struct {
	// CAHash is the hex SHA-256 of the cluster CA certificate (DER).
	CAHash string
	// Secret proves the holder may join.
	Secret string
}

// String is the token as the server knows it (the bearer credential).
func (t Token) String() string { return tokenPrefix + "::" + t.CAHash + "::" + t.Secret }

// ParseToken reads a token as `tug server` writes it into DATA/node-token.
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Token{}, errors.New("the join token is empty")
	}
	parts := strings.Split(s, "::")
	if len(parts) != 3 || parts[0] != tokenPrefix {
		return Token{}, errors.New("the join token is malformed: expected tug1::<ca-hash>::<secret> (copy DATA/node-token from the server)")
	}
	hash, secret := strings.ToLower(parts[1]), parts[2]
	if b, err := hex.DecodeString(hash); err != nil || len(b) != sha256.Size {
		return Token{}, errors.New("the join token is malformed: its CA hash must be 64 hex digits")
	}
	if secret == "" {
		return Token{}, errors.New("the join token is malformed: its secret is empty")
	}
	return Token{CAHash: hash, Secret: secret}, nil
}

// ReadTokenFile reads and parses a token file.
func ReadTokenFile(path string) (Token, error) {
	if path == "" {
		return Token{}, errors.New("no join token: pass --token-file (the server writes it to DATA/node-token)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Token{}, fmt.Errorf("read the join token: %w", err)
	}
	t, err := ParseToken(string(b))
	if err != nil {
		return Token{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// CertHash is the hex SHA-256 of a certificate's DER bytes.
func CertHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// CheckCA parses a PEM bundle and returns it when its first certificate is the one
// the hash names; anything else is refused.
func CheckCA(caPEM []byte, wantHash string) (*x509.Certificate, error) {
	block, _ := pem.Decode(caPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("the server's /cacerts answer holds no PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the server's CA certificate does not parse: %w", err)
	}
	if got := CertHash(c); got != strings.ToLower(wantHash) {
		return nil, fmt.Errorf("the server's CA (sha256 %s) is not the one the join token names (sha256 %s): the token belongs to another cluster, or something between here and the server is answering in its place", got, wantHash)
	}
	return c, nil
}

// FetchCA downloads the cluster CA from server/cacerts and checks it against the
// token's hash. The download itself is not verified (the agent does not know the
// CA yet); the hash check is what makes the answer trustworthy.
func FetchCA(ctx context.Context, server string, t Token) ([]byte, error) {
	client := &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			// Only for this one request: its answer is checked by hash below.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
			Proxy:           nil,
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+"/cacerts", nil)
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", server, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the cluster CA from %s: %w", server, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetch the cluster CA from %s: %w", server, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the cluster CA from %s: %s", server, resp.Status)
	}
	if _, err := CheckCA(body, t.CAHash); err != nil {
		return nil, err
	}
	return body, nil
}
