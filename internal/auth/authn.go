package auth

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"net/http"
	"strings"
	"sync"
	"time"
)

// TokenAuthenticator maps a bearer token to a user; ok is false when it does not
// know the token.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (u *User, ok bool, err error)
}

// Authenticator identifies the caller of a request from its verified client
// certificate or its bearer token.
type Authenticator struct {
	// Roots verify client certificates.
	Roots  *x509.CertPool
	tokMu  sync.RWMutex
	tokens []TokenAuthenticator

	// verified remembers leaf certificates that passed verification. A connection
	// presents the same certificate object with each request, so a certificate is
	// verified once per connection instead of once per request.
	verifiedMu sync.Mutex
	verified   map[*x509.Certificate]bool
}

// maxVerifiedCerts bounds the verified-certificate memo (it is emptied when full).
// It must hold one certificate per open connection, so one per node: at 4,096 a
// cluster of 5,000 nodes emptied it all the time and verified a signature on most
// requests (4 % of the server's CPU). The entries keep their certificates (about
// 1–2 KiB each) alive until it is emptied.
const maxVerifiedCerts = 16384

func (a *Authenticator) verifyClientCert(leaf *x509.Certificate, chain []*x509.Certificate) bool {
	now := time.Now()
	a.verifiedMu.Lock()
	known := a.verified[leaf]
	a.verifiedMu.Unlock()
	if known {
		return now.After(leaf.NotBefore) && now.Before(leaf.NotAfter)
	}
	inter := x509.NewCertPool()
	for _, c := range chain {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.Roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return false
	}
	a.verifiedMu.Lock()
	if a.verified == nil || len(a.verified) >= maxVerifiedCerts {
		a.verified = map[*x509.Certificate]bool{}
	}
	a.verified[leaf] = true
	a.verifiedMu.Unlock()
	return true
}

// AddTokenAuthenticator adds a source of bearer tokens.
func (a *Authenticator) AddTokenAuthenticator(t TokenAuthenticator) {
	a.tokMu.Lock()
	defer a.tokMu.Unlock()
	a.tokens = append(a.tokens, t)
}

// Authenticate returns the request's user, or nil if it presented no valid credential.
func (a *Authenticator) Authenticate(r *http.Request) (*User, error) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 && a.Roots != nil {
		leaf := r.TLS.PeerCertificates[0]
		if a.verifyClientCert(leaf, r.TLS.PeerCertificates[1:]) {
			return withAuthenticated(UserFromCert(leaf)), nil
		}
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "bearer") {
			token = strings.TrimSpace(token)
			a.tokMu.RLock()
			tokens := a.tokens
			a.tokMu.RUnlock()
			for _, t := range tokens {
				u, ok, err := t.AuthenticateToken(r.Context(), token)
				if err != nil {
					return nil, err
				}
				if ok {
					return withAuthenticated(u), nil
				}
			}
		}
	}
	return nil, nil
}

func withAuthenticated(u *User) *User {
	if !u.InGroup(GroupAuthenticated) {
		u.Groups = append(u.Groups, GroupAuthenticated)
	}
	return u
}

// StaticTokens authenticates a fixed set of tokens.
type StaticTokens struct {
	mu     sync.RWMutex
	tokens map[string]*User
}

// Set adds or replaces a token.
func (s *StaticTokens) Set(token string, u *User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens == nil {
		s.tokens = map[string]*User{}
	}
	s.tokens[token] = u
}

// AuthenticateToken implements TokenAuthenticator in constant time per token.
func (s *StaticTokens) AuthenticateToken(_ context.Context, token string) (*User, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for t, u := range s.tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			c := *u
			c.Groups = append([]string(nil), u.Groups...)
			return &c, true, nil
		}
	}
	return nil, false, nil
}
